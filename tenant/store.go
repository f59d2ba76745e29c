package tenant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Errors of the store.
var (
	ErrNotFound = errors.New("tenant not found")
	ErrExists   = errors.New("tenant exists")
	ErrConflict = errors.New("tenant changed concurrently")
)

// Store keeps tenants in a key-value bucket keyed by id.
type Store struct {
	kv jetstream.KeyValue
}

// NewStore returns a Store over kv.
func NewStore(kv jetstream.KeyValue) *Store { return &Store{kv: kv} }

// Create stores a new tenant, or fails with ErrExists.
func (s *Store) Create(ctx context.Context, t *Tenant) error {
	now := time.Now().UTC()
	t.CreatedAt, t.UpdatedAt = now, now
	b, _ := json.Marshal(t)
	if _, err := s.kv.Create(ctx, t.ID, b); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("%w: %s", ErrExists, t.ID)
		}
		return fmt.Errorf("tenant %s: create: %w", t.ID, err)
	}
	return nil
}

// Get returns the tenant with id. The default tenant exists even when it
// was never stored.
func (s *Store) Get(ctx context.Context, id string) (*Tenant, error) {
	t, _, err := s.get(ctx, id)
	return t, err
}

func (s *Store) get(ctx context.Context, id string) (*Tenant, uint64, error) {
	if ValidateID(id) != nil {
		return nil, 0, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	entry, err := s.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		if id == Default {
			return &Tenant{ID: Default, Name: "Default tenant"}, 0, nil
		}
		return nil, 0, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("tenant %s: get: %w", id, err)
	}
	var t Tenant
	if err := json.Unmarshal(entry.Value(), &t); err != nil {
		return nil, 0, fmt.Errorf("tenant %s: decode: %w", id, err)
	}
	return &t, entry.Revision(), nil
}

// Update applies change and stores the result, failing with ErrConflict
// on a concurrent change.
func (s *Store) Update(ctx context.Context, id string, change func(*Tenant) error) (*Tenant, error) {
	t, rev, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := change(t); err != nil {
		return nil, err
	}
	t.ID, t.UpdatedAt = id, time.Now().UTC()
	if t.CreatedAt.IsZero() {
		t.CreatedAt = t.UpdatedAt
	}
	b, _ := json.Marshal(t)
	if rev == 0 {
		_, err = s.kv.Create(ctx, id, b) // the implicit default tenant, stored on first change
	} else {
		_, err = s.kv.Update(ctx, id, b, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return nil, fmt.Errorf("%w: %s", ErrConflict, id)
	}
	if err != nil {
		return nil, fmt.Errorf("tenant %s: update: %w", id, err)
	}
	return t, nil
}

// Delete removes the tenant record.
func (s *Store) Delete(ctx context.Context, id string) error {
	if _, _, err := s.get(ctx, id); err != nil {
		return err
	}
	if err := s.kv.Delete(ctx, id); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("tenant %s: delete: %w", id, err)
	}
	return nil
}

// List returns every tenant, the default one included, ordered by id.
func (s *Store) List(ctx context.Context) ([]*Tenant, error) {
	lister, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("tenants: list: %w", err)
	}
	ids := map[string]bool{Default: true}
	for k := range lister.Keys() {
		ids[k] = true
	}
	out := make([]*Tenant, 0, len(ids))
	for id := range ids {
		t, err := s.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
