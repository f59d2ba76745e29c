package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/internal/transient"
)

// Run follows the bucket until ctx is done, keeping every type compiled in
// memory. A watch that fails because JetStream is unavailable for now, or
// that ends by itself, is begun again with backoff (the types known stay
// in use meanwhile; WatchErr says why they may be stale); other errors end
// Run.
func (c *Catalog) Run(ctx context.Context) error {
	return transient.Follow(ctx, &c.follow, c.watch)
}

// WatchErr is why the catalogue does not follow the bucket now, nil while
// it does or before Run.
func (c *Catalog) WatchErr() error { return c.follow.Err() }

func (c *Catalog) watch(ctx context.Context, following func()) error {
	w, err := c.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("event types: watch: %w", err)
	}
	defer func() { _ = w.Stop() }()
	initial := true
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil // the watch ends with ctx, sometimes before ctx.Done is seen
				}
				return fmt.Errorf("event types: %w", transient.ErrWatchClosed)
			}
			if e == nil {
				if initial {
					initial = false
					c.loaded.Do(func() { close(c.ready) })
					following()
				}
				continue
			}
			c.apply(e)
		}
	}
}

// Ready is closed once every type stored when Run started is loaded.
func (c *Catalog) Ready() <-chan struct{} { return c.ready }

// apply takes in a change seen on the bucket.
func (c *Catalog) apply(e jetstream.KeyValueEntry) {
	if e.Operation() != jetstream.KeyValuePut {
		c.set(e.Key(), e.Revision(), nil)
		return
	}
	var t EventType
	if err := json.Unmarshal(e.Value(), &t); err != nil {
		c.log.Error("event type unreadable: its events are not checked", "type", e.Key(), "err", err)
		c.set(e.Key(), e.Revision(), nil)
		return
	}
	compiled, err := Compile(&t)
	if err != nil {
		// Only a change of the schema library could refuse what it once
		// accepted: the type's events are then accepted unchecked.
		c.log.Error("event type no longer compiles: its events are not checked", "type", e.Key(), "err", err)
		c.set(e.Key(), e.Revision(), nil)
		return
	}
	c.set(e.Key(), e.Revision(), compiled)
}

// set records name at rev unless a newer revision is known: the watch and
// this process's own writes both call it, in either order.
func (c *Catalog) set(name string, rev uint64, compiled *Compiled) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.byName[name]; ok && cur.rev >= rev {
		return
	}
	c.byName[name] = entry{rev: rev, c: compiled}
}

// Lookup returns the compiled type name, or nil when the catalogue does
// not hold it. It does not wait for Ready.
func (c *Catalog) Lookup(name string) *Compiled {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.byName[name].c
}

// Check reports whether data (an event's JSON data) is acceptable for an
// event of type typ: nil when it matches the type's schema, or the type
// has none or is not catalogued, else a *SchemaError. It waits (bounded by
// ctx) for the catalogue's first load, so a restarting process does not
// wave through events its catalogue would refuse.
func (c *Catalog) Check(ctx context.Context, typ string, data []byte) error {
	select {
	case <-c.ready:
	case <-ctx.Done():
		return fmt.Errorf("event types not loaded: %w", ctx.Err())
	}
	t := c.Lookup(typ)
	if t == nil {
		return nil
	}
	return t.Check(data)
}

// Examples returns the catalogued types that have an example, ordered by
// name.
func (c *Catalog) Examples() []*Compiled {
	c.mu.RLock()
	out := make([]*Compiled, 0, len(c.byName))
	for _, e := range c.byName {
		if e.c != nil && e.c.HasExample() {
			out = append(out, e.c)
		}
	}
	c.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
