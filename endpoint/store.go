package endpoint

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/internal/kvjson"
)

// ErrNotFound reports an endpoint id that does not exist.
var ErrNotFound = errors.New("endpoint not found")

// ErrConflict reports a concurrent change: the endpoint changed between read
// and write.
var ErrConflict = errors.New("endpoint changed concurrently")

// Store keeps endpoints in a JetStream key-value bucket, keyed by id.
type Store struct {
	b      kvjson.Bucket[Endpoint]
	now    func() time.Time
	sealer Sealer
}

// NewStore returns a Store over kv.
func NewStore(kv jetstream.KeyValue, opts ...Option) *Store {
	return &Store{b: kvjson.Bucket[Endpoint]{KV: kv, Kind: "endpoint"}, now: time.Now, sealer: apply(opts).sealer}
}

// get reads an endpoint and opens its secrets.
func (s *Store) get(ctx context.Context, id string) (*Endpoint, uint64, error) {
	e, rev, err := s.b.Get(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	if err := e.open(s.sealer); err != nil {
		return nil, 0, err
	}
	return e, rev, nil
}

// domainErr maps the bucket's errors to this package's.
func domainErr(id string, err error) error {
	switch {
	case errors.Is(err, kvjson.ErrNotFound):
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	case errors.Is(err, kvjson.ErrConflict):
		return fmt.Errorf("%w: %s", ErrConflict, id)
	}
	return err
}

// Sealer returns what seals and opens the endpoints' secrets, as the
// Registry's Sealer does.
func (s *Store) Sealer() Sealer { return orPlain(s.sealer) }

// Create stores a new endpoint; timestamps are assigned. The endpoint must
// be valid (see Validate). It is stored with RoutedFromSeq
// RoutedFromPending: routers know it but route nothing to it until
// RouteFrom, given the returned revision, says where its events begin.
// The creator reads that position (the events stream's last sequence)
// after Create returns, so that every event stored after the position was
// stored after routers could see the endpoint.
func (s *Store) Create(ctx context.Context, e *Endpoint) (rev uint64, err error) {
	now := s.now().UTC()
	e.CreatedAt, e.UpdatedAt = now, now
	e.RoutedFromSeq = RoutedFromPending
	return s.b.PutRevision(ctx, e.ID, e.sealedCopy(s.sealer), 0)
}

// RouteFrom completes the creation of e, stored by Create at revision rev:
// routers route to it the events from events stream sequence seq on (the
// stream's last sequence read after Create, plus one). It fails with
// ErrConflict if the endpoint changed or went meanwhile.
func (s *Store) RouteFrom(ctx context.Context, e *Endpoint, rev, seq uint64) error {
	done := *e
	done.RoutedFromSeq = seq
	if _, err := s.b.PutRevision(ctx, e.ID, done.sealedCopy(s.sealer), rev); err != nil {
		return domainErr(e.ID, err)
	}
	e.RoutedFromSeq = seq
	return nil
}

// Get returns the endpoint with id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (*Endpoint, error) {
	e, _, err := s.get(ctx, id)
	return e, domainErr(id, err)
}

// Update applies change to the stored endpoint and stores the result if
// change returns nil; the write fails with ErrConflict if the endpoint
// changed meanwhile, so no update is lost.
func (s *Store) Update(ctx context.Context, id string, change func(*Endpoint) error) (*Endpoint, error) {
	e, rev, err := s.get(ctx, id)
	if err != nil {
		return nil, domainErr(id, err)
	}
	if err := change(e); err != nil {
		return nil, err
	}
	e.ID = id
	e.UpdatedAt = s.now().UTC()
	if err := s.b.Put(ctx, id, e.sealedCopy(s.sealer), rev); err != nil {
		return nil, domainErr(id, err)
	}
	return e, nil
}

// Delete removes the endpoint with id, or returns ErrNotFound.
func (s *Store) Delete(ctx context.Context, id string) error {
	return domainErr(id, s.b.Delete(ctx, id))
}

// List returns every endpoint, ordered by id (which orders by creation).
func (s *Store) List(ctx context.Context) ([]*Endpoint, error) {
	ids, err := s.b.Keys(ctx)
	if err != nil {
		return nil, err
	}
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
