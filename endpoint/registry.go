package endpoint

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/rules"
	"github.com/hookd/hookd/tenant"
)

// Compiled is an endpoint with its rule compiled, ready for routing.
type Compiled struct {
	*Endpoint
	// Rule is nil when Broken is set.
	Rule *rules.Rule
	// Key is the compiled OrderingKey, nil when none.
	Key *rules.Key
	// Broken says why a stored endpoint's rule no longer compiles (only a
	// change of expr's grammar can cause it). The endpoint stays known, so
	// its pending deliveries are still made; routers skip it and log.
	Broken error
}

// Snapshot is an immutable view of every endpoint at one moment.
type Snapshot struct {
	byID     map[string]*Compiled
	list     []*Compiled
	byTenant map[string][]*Compiled
	ordered  bool
}

// HasOrdered reports whether any endpoint is ordered: if none is, the
// ordered routing lane has nothing to do.
func (s *Snapshot) HasOrdered() bool { return s.ordered }

// ForTenant returns the endpoints of a tenant ("" is the default tenant),
// ordered by id: routing an addressed event is a lookup, whatever the
// number of tenants. The slice must not be changed.
func (s *Snapshot) ForTenant(tenantID string) []*Compiled {
	return s.byTenant[tenant.Normalize(tenantID)]
}

// NewSnapshot builds a snapshot of the given endpoints, for tests and
// benchmarks of routing.
func NewSnapshot(list []*Compiled) *Snapshot {
	s := &Snapshot{byID: make(map[string]*Compiled, len(list)), byTenant: map[string][]*Compiled{}}
	for _, c := range list {
		s.byID[c.ID] = c
	}
	s.index()
	return s
}

func (s *Snapshot) index() {
	s.list = make([]*Compiled, 0, len(s.byID))
	for _, c := range s.byID {
		s.list = append(s.list, c)
	}
	sort.Slice(s.list, func(i, j int) bool { return s.list[i].ID < s.list[j].ID })
	s.byTenant = make(map[string][]*Compiled)
	for _, c := range s.list {
		t := tenant.Normalize(c.Tenant)
		s.byTenant[t] = append(s.byTenant[t], c)
		s.ordered = s.ordered || c.Ordered()
	}
}

// Get returns the endpoint with id, or nil.
func (s *Snapshot) Get(id string) *Compiled { return s.byID[id] }

// All returns every endpoint, ordered by id. The slice must not be changed.
func (s *Snapshot) All() []*Compiled { return s.list }

// Registry follows the endpoints bucket and keeps a compiled snapshot of it,
// so routers and workers apply every create, update, disable and delete to
// the next event without a restart.
type Registry struct {
	kv    jetstream.KeyValue
	log   *slog.Logger
	snap  atomic.Pointer[Snapshot]
	ready chan struct{}

	mu          sync.Mutex
	subscribers []chan struct{}
}

// NewRegistry returns a Registry over kv.
func NewRegistry(kv jetstream.KeyValue, log *slog.Logger) *Registry {
	r := &Registry{kv: kv, log: log, ready: make(chan struct{})}
	r.snap.Store(&Snapshot{byID: map[string]*Compiled{}, byTenant: map[string][]*Compiled{}})
	return r
}

// Snapshot returns the current view; it never returns nil.
func (r *Registry) Snapshot() *Snapshot { return r.snap.Load() }

// Changed returns a channel that receives a value after one or more changes
// became visible in Snapshot. It is level-triggered: several changes may be
// announced by one value, so a subscriber reconciles against Snapshot.
func (r *Registry) Changed() <-chan struct{} {
	ch := make(chan struct{}, 1)
	r.mu.Lock()
	r.subscribers = append(r.subscribers, ch)
	r.mu.Unlock()
	return ch
}

// Ready is closed once every endpoint stored when Run started is loaded.
func (r *Registry) Ready() <-chan struct{} { return r.ready }

// Run watches the bucket until ctx is done and returns ctx's error.
func (r *Registry) Run(ctx context.Context) error {
	w, err := r.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("endpoints: watch: %w", err)
	}
	defer func() { _ = w.Stop() }()
	initial := true
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case entry, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return ctx.Err() // the watch ends with ctx, sometimes before ctx.Done is seen
				}
				return fmt.Errorf("endpoints: watch closed")
			}
			if entry == nil {
				if initial {
					initial = false
					close(r.ready)
				}
				continue
			}
			r.apply(entry)
		}
	}
}

func (r *Registry) apply(entry jetstream.KeyValueEntry) {
	id := entry.Key()
	var changed *Compiled
	if entry.Operation() == jetstream.KeyValuePut {
		c, err := compile(entry.Value())
		if err != nil {
			r.log.Error("endpoint cannot be loaded", "endpoint", id, "err", err)
		}
		if c != nil && c.Broken != nil {
			r.log.Error("endpoint's rule no longer compiles: it receives no new events until fixed", "endpoint", id, "err", c.Broken)
		}
		changed = c
	}
	old := r.snap.Load()
	next := &Snapshot{byID: make(map[string]*Compiled, len(old.byID)+1)}
	for id, c := range old.byID {
		next.byID[id] = c
	}
	if changed != nil {
		next.byID[id] = changed
	} else {
		delete(next.byID, id)
	}
	next.index()
	r.snap.Store(next)
	r.mu.Lock()
	for _, ch := range r.subscribers {
		select {
		case ch <- struct{}{}:
		default: // a notification is already pending
		}
	}
	r.mu.Unlock()
}

func compile(value []byte) (*Compiled, error) {
	var e Endpoint
	if err := json.Unmarshal(value, &e); err != nil {
		return nil, err
	}
	rule, err := rules.Compile(e.Events, e.Filter)
	if err != nil {
		return &Compiled{Endpoint: &e, Broken: err}, nil
	}
	key, err := rules.CompileKey(e.OrderingKey)
	if err != nil {
		return &Compiled{Endpoint: &e, Broken: err}, nil
	}
	return &Compiled{Endpoint: &e, Rule: rule, Key: key}, nil
}
