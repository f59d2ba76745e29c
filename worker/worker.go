package worker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/internal/jsmsg"
	"github.com/hookd/hookd/internal/kvjson"
	"github.com/hookd/hookd/internal/sender"
	"github.com/hookd/hookd/internal/transient"
	"github.com/hookd/hookd/metrics"
	"github.com/hookd/hookd/netguard"
	"github.com/hookd/hookd/topology"
	"github.com/hookd/hookd/tracing"
)

// maxMovers bounds the deliveries a worker moves out of the queue at once.
const maxMovers = 256

// reconcileInterval is how often a worker looks for idle, disabled or
// stopped consumers, even without an endpoint change.
const reconcileInterval = 2 * time.Second

// drainTimeout bounds waiting for a consumer's buffered messages to be
// handed back on shutdown or disable.
const drainTimeout = 10 * time.Second

// closedAfter returns a channel closed after d: unlike time.After's, it
// ends every wait on it, so one deadline can be shared by many.
func closedAfter(d time.Duration) <-chan struct{} {
	c := make(chan struct{})
	time.AfterFunc(d, func() { close(c) })
	return c
}

// Worker consumes every enabled endpoint's stream through the durable
// consumer all workers share, so any number of workers split the work.
type Worker struct {
	cfg     Config
	topo    *topology.Topology
	js      jetstream.JetStream
	names   topology.Names
	reg     *endpoint.Registry
	sender  *sender.Sender
	log     *slog.Logger
	ackWait time.Duration
	m       *metrics.Delivery
	tracer  tracing.Tracer
	// ready is set while Run delivers, for readiness probes.
	ready atomic.Bool

	// committer group-commits the delivery log's records; dlog reads
	// the log; requeued holds each manually requeued delivery's newest
	// queueing (delivery id -> int); recent the records this worker
	// stored of deliveries in progress.
	committer *delivery.Committer
	dlog      *delivery.Log
	requeued  sync.Map
	recent    recentRecords
	views     logViews
	endpoints *endpoint.Store
	health    kvjson.Bucket[health]
	rate      kvjson.Bucket[tokenBucket]
	rateLocks sync.Map // endpoint id -> *sync.Mutex
	pauses    sync.Map // endpoint id -> time.Time it is paused until
	// healthy holds endpoints known to have no run of failures, so a
	// success costs no key-value read.
	healthy sync.Map
	changed <-chan struct{}
	global  chan struct{}
	// sems holds each endpoint's semaphore of deliveries in flight from
	// this worker (endpoint id -> chan struct{}; see endpointSem).
	sems sync.Map
	// shards are the shard consumers' consumptions (Run's goroutine);
	// shardsDown counts those not running, for Ready; shardsRep reports
	// them while they cannot be restarted.
	shards     [topology.Shards]jetstream.ConsumeContext
	shardsDown atomic.Int32
	shardsRep  transient.Reporter
	// shardsRetryAt is when reconcileShards may try again after a
	// failure, drawn from shardsBackoff.
	shardsRetryAt time.Time
	shardsBackoff transient.Backoff
	// movers bounds the deliveries being moved out of the queue at once.
	movers chan struct{}
	// heldMarks is the held marks bucket, marked the last time this worker
	// marked each endpoint (id -> time.Time); see markHeld.
	heldMarks jetstream.KeyValue
	marked    sync.Map
	// latency is each endpoint's typical attempt duration, directFlight
	// its direct attempts in flight (Direct).
	latency      latencies
	directFlight flights
	// warnedWake is when a wake last failed at Warn (unix ns).
	warnedWake atomic.Int64
	// consumers are the endpoints this worker pulls from: only those with
	// work (see activity.go). Run's goroutine owns the map.
	consumers map[string]*endpointConsumer
	wakes     chan wakeUp
	sweepSoon atomic.Bool
	// batchBacklog holds endpoints whose batch stream the last sweep found
	// holding batches: they are consumed even if batching was turned off
	// since. Run's goroutine owns the map.
	batchBacklog map[string]bool

	// mu orders inflight.Add before inflight.Wait: once stopping is set no
	// delivery starts.
	mu       sync.Mutex
	stopping bool
	inflight sync.WaitGroup
	// quit is closed when stopping is set, to end waits that would hold
	// shutdown back.
	quit chan struct{}
	// stopped ends when the stop begins (see settleContext).
	stopped     context.Context
	stopStarted context.CancelFunc
}

