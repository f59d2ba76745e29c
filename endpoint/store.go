package endpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrNotFound reports an endpoint id that does not exist.
var ErrNotFound = errors.New("endpoint not found")

// ErrConflict reports a concurrent change: the endpoint changed between read
// and write.
var ErrConflict = errors.New("endpoint changed concurrently")

// Store keeps endpoints in a JetStream key-value bucket, keyed by id.
type Store struct {
	kv  jetstream.KeyValue
	now func() time.Time
}

// NewStore returns a Store over kv.
func NewStore(kv jetstream.KeyValue) *Store {
	return &Store{kv: kv, now: time.Now}
}

// Create stores a new endpoint. ID, timestamps and, when empty, Secret are
// assigned. The endpoint must be valid (see Validate).
func (s *Store) Create(ctx context.Context, e *Endpoint) error {
	now := s.now().UTC()
	e.CreatedAt, e.UpdatedAt = now, now
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if _, err := s.kv.Create(ctx, e.ID, b); err != nil {
		return fmt.Errorf("endpoint %s: create: %w", e.ID, err)
	}
	return nil
}

// Get returns the endpoint with id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (*Endpoint, error) {
	e, _, err := s.get(ctx, id)
	return e, err
}

func (s *Store) get(ctx context.Context, id string) (*Endpoint, uint64, error) {
	entry, err := s.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return nil, 0, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("endpoint %s: get: %w", id, err)
	}
	var e Endpoint
	if err := json.Unmarshal(entry.Value(), &e); err != nil {
		return nil, 0, fmt.Errorf("endpoint %s: decode: %w", id, err)
	}
	return &e, entry.Revision(), nil
}

// Update applies change to the stored endpoint and stores the result if
// change returns nil; the write fails with ErrConflict if the endpoint
// changed meanwhile, so no update is lost.
func (s *Store) Update(ctx context.Context, id string, change func(*Endpoint) error) (*Endpoint, error) {
	e, rev, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := change(e); err != nil {
		return nil, err
	}
	e.ID = id
	e.UpdatedAt = s.now().UTC()
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	if _, err := s.kv.Update(ctx, id, b, rev); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return nil, fmt.Errorf("%w: %s", ErrConflict, id)
		}
		return nil, fmt.Errorf("endpoint %s: update: %w", id, err)
	}
	return e, nil
}

// Delete removes the endpoint with id, or returns ErrNotFound.
func (s *Store) Delete(ctx context.Context, id string) error {
	if _, _, err := s.get(ctx, id); err != nil {
		return err
	}
	if err := s.kv.Delete(ctx, id); err != nil {
		return fmt.Errorf("endpoint %s: delete: %w", id, err)
	}
	return nil
}

// List returns every endpoint, ordered by id (which orders by creation).
func (s *Store) List(ctx context.Context) ([]*Endpoint, error) {
	lister, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("endpoints: list: %w", err)
	}
	var ids []string
	for k := range lister.Keys() {
		ids = append(ids, k)
	}
	sort.Strings(ids)
	out := make([]*Endpoint, 0, len(ids))
	for _, id := range ids {
		e, err := s.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // deleted while listing
		}
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}
