package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/endpoint"
)

// Membership in time (docs/engine.md §4.8): an endpoint gets exactly the
// events stored after its creation, whatever the routers' lag. Creation
// puts the endpoint with RoutedFromSeq endpoint.RoutedFromPending, reads
// the events stream's last sequence L, and puts L+1. Routers then
//   - skip an endpoint for an event at sequence S < RoutedFromSeq (see
//     match): it was stored before the endpoint existed; backfill reaches it;
//   - before routing an event, wait until their registry has applied every
//     endpoint put before the event was stored (fence): else an event
//     stored after a creation could be routed against a view without the
//     endpoint;
//   - hold an event for an endpoint still at RoutedFromPending (its
//     creation is between its two puts), for PendingHold at most (creating).

// ErrEndpointCreating is routing's error for an event held because an
// endpoint it may go to is being created: whether the event is the
// endpoint's is known once the creation has read the events stream's
// position. The event is retried shortly (creatingRetry), without
// counting towards dead-lettering.
var ErrEndpointCreating = errors.New("router: an endpoint the event may go to is being created")

// errMembership is routing's error when the router could not make sure its
// view of the endpoints has every endpoint stored before the event.
var errMembership = errors.New("router: endpoints view not confirmed current")

// probeEvery spaces the fence's probes while events flow: one probe (one
// stream info) serves every event stored before it. 1 ms keeps the
// requests of a busy router at about 1,000 a second, as two stream infos
// every 2 ms did, for half the wait.
const probeEvery = time.Millisecond

// probeLag is how many events beyond one waiting for a probe the events
// stream must hold for the probe to read the stream's last sequence too: a
// router that far behind has its backlog covered by one probe; one
// keeping up is not worth the second request.
const probeLag = 64

// creatingRetry is how soon an event held for an endpoint being created is
// tried again: a creation's two puts are milliseconds apart (for a bulk
// request, its items' first puts and one read).
const creatingRetry = 100 * time.Millisecond

// fence confirms that the registry has applied every endpoint put before
// an event was stored. A probe reads the endpoints bucket's last revision
// K (from the stream's leader), then waits until the registry has applied
// K. It covers every event at or below E, the highest sequence this
// router had received when the probe began: those were stored before K
// was read, so every endpoint put before such an event is at or below K.
// When an event says many more are stored behind it (a lagging router),
// the probe first reads the events stream's last sequence too, and E is
// that: the whole backlog is covered by one probe. Probes run one at a
// time, at most every probeEvery, only while events wait for one; an
// event already covered waits for none.
type fence struct {
	events, bucket jetstream.Stream
	reg            *endpoint.Registry
	// wait bounds one probe with its registry wait.
	wait time.Duration
	log  *slog.Logger
	// covered is E of the latest probe that succeeded.
	covered atomic.Uint64
	// received is the highest sequence an event waiting for a probe had.
	received atomic.Uint64
	// lagging asks the next probe to read the events stream's last
	// sequence.
	lagging atomic.Bool
	// warned is when a failed probe was last logged (probes run one at a
	// time, so they share it without a lock).
	warned time.Time

	mu   sync.Mutex
	open *probe // the probe events arriving now wait for; nil: none yet
	last *probe // the latest probe begun
}

// probe is one round of the fence.
type probe struct {
	done    chan struct{}
	err     error
	started time.Time
}

func newFence(events, bucket jetstream.Stream, reg *endpoint.Registry, wait time.Duration, log *slog.Logger) *fence {
	return &fence{events: events, bucket: bucket, reg: reg, wait: wait, log: log}
}

