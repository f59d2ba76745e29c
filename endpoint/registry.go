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

	"github.com/hookd/hookd/payload"
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
	// Payload is the compiled format and header templates, nil when
	// Broken or PayloadErr is set.
	Payload *payload.Compiled
	// PayloadErr says why a stored format or header template no longer
	// compiles: its deliveries are dead-lettered with it.
	PayloadErr error
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
	// indexes holds a rules.Index per tenant over byTenant's list: position
	// i in the index is byTenant[tenant][i]. Nil in a snapshot built
	// without index(), where Candidates returns every endpoint.
	indexes map[string]*rules.Index
	ordered bool
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

func (s *Snapshot) index() { s.reindex(nil, nil) }

// reindex builds the lists and per-tenant indexes; a tenant not in touched
// keeps prev's index, which is still right for its unchanged endpoints.
func (s *Snapshot) reindex(prev *Snapshot, touched map[string]bool) {
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
	s.indexes = make(map[string]*rules.Index, len(s.byTenant))
	for t, list := range s.byTenant {
		if prev != nil && !touched[t] && prev.indexes[t] != nil {
			s.indexes[t] = prev.indexes[t]
			continue
		}
		rs := make([]*rules.Rule, len(list))
		for i, c := range list {
			rs[i] = c.Rule // nil when Broken: always a candidate, so routers log it
		}
		s.indexes[t] = rules.NewIndex(rs)
	}
}

// Candidates appends to dst[:0] the endpoints of env's tenant ("" is the
// default tenant) that may match env, ordered by id: every endpoint whose
// rule matches is among them, as is every Broken endpoint, but so may be
// others. The caller still runs each rule; the index only spares it most of
// them (see rules.Index). It allocates only when dst lacks room.
func (s *Snapshot) Candidates(env *rules.Env, dst []*Compiled) []*Compiled {
	t := tenant.Normalize(env.Tenant)
	list := s.byTenant[t]
	dst = dst[:0]
	x := s.indexes[t]
	if x == nil {
		return append(dst, list...)
	}
	var buf [64]int // positions; on the stack unless there are more
	for _, i := range x.Candidates(env, buf[:0]) {
		dst = append(dst, list[i])
	}
	return dst
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
	sealer      Sealer
	rev         revisions // what Snapshot has applied, for WaitRevision
}

// NewRegistry returns a Registry over kv.
func NewRegistry(kv jetstream.KeyValue, log *slog.Logger, opts ...Option) *Registry {
	r := &Registry{kv: kv, log: log, ready: make(chan struct{}), sealer: apply(opts).sealer}
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

// Sealer returns what seals and opens the endpoints' secrets (values stay
// plain without a master key): templated header values rendered by a
// router travel sealed with it in the endpoint stream.
func (r *Registry) Sealer() Sealer { return orPlain(r.sealer) }

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
			// Apply every change already waiting in one new snapshot: a
			// bulk of creates rebuilds the indexes once, not once each.
			batch := []jetstream.KeyValueEntry{entry}
		more:
			for len(batch) < 10000 {
				select {
				case e, ok := <-w.Updates():
					if !ok || e == nil {
						if ok && initial {
							initial = false
							r.applyAll(batch)
							close(r.ready)
							batch = nil
						}
						break more
					}
					batch = append(batch, e)
				default:
					break more
				}
			}
			r.applyAll(batch)
		}
	}
}

// applyAll makes a new snapshot with the entries' changes.
func (r *Registry) applyAll(entries []jetstream.KeyValueEntry) {
	if len(entries) == 0 {
		return
	}
	old := r.snap.Load()
	next := &Snapshot{byID: make(map[string]*Compiled, len(old.byID)+len(entries))}
	for id, c := range old.byID {
		next.byID[id] = c
	}
	touched := map[string]bool{}
	for _, entry := range entries {
		id := entry.Key()
		if prev := next.byID[id]; prev != nil {
			touched[tenant.Normalize(prev.Tenant)] = true
		}
		if c := r.compileEntry(entry); c != nil {
			next.byID[id] = c
			touched[tenant.Normalize(c.Tenant)] = true
		} else {
			delete(next.byID, id)
		}
	}
	next.reindex(old, touched)
	r.snap.Store(next)
	r.rev.advance(entries)
	r.mu.Lock()
	for _, ch := range r.subscribers {
		select {
		case ch <- struct{}{}:
		default: // a notification is already pending
		}
	}
	r.mu.Unlock()
}

// compileEntry returns the endpoint a put entry holds, nil for a delete or
// an unreadable value.
func (r *Registry) compileEntry(entry jetstream.KeyValueEntry) *Compiled {
	if entry.Operation() != jetstream.KeyValuePut {
		return nil
	}
	c, err := compile(entry.Value(), r.sealer)
	if err != nil {
		r.log.Error("endpoint cannot be loaded", "endpoint", entry.Key(), "err", err)
	}
	if c != nil && c.Broken != nil {
		r.log.Error("endpoint's rule no longer compiles: it receives no new events until fixed", "endpoint", entry.Key(), "err", c.Broken)
	}
	return c
}

func compile(value []byte, sealer Sealer) (*Compiled, error) {
	var e Endpoint
	if err := json.Unmarshal(value, &e); err != nil {
		return nil, err
	}
	if err := e.open(sealer); err != nil {
		return &Compiled{Endpoint: &e, Broken: err}, nil
	}
	return Compile(&e), nil
}

// Compile compiles an endpoint whose secrets are open (as the store's Get
// returns it) the way routers do; a rule that does not compile is
// reported in Broken.
func Compile(e *Endpoint) *Compiled {
	rule, err := rules.Compile(e.Events, e.Filter)
	if err != nil {
		return &Compiled{Endpoint: e, Broken: err}
	}
	key, err := rules.CompileKey(e.OrderingKey)
	if err != nil {
		return &Compiled{Endpoint: e, Broken: err}
	}
	// A format that no longer compiles does not stop routing: its
	// deliveries are queued marked unrendered, and dead-lettered with the
	// error, rather than never made.
	p, err := e.CompilePayload()
	return &Compiled{Endpoint: e, Rule: rule, Key: key, Payload: p, PayloadErr: err}
}