// stopGrace is how long, once the worker stops, a delivery may wait for
// JetStream to take what follows its attempt (its log record, health,
// dead letter): long enough for a working server, short enough that a
// full disk, which never acknowledges, does not hold the stop.
const stopGrace = 2 * time.Second

// settleContext is ctx for the steps after an attempt: once the worker
// stops, they get stopGrace (from the stop, or from now if later), after
// which their waits end. The attempt itself is not cut short: it has
// Config.Timeout.
func (w *Worker) settleContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(w.stopped, func() { time.AfterFunc(stopGrace, cancel) })
	return ctx, func() {
		stop()
		cancel()
	}
}

// endpointConsumer consumes one endpoint: through its one consumer, or
// one per lane for an ordered endpoint with an ordering key; a batched
// endpoint's deliveries go to its collector, and its batch stream's
// consumer is consumed too.
type endpointConsumer struct {
	id        string
	layout    topology.EndpointLayout
	consumers []jetstream.Consumer
	ccs       []jetstream.ConsumeContext
	sem       chan struct{}
	activity  activity
	// lanes are the lanes of an ordered endpoint consumed (0: the one lane
	// of an endpoint without an ordering key).
	lanes map[int]bool
	// handle takes the endpoint's deliveries, prefetch of them at a time.
	handle   func(jetstream.Msg)
	prefetch int
	// collector is set for a batched endpoint.
	collector *collector
	// batches says the endpoint's batches are consumed.
	batches bool
	// draining is closed when the worker stops consuming the endpoint,
	// to end a wait in its callback (waitPause).
	draining  chan struct{}
	drainOnce sync.Once
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
// until deadline is closed.
func (ec *endpointConsumer) drain(deadline <-chan struct{}) {
	ec.drainOnce.Do(func() { close(ec.draining) })
	for _, cc := range ec.ccs {
		cc.Drain()
	}
	if ec.collector != nil {
		// After the buffered deliveries went in: the batch being collected
		// is handed back whole.
		defer ec.collector.stop()
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
	stopped, stopStarted := context.WithCancel(context.Background())
	committer, err := delivery.NewCommitter(delivery.CommitterConfig{JetStream: topo.JetStream(), Names: topo.Names(),
		Wait: cfg.CommitWait, Max: cfg.CommitMax, Logger: cfg.Logger, Stored: cfg.Attempts})
	if err != nil {
		stopStarted()
		return nil, err
	}
	w := &Worker{
		committer: committer,
		stopped:   stopped, stopStarted: stopStarted,
		cfg:       cfg,
		topo:      topo,
		js:        topo.JetStream(),
		names:     topo.Names(),
		reg:       reg,
		sender:    sender.New(cfg.UserAgent, netguard.New(cfg.AllowNets), cfg.Logger),
		log:       cfg.Logger.With("component", "worker"),
		ackWait:   topo.Config().DeliveryAckWait,
		m:         cfg.Metrics,
		tracer:    tracing.NewTracer(cfg.TracerProvider, "github.com/hookd/hookd/worker"),
		changed:   reg.Changed(),
		global:    make(chan struct{}, cfg.Concurrency),
		movers:    make(chan struct{}, maxMovers),
		consumers: map[string]*endpointConsumer{},
		wakes:     make(chan wakeUp, 4096),
		quit:      make(chan struct{}),

		batchBacklog: map[string]bool{},
	}
	w.shardsRep = transient.Reporter{Log: w.log, Msg: "shard consumers not consuming, restarting"}
	return w, nil
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
	// Records of deliveries still in flight are written before Run
	// returns (stopAll waits for them first), within stopGrace.
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), stopGrace)
		defer cancel()
		w.committer.Close(ctx)
	}()
	// Until JetStream answers (a cluster without quorum, a leader being
	// elected) the worker waits and retries; it is not ready meanwhile.
	err := transient.Retry(ctx, &transient.Reporter{Log: w.log, Msg: "delivery streams and buckets not opened, retrying"}, w.open)
	if ctx.Err() != nil {
		w.stopAll()
		return nil
	}
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	requeuedFollowed := make(chan struct{})
	go func() {
		defer close(requeuedFollowed)
		w.watchRequeued(ctx)
	}()
	defer func() { <-requeuedFollowed }()
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
	if err := w.consumeShards(ctx); err != nil {
		w.stopAll()
		return fmt.Errorf("worker: %w", err)
	}
	w.ready.Store(true)
	defer w.ready.Store(false)
	ticker := time.NewTicker(reconcileInterval)
	defer ticker.Stop()
	var lastSweep time.Time
	w.sweepSoon.Store(true)
	for {
		w.reconcile(ctx)
		w.reconcileShards(ctx)
		if w.sweepSoon.Swap(false) || time.Since(lastSweep) >= sweepInterval {
			w.sweep(ctx)
			lastSweep = time.Now()
		}
		select {
		case <-ctx.Done():
			w.stopAll()
			return nil
		case r := <-w.wakes:
			w.wake(ctx, r.id, r.lane)
		case <-w.changed:
			// An endpoint enabled again may hold deliveries.
			w.sweepSoon.Store(true)
		case <-ticker.C:
		}
	}
}

