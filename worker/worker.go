package worker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/internal/kvjson"
	"github.com/hookd/hookd/metrics"
	"github.com/hookd/hookd/netguard"
	"github.com/hookd/hookd/topology"
	"github.com/hookd/hookd/tracing"
)

// reconcileInterval is how often a worker looks for idle, disabled or
// stopped consumers, even without an endpoint change.
const reconcileInterval = 2 * time.Second

// drainTimeout bounds waiting for a consumer's buffered messages to be
// handed back on shutdown or disable.
const drainTimeout = 10 * time.Second

// Worker consumes every enabled endpoint's stream through the durable
// consumer all workers share, so any number of workers split the work.
type Worker struct {
	cfg     Config
	topo    *topology.Topology
	js      jetstream.JetStream
	reg     *endpoint.Registry
	sender  *Sender
	log     *slog.Logger
	ackWait time.Duration
	m       *metrics.Delivery
	tracer  tracing.Tracer
	// ready is set while Run delivers, for readiness probes.
	ready atomic.Bool

	attemptsStream jetstream.Stream
	endpoints      *endpoint.Store
	health         kvjson.Bucket[health]
	rate           kvjson.Bucket[tokenBucket]
	rateLocks      sync.Map // endpoint id -> *sync.Mutex
	pauses         sync.Map // endpoint id -> time.Time it is paused until
	// healthy holds endpoints known to have no run of failures, so a
	// success costs no key-value read.
	healthy sync.Map
	changed <-chan struct{}
	global  chan struct{}
	// consumers are the endpoints this worker pulls from: only those with
	// work (see activity.go). Run's goroutine owns the map.
	consumers map[string]*endpointConsumer
	wakes     chan string
	sweepSoon atomic.Bool

	// mu orders inflight.Add before inflight.Wait: once stopping is set no
	// delivery starts.
	mu       sync.Mutex
	stopping bool
	inflight sync.WaitGroup
}

// endpointConsumer consumes one endpoint: through its one consumer, or
// one per lane for an ordered endpoint with an ordering key.
type endpointConsumer struct {
	id        string
	layout    topology.EndpointLayout
	consumers []jetstream.Consumer
	ccs       []jetstream.ConsumeContext
	sem       chan struct{}
	activity  activity
}

// closed reports whether any of its consumers stopped on its own.
func (ec *endpointConsumer) closed() bool {
	for _, cc := range ec.ccs {
		select {
		case <-cc.Closed():
			return true
		default:
		}
	}
	return false
}

// drain stops pulling and waits until the messages the client had buffered
// went through the callback (which hands them back while stopping), or
// until deadline.
func (ec *endpointConsumer) drain(deadline <-chan time.Time) {
	for _, cc := range ec.ccs {
		cc.Drain()
	}
	for _, cc := range ec.ccs {
		select {
		case <-cc.Closed():
		case <-deadline:
			return
		}
	}
}

// New returns a Worker. It subscribes to reg at once, so it must be created
// before reg runs.
func New(topo *topology.Topology, reg *endpoint.Registry, cfg Config) (*Worker, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Worker{
		cfg:       cfg,
		topo:      topo,
		js:        topo.JetStream(),
		reg:       reg,
		sender:    NewSender(cfg.UserAgent, netguard.New(cfg.AllowNets), cfg.Logger),
		log:       cfg.Logger.With("component", "worker"),
		ackWait:   topo.Config().DeliveryAckWait,
		m:         cfg.Metrics,
		tracer:    tracing.NewTracer(cfg.TracerProvider, "github.com/hookd/hookd/worker"),
		changed:   reg.Changed(),
		global:    make(chan struct{}, cfg.Concurrency),
		consumers: map[string]*endpointConsumer{},
		wakes:     make(chan string, 4096),
	}, nil
}

