package router

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/internal/jsmsg"
	"github.com/hookd/hookd/internal/transient"
	"github.com/hookd/hookd/metrics"
	"github.com/hookd/hookd/rules"
	"github.com/hookd/hookd/topology"
	"github.com/hookd/hookd/tracing"
)

// Router routes events to endpoint streams.
type Router struct {
	cfg  Config
	js   jetstream.JetStream
	topo *topology.Topology
	reg  *endpoint.Registry
	log  *slog.Logger
	mw   []Middleware
	seed time.Time // events stream creation time, for derived event ids
	bell doorbell
	// routing holds routing progress; nil until Run has opened it.
	routing jetstream.KeyValue
	m       *metrics.Routing
	names   topology.Names // the deployment's stream and subject names
	tracer  tracing.Tracer
	// consuming counts the lanes whose consumer is running, for Ready.
	consuming atomic.Int32
	// errs records rule errors.
	errs *ruleErrors
	// fence and creating keep membership in time (membership.go); fence
	// is nil until Run has found the streams it reads.
	fence    *fence
	creating *creating
	// held are the plain endpoints routed to their held subject for now.
	held heldMarks
	// holds counts the naks that only held an event back (settle).
	holds holds
	// indexSlow is set while index records are not acknowledged in time
	// (awaitIndex); indexLeft reports them, at a bounded rate.
	indexSlow atomic.Bool
	indexLeft transient.Reporter
	// directSlots bounds the routes waiting on direct attempts at once
	// (half of Concurrency), so an endpoint that turns slow never holds
	// every route.
	directSlots chan struct{}
}

// numLanes is how many lanes Run consumes: parallel and ordered.
const numLanes = 2

// stopGrace is how long routes in progress at the stop may go on.
const stopGrace = 2 * time.Second

// Ready reports whether the router consumes every lane of the events
// stream (for readiness probes).
func (r *Router) Ready() bool { return r.consuming.Load() == numLanes }

// New returns a Router. reg must be run by the caller.
func New(topo *topology.Topology, reg *endpoint.Registry, cfg Config, mw ...Middleware) (*Router, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger.With("component", "router")
	return &Router{cfg: cfg, js: topo.JetStream(), topo: topo, names: topo.Names(), reg: reg, log: log, mw: mw,
		m: cfg.Metrics, tracer: tracing.NewTracer(cfg.TracerProvider, "github.com/hookd/hookd/router"),
		errs: newRuleErrors(cfg.RuleErrors, log), creating: newCreating(cfg.PendingHold, log),
		directSlots: make(chan struct{}, max(cfg.Concurrency/2, 1)),
		indexLeft:   transient.Reporter{Log: log, Msg: "event index not written (routing does not wait for it)"}}, nil
}

// Run routes events until ctx is done. It starts only once the registry has
// loaded every endpoint, so no event is routed against a partial view. It
// runs two lanes over the events stream, each through its own durable
// consumer shared by all routers: the parallel lane routes to unordered
// endpoints, the ordered lane (one event at a time) to ordered ones.
func (r *Router) Run(ctx context.Context) error {
	select {
	case <-r.reg.Ready():
	case <-ctx.Done():
		return nil
	}
	// Until JetStream answers (a cluster without quorum, a leader being
	// elected) or another process has made the streams, the router waits
	// and retries; it is not ready meanwhile.
	var stream, bucket jetstream.Stream
	rep := transient.Reporter{Log: r.log, Msg: "events stream or endpoints bucket not found, retrying"}
	var b transient.Backoff
	for {
		var err error
		if stream, err = r.js.Stream(ctx, r.names.EventsStream()); err == nil {
			if bucket, err = r.js.Stream(ctx, topology.KVStream(r.names.EndpointsBucket())); err == nil {
				rep.Recovered()
				break
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		rep.Failed(err)
		if !transient.Sleep(ctx, b.Next()) {
			return nil
		}
	}
	r.seed = stream.CachedInfo().Created
	r.fence = newFence(stream, bucket, r.reg, min(10*time.Second, r.cfg.AckWait/3), r.log)
	// Without the bucket, retried events go to every endpoint again: it is
	// waited for while JetStream is unavailable for now, not given up.
	err := transient.Retry(ctx, &transient.Reporter{Log: r.log, Msg: "routing progress bucket not opened, retrying"}, func(ctx context.Context) error {
		kv, err := r.js.KeyValue(ctx, r.names.RoutingBucket())
		r.routing = kv
		return err
	})
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		r.log.Warn("routing progress bucket missing: retried events go to every endpoint again", "err", err)
	}
	var followers sync.WaitGroup
	followers.Go(func() { r.held.follow(ctx, r.topo.Held, r.log) })
	defer followers.Wait()
	lanes := []lane{
		{consumer: topology.RouterConsumer, concurrency: r.cfg.Concurrency},
		{consumer: topology.OrderedRouterConsumer, concurrency: 1, ordered: true},
	}
	var wg sync.WaitGroup
	for _, l := range lanes {
		handle := r.handler(l.ordered)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.runLane(ctx, stream, l, handle)
		}()
	}
	wg.Wait()
	return nil
}

