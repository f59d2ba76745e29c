package router

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/rules"
	"github.com/hookd/hookd/topology"
)

// Router routes events to endpoint streams.
type Router struct {
	cfg  Config
	js   jetstream.JetStream
	reg  *endpoint.Registry
	log  *slog.Logger
	mw   []Middleware
	seed time.Time // events stream creation time, for derived event ids
}

// New returns a Router. reg must be run by the caller.
func New(topo *topology.Topology, reg *endpoint.Registry, cfg Config, mw ...Middleware) (*Router, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Router{cfg: cfg, js: topo.JetStream(), reg: reg, log: cfg.Logger.With("component", "router"), mw: mw}, nil
}

// Run routes events until ctx is done. It starts only once the registry has
// loaded every endpoint, so no event is routed against a partial view. If
// its consumer stops on its own (deleted, say), Run creates it again.
func (r *Router) Run(ctx context.Context) error {
	select {
	case <-r.reg.Ready():
	case <-ctx.Done():
		return nil
	}
	handle := Handler(r.route)
	for i := len(r.mw) - 1; i >= 0; i-- {
		handle = r.mw[i](handle)
	}
	for {
		err := r.consume(ctx, handle)
		if ctx.Err() != nil {
			return nil
		}
		r.log.Warn("router consumer stopped, restarting", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (r *Router) consume(ctx context.Context, handle Handler) error {
	stream, err := r.js.Stream(ctx, topology.EventsStream)
	if err != nil {
		return fmt.Errorf("router: events stream: %w", err)
	}
	r.seed = stream.CachedInfo().Created
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       topology.RouterConsumer,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       r.cfg.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: 10000,
	})
	if err != nil {
		return fmt.Errorf("router: consumer: %w", err)
	}
	msgs := make(chan jetstream.Msg)
	stopping := make(chan struct{})
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case msgs <- m:
		case <-stopping:
			_ = m.Nak() // let another router have it now
		}
	}, jetstream.PullMaxMessages(2*r.cfg.Concurrency),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			r.log.Debug("consume", "err", err)
		}))
	if err != nil {
		return fmt.Errorf("router: consume: %w", err)
	}
	var wg sync.WaitGroup
	for range r.cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ev rules.Evaluator // one VM per goroutine
			for {
				select {
				case <-stopping:
					return
				case m := <-msgs:
					r.settle(ctx, m, handle(context.WithoutCancel(ctx), m, &ev))
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