// await returns once the registry has applied every endpoint put before
// the event at sequence seq was stored, or an error wrapping
// errMembership, or ctx's. The caller has received the event, so it is
// stored: a probe that begins reading after this call covers it, and so
// does one that read a later last sequence. behind is how many events the
// stream held after it when it was delivered (its NumPending): only a
// hint, which makes the probe read the events stream's last sequence.
func (f *fence) await(ctx context.Context, seq, behind uint64) error {
	if seq <= f.covered.Load() {
		return nil
	}
	// Before joining: the probe joined reads the sequence after it has
	// begun, under f.mu (run), so it covers seq.
	for {
		old := f.received.Load()
		if seq <= old || f.received.CompareAndSwap(old, seq) {
			break
		}
	}
	if behind >= probeLag {
		f.lagging.Store(true)
	}
	p := f.join()
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// join returns the probe that has not begun reading yet, starting one if
// there is none.
func (f *fence) join() *probe {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.open == nil {
		p := &probe{done: make(chan struct{})}
		go f.run(p, f.last)
		f.open, f.last = p, p
	}
	return f.open
}

// run waits for prev (one probe at a time, probeEvery apart), then probes.
func (f *fence) run(p, prev *probe) {
	defer close(p.done)
	if prev != nil {
		<-prev.done
		if d := time.Until(prev.started.Add(probeEvery)); d > 0 {
			t := time.NewTimer(d)
			<-t.C
		}
	}
	f.mu.Lock()
	f.open = nil // events received from now on may be stored after the read below
	p.started = time.Now()
	// Every event that joined p was counted in received before: stored,
	// like every lower sequence, before the read below.
	covers := f.received.Load()
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), f.wait)
	defer cancel()
	last, rev, err := f.read(ctx, f.lagging.Swap(false))
	covers = max(covers, last)
	if err == nil {
		if err = f.reg.WaitRevision(ctx, rev); err != nil {
			err = fmt.Errorf("the registry has not applied the endpoints bucket's revision %d (it has %d) within %s: %w", rev, f.reg.AppliedRevision(), f.wait, err)
		}
	}
	if err != nil {
		p.err = fmt.Errorf("%w: %w", errMembership, err)
		if time.Since(f.warned) > 10*time.Second { // not every probe
			f.warned = time.Now()
			f.log.Warn("endpoints view not confirmed current: events are retried", "err", err)
		}
		return
	}
	for {
		old := f.covered.Load()
		if covers <= old || f.covered.CompareAndSwap(old, covers) {
			return
		}
	}
}

// read returns the events stream's last sequence (when lagging, else 0),
// then the endpoints bucket's last revision (0 for a bucket without
// messages, which a registry has nothing to apply of).
func (f *fence) read(ctx context.Context, lagging bool) (last, rev uint64, err error) {
	if lagging {
		ei, err := f.events.Info(ctx)
		if err != nil {
			return 0, 0, fmt.Errorf("events stream info: %w", err)
		}
		last = ei.State.LastSeq
	}
	bi, err := f.bucket.Info(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("endpoints bucket info: %w", err)
	}
	if bi.State.Msgs > 0 {
		rev = bi.State.LastSeq
	}
	return last, rev, nil
}

// creating decides, per endpoint still at RoutedFromPending, whether this
// router still holds events for it: for Config.PendingHold after it first
// saw it so. Longer means its creation failed half-way (the API process
// died between the two puts): events are routed on without it, and it is
// said once.
type creating struct {
	hold time.Duration
	log  *slog.Logger

	mu    sync.Mutex
	since map[string]time.Time // by endpoint id
	said  map[string]bool
	// pruneAt is the size of since that prunes it: twice what the last
	// pruning kept, so pruning stays cheap however many are pending.
	pruneAt int
}

func newCreating(hold time.Duration, log *slog.Logger) *creating {
	return &creating{hold: hold, log: log, since: map[string]time.Time{}, said: map[string]bool{}, pruneAt: 1024}
}

// holds reports whether events that ep may receive are held still.
func (c *creating) holds(ep *endpoint.Compiled, snap *endpoint.Snapshot) bool {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	since, ok := c.since[ep.ID]
	if !ok {
		if len(c.since) >= c.pruneAt {
			c.prune(snap)
			c.pruneAt = max(1024, 2*len(c.since))
		}
		since = now
		c.since[ep.ID] = now
	}
	if now.Sub(since) < c.hold {
		return true
	}
	if !c.said[ep.ID] {
		c.said[ep.ID] = true
		c.log.Warn("endpoint's creation did not complete: it receives no events (delete it and create it again)",
			"endpoint", ep.ID, "pending_for", now.Sub(since).Round(time.Second))
	}
	return false
}

// prune forgets endpoints no longer pending; c.mu is held.
func (c *creating) prune(snap *endpoint.Snapshot) {
	for id := range c.since {
		if ep := snap.Get(id); ep == nil || ep.RoutedFromSeq != endpoint.RoutedFromPending {
			delete(c.since, id)
			delete(c.said, id)
		}
	}
}
