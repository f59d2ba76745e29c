package endpoint

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/internal/transient"
	"github.com/hookd/hookd/payload"
	"github.com/hookd/hookd/rules"
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

	// keys are the endpoint's secrets parsed, on first use (SigningKeys).
	keys atomic.Pointer[parsedSecrets]
}

// Registry follows the endpoints bucket and keeps a compiled snapshot of it,
// so routers and workers apply every create, update, disable and delete to
// the next event without a restart.
type Registry struct {
	kv    jetstream.KeyValue
	log   *slog.Logger
	snap  atomic.Pointer[Snapshot]
	ready chan struct{}

	// loaded closes ready once: a watch begun again loads again.
	loaded sync.Once
	// follow reports the watch's failures (see Run).
	follow transient.Reporter

	mu          sync.Mutex
	subscribers []chan struct{}
	sealer      Sealer
	rev         revisions // what Snapshot has applied, for WaitRevision
}

// NewRegistry returns a Registry over kv.
func NewRegistry(kv jetstream.KeyValue, log *slog.Logger, opts ...Option) *Registry {
	r := &Registry{kv: kv, log: log, ready: make(chan struct{}), sealer: apply(opts).sealer,
		follow: transient.Reporter{Log: log, Msg: "endpoints not followed, retrying"}}
	r.snap.Store(emptySnapshot())
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

// Run watches the bucket until ctx is done and returns ctx's error. A
// watch that fails because JetStream is unavailable for now (no quorum, a
// leader election), or that ends by itself, is begun again with backoff:
// the snapshot stays as it was meanwhile, WatchErr says why it is not
// followed, and the new watch's values bring it up to date. Other errors
// (a refused permission, the bucket missing) end Run.
func (r *Registry) Run(ctx context.Context) error {
	if err := transient.Follow(ctx, &r.follow, r.watch); err != nil {
		return err
	}
	return ctx.Err()
}

// WatchErr is why the registry does not follow the bucket now (its
// snapshot may then be stale), nil while it does or before Run.
func (r *Registry) WatchErr() error { return r.follow.Err() }

// watch follows the bucket until ctx ends or the watch fails.
func (r *Registry) watch(ctx context.Context, following func()) error {
	w, err := r.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("endpoints: watch: %w", err)
	}
	defer func() { _ = w.Stop() }()
	initial := true
	loaded := func() {
		initial = false
		r.loaded.Do(func() { close(r.ready) })
		following()
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case entry, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return ctx.Err() // the watch ends with ctx, sometimes before ctx.Done is seen
				}
				return fmt.Errorf("endpoints: %w", transient.ErrWatchClosed)
			}
			if entry == nil {
				if initial {
					loaded()
				}
				continue
			}
			// Apply every change already waiting in one new snapshot: a
			// batch updates in place the nodes it made itself (see
			// persist.Edit), and subscribers hear of it once.
			batch := []jetstream.KeyValueEntry{entry}
		more:
			for len(batch) < 10000 {
				select {
				case e, ok := <-w.Updates():
					if !ok || e == nil {
						if ok && initial {
							r.applyAll(batch)
							loaded()
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

// applyAll makes a new snapshot with the entries' changes, at a cost of
// O(log n) per entry (see Snapshot).
func (r *Registry) applyAll(entries []jetstream.KeyValueEntry) {
	if len(entries) == 0 {
		return
	}
	r.apply(r.changesOf(entries))
	// After the snapshot holding them is visible (see WaitRevision).
	r.rev.advance(entries)
}

// changesOf decodes and compiles the entries, O(1) each.
func (r *Registry) changesOf(entries []jetstream.KeyValueEntry) []change {
	changes := make([]change, len(entries))
	for i, entry := range entries {
		changes[i] = change{id: entry.Key(), c: r.compileEntry(entry)}
	}
	return changes
}

// apply publishes a snapshot with changes made and tells the subscribers.
func (r *Registry) apply(changes []change) {
	r.snap.Store(r.snap.Load().with(changes))
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