// lane is one way events go through routers: the parallel lane for
// unordered endpoints, the ordered lane for ordered ones.
type lane struct {
	consumer    string
	concurrency int
	ordered     bool
}

func (r *Router) handler(ordered bool) Handler {
	handle := Handler(func(ctx context.Context, m jetstream.Msg, ev *rules.Evaluator) error {
		return r.route(ctx, m, ev, ordered)
	})
	for i := len(r.mw) - 1; i >= 0; i-- {
		handle = r.mw[i](handle)
	}
	return func(ctx context.Context, m jetstream.Msg, ev *rules.Evaluator) error {
		// Routed against a view holding every endpoint stored before the
		// event (membership.go); any later view holds them too.
		meta, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
		if err := r.fence.await(ctx, meta.Sequence.Stream, meta.NumPending); err != nil {
			return err
		}
		if ordered && !r.reg.Snapshot().HasOrdered() {
			return nil // nothing to route in this lane: no decoding, no middleware
		}
		return handle(ctx, m, ev)
	}
}

// runLane consumes one lane until ctx is done; if its consumer stops on its
// own (deleted, say, or its pull requests refused) or cannot be made
// (JetStream unavailable for now), it is made again at once, then with
// backoff while that keeps failing.
func (r *Router) runLane(ctx context.Context, stream jetstream.Stream, l lane, handle Handler) {
	rep := transient.Reporter{Log: r.log, Msg: "router consumer " + l.consumer + " not consuming, restarting"}
	var b transient.Backoff
	consuming := func() {
		b.Reset()
		rep.Recovered()
	}
	for {
		err := r.consume(ctx, stream, l, handle, consuming)
		if ctx.Err() != nil {
			return
		}
		rep.Failed(err)
		if !transient.Sleep(ctx, b.Next()) {
			return
		}
	}
}

// consume consumes l until ctx is done or its consumer stops; consuming
// is called once it consumes.
func (r *Router) consume(ctx context.Context, stream jetstream.Stream, l lane, handle Handler, consuming func()) error {
	cons, err := stream.CreateOrUpdateConsumer(ctx, topology.RouterConsumerConfig(l.ordered, r.cfg.AckWait))
	if err != nil {
		return fmt.Errorf("router: consumer %s: %w", l.consumer, err)
	}
	msgs := make(chan jetstream.Msg)
	stopping := make(chan struct{})
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case msgs <- m:
		case <-stopping:
			_ = m.Nak() // let another router have it now
		}
	}, append(topology.ConsumeOptions(max(2*l.concurrency, 2)),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			r.log.Debug("consume", "consumer", l.consumer, "err", err)
		}))...)
	if err != nil {
		return fmt.Errorf("router: consume: %w", err)
	}
	consuming()
	r.consuming.Add(1)
	defer r.consuming.Add(-1)
	// Routes go on after ctx ends, to finish what they began, but for
	// stopGrace at most: a full disk never acknowledges their publishes,
	// and an event not acknowledged is routed again later anyway.
	routeCtx, abandon := context.WithCancel(context.WithoutCancel(ctx))
	defer abandon()
	stopRoutes := context.AfterFunc(ctx, func() { time.AfterFunc(stopGrace, abandon) })
	defer stopRoutes()
	var wg sync.WaitGroup
	for range l.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ev rules.Evaluator // one VM per goroutine
			for {
				select {
				case <-stopping:
					return
				case m := <-msgs:
					// Its metadata read once: the fence, decoding,
					// progress and settling each ask.
					m = jsmsg.WithMetadata(m)
					r.settle(ctx, m, handle(routeCtx, m, &ev))
				}
			}
		}()
	}
	var stopErr error
	select {
	case <-ctx.Done():
	case <-cc.Closed():
		stopErr = fmt.Errorf("router: consumer closed")
	}
	close(stopping)
	wg.Wait()
	// Hand back what the client had buffered rather than letting it wait
	// out the ack wait.
	cc.Drain()
	select {
	case <-cc.Closed():
	case <-time.After(10 * time.Second):
	}
	return stopErr
}
