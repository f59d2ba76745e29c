package router

import (
	"errors"
	"log/slog"
	"time"

	"github.com/hookd/hookd/delivery"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/hookd/hookd/metrics"
	"github.com/hookd/hookd/topology"
)

// Config configures a Router.
type Config struct {
	// Concurrency is how many events this router routes at once; at
	// most half of them wait on direct attempts. Optional: default
	// DefaultConcurrency (32), twice that with Direct.
	Concurrency int
	// AckWait is how long an event may stay unacknowledged before JetStream
	// gives it to another router. Optional: default 30s.
	AckWait time.Duration
	// PublishTimeout bounds waiting for the endpoint streams' acks.
	// Optional: default 10s.
	PublishTimeout time.Duration
	// MaxRouteAttempts is how often routing an event may fail before the
	// endpoints it could not reach get it as a dead letter. Optional:
	// default 10 (about a minute of retries).
	MaxRouteAttempts int
	// MaxHoldAttempts is how often an event is retried while an endpoint
	// stream it goes to is full, before its delivery to that endpoint is
	// dead-lettered (recoverable with POST /v1/endpoints/{id}/recover).
	// While held, events count against the routers' unacknowledged limit,
	// so a full endpoint slows routing for all; the bound keeps that
	// short. Optional: default 15 (about two minutes of backoff).
	MaxHoldAttempts int
	// PendingHold is how long a router holds the events an endpoint may
	// receive while that endpoint's creation has not completed (it is
	// stored, but not yet where its events begin: milliseconds, normally).
	// Past it, the creation failed half-way: events are routed on without
	// the endpoint, which receives none. Optional: default 10s.
	PendingHold time.Duration
	// Metrics counts events, rule evaluations and dead letters. Optional:
	// default instruments of a registry of their own, which nothing serves.
	Metrics *metrics.Routing
	// RuleErrors is told of every rule error (an endpoint's filter,
	// ordering key or payload failing on an event; see RuleErrorFilter),
	// which the router also logs at WARN, at most once a minute per
	// endpoint and kind. Optional: default none.
	RuleErrors RuleErrorRecorder
	// Attempts is told of the dead records the router writes for events
	// it could not route to an endpoint (the endpoint stats counters).
	// Optional: default none.
	Attempts delivery.AttemptRecorder
	// Direct takes deliveries to attempt before they are queued (the fast
	// path: the worker of the same process). Only the first routing of an
	// event uses it, and only for plain endpoints that are not held.
	// Optional: default none, every delivery is queued.
	Direct DirectDeliverer
	// TracerProvider makes the route spans. Optional: default no-op, which
	// still carries a producer's trace context to the deliveries.
	TracerProvider trace.TracerProvider
	// Logger receives the router's logs. Optional: default slog.Default().
	Logger *slog.Logger
}

// DefaultConcurrency is Config.Concurrency's default without Direct.
const DefaultConcurrency = 32

func (c *Config) setDefaults() {
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
		if c.Direct != nil {
			// Half of them may wait on direct attempts (directSlots): the
			// other half routes as without them.
			c.Concurrency = 2 * DefaultConcurrency
		}
	}
	if c.AckWait == 0 {
		c.AckWait = topology.DefaultRouterAckWait
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = 10 * time.Second
	}
	if c.MaxRouteAttempts == 0 {
		c.MaxRouteAttempts = 10
	}
	if c.MaxHoldAttempts == 0 {
		c.MaxHoldAttempts = 15
	}
	if c.PendingHold == 0 {
		c.PendingHold = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = metrics.New(metrics.Options{Logger: c.Logger}).Routing
	}
	if c.TracerProvider == nil {
		c.TracerProvider = noop.NewTracerProvider()
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.Concurrency < 0 {
		return errors.New("router: concurrency must be positive")
	}
	if c.PendingHold < 0 {
		return errors.New("router: pending hold must not be negative")
	}
	if c.PublishTimeout >= c.AckWait {
		return errors.New("router: publish timeout must be shorter than the ack wait")
	}
	return nil
}