// open opens the streams and buckets Run works with.
func (w *Worker) open(ctx context.Context) error {
	var err error
	if w.dlog, err = delivery.OpenLog(ctx, w.topo); err != nil {
		return err
	}
	kv, err := w.topo.Endpoints(ctx)
	if err != nil {
		return err
	}
	w.endpoints = endpoint.NewStore(kv, w.cfg.EndpointOptions...)
	hkv, err := w.topo.Health(ctx)
	if err != nil {
		return err
	}
	w.health = kvjson.Bucket[health]{KV: hkv, Kind: "endpoint health"}
	rkv, err := w.topo.Rate(ctx)
	if err != nil {
		return err
	}
	w.rate = kvjson.Bucket[tokenBucket]{KV: rkv, Kind: "rate limit"}
	w.heldMarks, err = w.topo.Held(ctx)
	return err
}

// Ready reports whether the worker is delivering: its endpoints are
// loaded, it listens for their doorbells and consumes every shard (for
// readiness probes).
func (w *Worker) Ready() bool { return w.ready.Load() && w.shardsDown.Load() == 0 }

// reconcile stops consuming endpoints that were disabled or deleted, or
// changed their layout, and those idle with nothing left to deliver; it
// restarts consumers that stopped on their own (say, deleted under them).
func (w *Worker) reconcile(ctx context.Context) {
	snap := w.reg.Snapshot()
	now := time.Now()
	for id, ec := range w.consumers {
		ep := snap.Get(id)
		switch {
		case ec.closed():
			w.log.Warn("consumer stopped, restarting", "endpoint", id)
			ec.drain(closedAfter(drainTimeout))
			delete(w.consumers, id)
			w.wake(ctx, id, 0)
		case ep == nil || ep.Disabled || !sameShape(ep.Layout(), ec.layout):
			ec.drain(closedAfter(drainTimeout))
			delete(w.consumers, id)
			w.log.Info("stopped consuming", "endpoint", id)
			w.wake(ctx, id, 0) // a new layout: consume it anew
		case ec.activity.idleFor(w.cfg.IdleAfter, now) && now.Sub(ec.activity.checked) >= w.cfg.IdleAfter:
			ec.activity.checked = now
			if w.settled(ctx, ec) {
				ec.drain(closedAfter(drainTimeout))
				delete(w.consumers, id)
				w.log.Debug("endpoint idle, stopped pulling", "endpoint", id)
			}
		}
	}
}

// start consumes an endpoint: its held subject, or the given lanes of an
// ordered endpoint, and its batches when it is batched or batches wait for
// it. Its consumers are created (or updated to its layout) as it starts.
func (w *Worker) start(ctx context.Context, id string, layout topology.EndpointLayout, lanes []int) (*endpointConsumer, error) {
	ec := &endpointConsumer{id: id, layout: layout, sem: w.endpointSem(id), lanes: map[int]bool{}, draining: make(chan struct{})}
	ec.activity.touch()
	ec.handle = func(msg jetstream.Msg) { w.dispatch(ec, msg) }
	// Prefetching more than can be in flight would hold deliveries that
	// another worker could be sending; an ordered consumer hands out one.
	ec.prefetch = w.cfg.EndpointConcurrency
	if layout.Ordered {
		ec.prefetch = 1
	}
	deliver := ec.handle
	if layout.Batched {
		ec.collector = &collector{w: w, ec: ec}
		ec.handle, ec.prefetch = ec.collector.add, collectPrefetch
	}
	for _, spec := range w.topo.EndpointConsumerSpecs(id, layout, lanes) {
		if err := w.consume(ctx, ec, spec, ec.handle, ec.prefetch); err != nil {
			return nil, err
		}
		ec.lanes[spec.Lane()] = true
	}
	if layout.Batched || w.batchBacklog[id] {
		if err := w.consume(ctx, ec, w.topo.BatchesConsumerSpec(id, layout), deliver, w.cfg.EndpointConcurrency); err != nil {
			return nil, err
		}
		ec.batches = true
	}
	w.log.Debug("consuming", "endpoint", id, "ordered", layout.Ordered, "lanes", lanes, "batched", layout.Batched, "batches", ec.batches)
	return ec, nil
}

