package tenant

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/internal/kvjson"
)

// Errors of the store.
var (
	ErrNotFound = errors.New("tenant not found")
	ErrExists   = errors.New("tenant exists")
	ErrConflict = errors.New("tenant changed concurrently")
)

// Store keeps tenants in a key-value bucket keyed by id.
type Store struct {
	b kvjson.Bucket[Tenant]
}

// NewStore returns a Store over kv.
func NewStore(kv jetstream.KeyValue) *Store {
	return &Store{b: kvjson.Bucket[Tenant]{KV: kv, Kind: "tenant"}}
}

func domainErr(id string, err error) error {
	switch {
	case errors.Is(err, kvjson.ErrNotFound):
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	case errors.Is(err, kvjson.ErrExists):
		return fmt.Errorf("%w: %s", ErrExists, id)
	case errors.Is(err, kvjson.ErrConflict):
		return fmt.Errorf("%w: %s", ErrConflict, id)
	}
	return err
}

// Create stores a new tenant, or fails with ErrExists.
func (s *Store) Create(ctx context.Context, t *Tenant) error {
	now := time.Now().UTC()
	t.CreatedAt, t.UpdatedAt = now, now
	return domainErr(t.ID, s.b.Put(ctx, t.ID, t, 0))
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
	t, rev, err := s.b.Get(ctx, id)
	if errors.Is(err, kvjson.ErrNotFound) && id == Default {
		return &Tenant{ID: Default, Name: "Default tenant"}, 0, nil
	}
	return t, rev, domainErr(id, err)
}

// Update applies change and stores the result, failing with ErrConflict
// on a concurrent change. The implicit default tenant is stored on its
// first change.
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
	err = s.b.Put(ctx, id, t, rev)
	if errors.Is(err, kvjson.ErrExists) {
		err = kvjson.ErrConflict // the default tenant was stored meanwhile
	}
	if err != nil {
		return nil, domainErr(id, err)
	}
	return t, nil
}

// Delete removes the tenant record.
func (s *Store) Delete(ctx context.Context, id string) error {
	if _, _, err := s.get(ctx, id); err != nil {
		return err
	}
	err := s.b.Delete(ctx, id)
	if errors.Is(err, kvjson.ErrNotFound) {
		return nil // the implicit default tenant
	}
	return domainErr(id, err)
}

// List returns every tenant, the default one included, ordered by id.
func (s *Store) List(ctx context.Context) ([]*Tenant, error) {
	ids, err := s.b.Keys(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	out := make([]*Tenant, 0, len(ids)+1)
	for _, id := range append([]string{Default}, ids...) {
		if seen[id] {
			continue
		}
		seen[id] = true
		t, err := s.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	sortByID(out)
	return out, nil
}