// Run delivers until ctx is done, then stops pulling, hands back what it had
// buffered, lets in-flight deliveries finish (each is bounded by
// Config.Timeout) and returns nil.
func (w *Worker) Run(ctx context.Context) error {
	select {
	case <-w.reg.Ready():
	case <-ctx.Done():
		return nil
	}
	var err error
	if w.attemptsStream, err = w.js.Stream(ctx, topology.AttemptsStream); err != nil {
		return fmt.Errorf("worker: attempts stream: %w", err)
	}
	kv, err := w.topo.Endpoints(ctx)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	w.endpoints = endpoint.NewStore(kv, w.cfg.EndpointOptions...)
	hkv, err := w.topo.Health(ctx)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	w.health = kvjson.Bucket[health]{KV: hkv, Kind: "endpoint health"}
	rkv, err := w.topo.Rate(ctx)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	w.rate = kvjson.Bucket[tokenBucket]{KV: rkv, Kind: "rate limit"}
	pausesFollowed := make(chan struct{})
	go func() {
		defer close(pausesFollowed)
		w.watchPauses(ctx)
	}()
	defer func() { <-pausesFollowed }()
	sub, err := w.subscribeWakes()
	if err != nil {
		return fmt.Errorf("worker: doorbell: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	w.ready.Store(true)
	defer w.ready.Store(false)
	ticker := time.NewTicker(reconcileInterval)
	defer ticker.Stop()
	var lastSweep time.Time
	w.sweepSoon.Store(true)
	for {
		w.reconcile(ctx)
		if w.sweepSoon.Swap(false) || time.Since(lastSweep) >= sweepInterval {
			w.sweep(ctx)
			lastSweep = time.Now()
		}
		select {
		case <-ctx.Done():
			w.stopAll()
			return nil
		case id := <-w.wakes:
			w.wake(ctx, id)
		case <-w.changed:
			// An endpoint enabled again may hold deliveries.
			w.sweepSoon.Store(true)
		case <-ticker.C:
		}
	}
}

// Ready reports whether the worker is delivering: its endpoints are
// loaded and it listens for their doorbells (for readiness probes).
func (w *Worker) Ready() bool { return w.ready.Load() }

// reconcile stops consuming endpoints that were disabled or deleted, or
// changed their ordering, and those idle with nothing left to deliver; it
// restarts consumers that stopped on their own (say, deleted under them).
func (w *Worker) reconcile(ctx context.Context) {
	snap := w.reg.Snapshot()
	now := time.Now()
	for id, ec := range w.consumers {
		ep := snap.Get(id)
		switch {
		case ec.closed():
			w.log.Warn("consumer stopped, restarting", "endpoint", id)
			ec.drain(time.After(drainTimeout))
			delete(w.consumers, id)
			w.wake(ctx, id)
		case ep == nil || ep.Disabled || !sameShape(ep.Layout(), ec.layout):
			ec.drain(time.After(drainTimeout))
			delete(w.consumers, id)
			w.log.Info("stopped consuming", "endpoint", id)
			w.wake(ctx, id) // a new ordering: consume it anew
		case ec.activity.idleFor(w.cfg.IdleAfter, now) && now.Sub(ec.activity.checked) >= w.cfg.IdleAfter:
			ec.activity.checked = now
			if w.settled(ctx, ec) {
				ec.drain(time.After(drainTimeout))
				delete(w.consumers, id)
				w.log.Debug("endpoint idle, stopped pulling", "endpoint", id)
			}
		}
	}
}

func (w *Worker) start(ctx context.Context, id string, layout topology.EndpointLayout) (*endpointConsumer, error) {
	consumers, err := w.topo.EndpointConsumers(ctx, id, layout)
	if err != nil {
		return nil, err
	}
	ec := &endpointConsumer{id: id, layout: layout, consumers: consumers, sem: make(chan struct{}, w.cfg.EndpointConcurrency)}
	ec.activity.touch()
	// Prefetching more than can be in flight would hold deliveries that
	// another worker could be sending; an ordered consumer hands out one.
	prefetch := w.cfg.EndpointConcurrency
	if layout.Ordered {
		prefetch = 1
	}
	for _, cons := range consumers {
		cc, err := cons.Consume(func(msg jetstream.Msg) { w.dispatch(ec, msg) },
			jetstream.PullMaxMessages(prefetch),
			jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
				w.log.Debug("consume", "endpoint", id, "err", err)
			}))
		if err != nil {
			ec.drain(time.After(drainTimeout))
			return nil, fmt.Errorf("consume endpoint %s: %w", id, err)
		}
		ec.ccs = append(ec.ccs, cc)
	}
	w.log.Debug("consuming", "endpoint", id, "ordered", layout.Ordered, "lanes", layout.Lanes)
	return ec, nil
}

// dispatch runs in the consumer's callback: blocking here is the
// backpressure that keeps in-flight deliveries within both limits.
func (w *Worker) dispatch(ec *endpointConsumer, msg jetstream.Msg) {
	w.mu.Lock()
	if w.stopping {
		w.mu.Unlock()
		_ = msg.Nak() // another worker takes it now, not after the ack wait
		return
	}
	w.inflight.Add(1)
	w.mu.Unlock()
	ec.activity.touch()
	w.acquire(ec.sem, msg)
	w.acquire(w.global, msg)
	go func() {
		defer func() {
			<-w.global
			<-ec.sem
			w.inflight.Done()
		}()
		w.deliver(ec.id, msg)
	}()
}

// acquire takes a slot of sem, telling JetStream the message is still being
// worked on while it waits, so a long wait cannot cause a redelivery.
func (w *Worker) acquire(sem chan struct{}, msg jetstream.Msg) {
	select {
	case sem <- struct{}{}:
		return
	default:
	}
	t := time.NewTicker(w.ackWait / 3)
	defer t.Stop()
	for {
		select {
		case sem <- struct{}{}:
			return
		case <-t.C:
			_ = msg.InProgress()
		}
	}
}

func (w *Worker) stopAll() {
	w.mu.Lock()
	w.stopping = true
	w.mu.Unlock()
	deadline := time.After(drainTimeout)
	for _, ec := range w.consumers {
		for _, cc := range ec.ccs {
			cc.Drain()
		}
	}
	for id, ec := range w.consumers {
		ec.drain(deadline)
		delete(w.consumers, id)
	}
	w.inflight.Wait()
}

// sameShape reports whether two layouts are consumed the same way; a new
// max_in_flight is applied by the server and needs no restart.
func sameShape(a, b topology.EndpointLayout) bool {
	return a.Ordered == b.Ordered && a.Lanes == b.Lanes
}