// addLanes starts consuming lanes of an ordered endpoint not consumed yet.
func (w *Worker) addLanes(ctx context.Context, ec *endpointConsumer, lanes []int) {
	var more []int
	for _, lane := range lanes {
		if !ec.lanes[lane] {
			more = append(more, lane)
		}
	}
	for _, spec := range w.topo.EndpointConsumerSpecs(ec.id, ec.layout, more) {
		if err := w.consume(ctx, ec, spec, ec.handle, ec.prefetch); err != nil {
			w.log.Debug("cannot consume lane yet", "endpoint", ec.id, "lane", spec.Lane(), "err", err)
			continue
		}
		ec.lanes[spec.Lane()] = true
	}
}

// consume creates (or updates) the consumer of spec and starts handing its
// messages to handle; on failure it stops what ec consumed already.
func (w *Worker) consume(ctx context.Context, ec *endpointConsumer, spec topology.ConsumerSpec, handle func(jetstream.Msg), prefetch int) error {
	cons, err := w.topo.Consumer(ctx, spec)
	if err != nil {
		ec.drain(closedAfter(drainTimeout))
		return err
	}
	// A delivery stored before its consumer was made may have waited in
	// an earlier consumer of the subject (removed when idle, or by hand),
	// whose redelivery count and delayed naks went with it: its attempts
	// are read from the log.
	created := cons.CachedInfo().Created
	inner := handle
	handle = func(msg jetstream.Msg) {
		// Its metadata read once: here, preflight, the log and a move ask.
		msg = jsmsg.WithMetadata(msg)
		if meta, err := msg.Metadata(); err == nil && meta.Timestamp.Before(created) && msg.Headers() != nil {
			msg.Headers().Set(readLogHeader, "1")
		}
		inner(msg)
	}
	cc, err := cons.Consume(handle, append(topology.ConsumeOptions(prefetch),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			w.log.Debug("consume", "endpoint", ec.id, "err", err)
		}))...)
	if err != nil {
		ec.drain(closedAfter(drainTimeout))
		return fmt.Errorf("consume endpoint %s: %w", ec.id, err)
	}
	ec.consumers, ec.ccs = append(ec.consumers, cons), append(ec.ccs, cc)
	return nil
}

// dispatch runs in the consumer's callback: blocking here is the
// backpressure that keeps in-flight deliveries within both limits.
func (w *Worker) dispatch(ec *endpointConsumer, msg jetstream.Msg) {
	if !w.begin() {
		_ = msg.Nak() // another worker takes it now, not after the ack wait
		return
	}
	ec.activity.touch()
	if len(ec.sem) == cap(ec.sem) && ec.layout.Plain() {
		// Still busy: keep its deliveries coming here, not to the queue.
		go w.markHeld(ec.id)
	}
	w.acquire(ec.sem, msg)
	w.waitPause(ec, msg)
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

// begin registers work that stopAll waits for; false once stopping.
func (w *Worker) begin() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopping {
		return false
	}
	w.inflight.Add(1)
	return true
}

// isStopping reports whether the worker is shutting down.
func (w *Worker) isStopping() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stopping
}

func (w *Worker) stopAll() {
	w.mu.Lock()
	if !w.stopping {
		w.stopping = true
		close(w.quit)
		w.stopStarted()
	}
	w.mu.Unlock()
	// One deadline for all: a time.After channel would end only the first
	// wait on it, and the next consumer that does not close would hold
	// shutdown for good.
	deadline := closedAfter(drainTimeout)
	for _, cc := range w.shards {
		if cc != nil {
			cc.Drain()
		}
	}
	for _, ec := range w.consumers {
		for _, cc := range ec.ccs {
			cc.Drain()
		}
	}
	for _, cc := range w.shards {
		if cc == nil {
			continue
		}
		select {
		case <-cc.Closed():
		case <-deadline:
		}
	}
	for id, ec := range w.consumers {
		ec.drain(deadline)
		delete(w.consumers, id)
	}
	w.inflight.Wait()
}

// sameShape reports whether two layouts are consumed the same way: a new
// max_in_flight restarts the endpoint's consumers, which updates them; new
// batch limits do not (collectors read them as they go).
func sameShape(a, b topology.EndpointLayout) bool {
	return a == b
}
