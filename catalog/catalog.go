package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/internal/transient"
)

// Errors, checked with errors.Is.
var (
	// ErrNotFound reports an event type the catalogue does not hold.
	ErrNotFound = errors.New("event type not found")
	// ErrExists reports a create of a type the catalogue holds.
	ErrExists = errors.New("event type exists")
	// ErrConflict reports a concurrent change: the type changed between
	// read and write.
	ErrConflict = errors.New("event type changed concurrently")
)

// Catalog stores event types in a key-value bucket, keyed by name, and
// keeps them compiled in memory, following the bucket (Run), for Check.
type Catalog struct {
	kv    jetstream.KeyValue
	log   *slog.Logger
	now   func() time.Time
	ready chan struct{}
	// loaded closes ready once: a watch begun again loads again.
	loaded sync.Once
	// follow reports the watch's failures (see Run).
	follow transient.Reporter

	mu sync.RWMutex
	// byName holds every type seen, by name, with the revision it was
	// seen at; a deleted type stays as a tombstone (nil Compiled), so an
	// older revision arriving late cannot bring it back.
	byName map[string]entry
}

type entry struct {
	rev uint64
	c   *Compiled // nil: deleted
}

// New returns a Catalog over kv; Run must run for Check to answer.
func New(kv jetstream.KeyValue, log *slog.Logger) *Catalog {
	return &Catalog{kv: kv, log: log, now: time.Now, ready: make(chan struct{}), byName: map[string]entry{},
		follow: transient.Reporter{Log: log, Msg: "event types not followed, retrying"}}
}

// Create stores a new event type; timestamps are assigned. Errors are
// *FieldError for an unacceptable type, ErrExists, or the bucket's.
func (c *Catalog) Create(ctx context.Context, t *EventType) error {
	now := c.now().UTC()
	t.CreatedAt, t.UpdatedAt = now, now
	compiled, err := Compile(t)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("event type %s: encode: %w", t.Name, err)
	}
	rev, err := c.kv.Create(ctx, t.Name, raw)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("%w: %s", ErrExists, t.Name)
	}
	if err != nil {
		return fmt.Errorf("event type %s: store: %w", t.Name, err)
	}
	// In force at once in this process, so the creator's next event is
	// checked; other processes follow the bucket.
	c.set(t.Name, rev, compiled)
	return nil
}

// get reads a type and its revision from the bucket.
func (c *Catalog) get(ctx context.Context, name string) (*EventType, uint64, error) {
	if ValidateName(name) != nil {
		return nil, 0, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	e, err := c.kv.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("event type %s: get: %w", name, err)
	}
	var t EventType
	if err := json.Unmarshal(e.Value(), &t); err != nil {
		return nil, 0, fmt.Errorf("event type %s: decode: %w", name, err)
	}
	return &t, e.Revision(), nil
}

// Get returns the event type name, or ErrNotFound.
func (c *Catalog) Get(ctx context.Context, name string) (*EventType, error) {
	t, _, err := c.get(ctx, name)
	return t, err
}

// Update applies change to the stored type and stores the result, if
// change and Compile accept it; the write fails with ErrConflict if the
// type changed meanwhile, so no update is lost.
func (c *Catalog) Update(ctx context.Context, name string, change func(*EventType) error) (*EventType, error) {
	t, rev, err := c.get(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := change(t); err != nil {
		return nil, err
	}
	t.Name = name
	t.UpdatedAt = c.now().UTC()
	compiled, err := Compile(t)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("event type %s: encode: %w", name, err)
	}
	next, err := c.kv.Update(ctx, name, raw, rev)
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return nil, fmt.Errorf("%w: %s", ErrConflict, name)
	}
	if err != nil {
		return nil, fmt.Errorf("event type %s: store: %w", name, err)
	}
	c.set(name, next, compiled)
	return t, nil
}

// Delete removes the type name, or returns ErrNotFound.
func (c *Catalog) Delete(ctx context.Context, name string) error {
	_, rev, err := c.get(ctx, name)
	if err != nil {
		return err
	}
	// Only the revision read: a change meanwhile is a conflict, so the
	// tombstone below never hides a newer version.
	err = c.kv.Delete(ctx, name, jetstream.LastRevision(rev))
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return fmt.Errorf("%w: %s", ErrConflict, name)
	}
	if err != nil {
		return fmt.Errorf("event type %s: delete: %w", name, err)
	}
	c.mu.Lock()
	if cur, ok := c.byName[name]; !ok || cur.rev <= rev {
		c.byName[name] = entry{rev: rev}
	}
	c.mu.Unlock()
	return nil
}

// List returns every event type, ordered by name.
func (c *Catalog) List(ctx context.Context) ([]*EventType, error) {
	lister, err := c.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("event types: list: %w", err)
	}
	var names []string
	for k := range lister.Keys() {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]*EventType, 0, len(names))
	for _, name := range names {
		t, err := c.Get(ctx, name)
		if errors.Is(err, ErrNotFound) {
			continue // deleted while listing
		}
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}
