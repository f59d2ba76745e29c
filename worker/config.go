package worker

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/hookd/hookd/delivery"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/metrics"
	"github.com/hookd/hookd/ops"
	"github.com/hookd/hookd/version"
)

// DefaultRetrySchedule is the delay before each retry: 8 attempts over about
// 28 hours, the schedule Svix popularised.
var DefaultRetrySchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// Config configures a Worker.
type Config struct {
	// RetrySchedule is the delay before each retry; its length is the number
	// of retries. Optional: default DefaultRetrySchedule.
	RetrySchedule []time.Duration
	// Jitter spreads each retry delay by up to this fraction either way, so
	// retries of a burst do not arrive together. Optional: default 0.2;
	// negative means none.
	Jitter float64
	// Timeout bounds one HTTP attempt. Optional: default 15s.
	Timeout time.Duration
	// Concurrency bounds the deliveries in flight in this process.
	// Optional: default 512.
	Concurrency int
	// DirectTimeout bounds an attempt made on the fast path (Direct), the
	// longest a router waits for one; an attempt that needs longer is
	// cut off and retried from the held subject. Optional: default
	// DefaultDirectTimeout (1s), at most Timeout; negative turns the fast
	// path off (Direct declines every delivery).
	DirectTimeout time.Duration
	// DirectMaxLatency is the typical attempt duration (a moving average
	// of this worker's attempts to the endpoint, whatever their path)
	// from which an endpoint is no longer delivered to directly: its
	// router would wait on it. An endpoint's first deliveries are queued,
	// as its duration is not known yet. Optional: default
	// DefaultDirectMaxLatency (100ms).
	DirectMaxLatency time.Duration
	// EndpointConcurrency bounds the deliveries in flight to one endpoint
	// from this process. Optional: default 64.
	EndpointConcurrency int
	// IdleAfter is how long an endpoint may hand a worker nothing before
	// the worker checks whether it has deliveries left, and stops pulling
	// from it if not. Optional: default 30s.
	IdleAfter time.Duration
	// CommitWait is the longest an attempt record waits for others to be
	// written with (group commit, see delivery.Committer); CommitMax is how
	// many are written at once at most. Optional: defaults
	// delivery.DefaultCommitWait (1ms) and delivery.DefaultCommitMax (256).
	CommitWait time.Duration
	CommitMax  int
	// AutoDisableAfter disables an endpoint that has only failed for this
	// long (its deliveries are kept). Optional: default 120h (5 days);
	// negative turns it off.
	AutoDisableAfter time.Duration
	// AutoDisableFailures disables an endpoint after this many failed
	// attempts in a row. Optional: default 0, off.
	AutoDisableFailures int
	// FailingAfter raises a delivery.failing operational event when a
	// delivery has failed this many attempts. Optional: default 3.
	FailingAfter int
	// OpsDeliverySucceeded raises a delivery.succeeded operational event
	// for every successful delivery (of an event that is not itself one).
	// Optional: default false: it doubles the writes of each delivery.
	OpsDeliverySucceeded bool
	// AllowNets are the otherwise refused networks (loopback, private,
	// link-local...) deliveries may connect to. Optional: default none:
	// public addresses only (see package netguard).
	AllowNets []netip.Prefix
	// EndpointOptions configure the worker's endpoint store (say, the
	// sealer of secrets at rest). Optional.
	EndpointOptions []endpoint.Option
	// Ops publishes operational events. Optional: none when nil.
	Ops *ops.Publisher
	// UserAgent is sent with every delivery. Optional: default
	// "hookd/<version>".
	UserAgent string
	// Attempts is told of every delivery log record this worker stored
	// (the endpoint stats counters). Optional: default none.
	Attempts delivery.AttemptRecorder
	// Metrics counts attempts, retries and dead letters, and times
	// attempts and deliveries. Optional: default instruments of a registry
	// of their own, which nothing serves.
	Metrics *metrics.Delivery
	// TracerProvider makes the deliver spans. Optional: default no-op,
	// which still passes the event's trace context on to the receiver.
	TracerProvider trace.TracerProvider
	// Logger receives the worker's logs. Optional: default slog.Default().
	Logger *slog.Logger
	// FaultHook is for fault tests only: the worker calls it at every
	// FaultPoint a delivery reaches, with the delivery's id, and goes on
	// when it returns. A test "kills" the worker at a point by closing the
	// worker's NATS connection in the hook: nothing after the point
	// reaches the server, as if the process had died there. Optional:
	// default nil, which costs a nil check per point.
	FaultHook func(p FaultPoint, deliveryID string)
}

func (c *Config) setDefaults() {
	if c.RetrySchedule == nil {
		c.RetrySchedule = DefaultRetrySchedule
	}
	if c.Timeout == 0 {
		c.Timeout = 15 * time.Second
	}
	if c.DirectTimeout == 0 {
		c.DirectTimeout = min(DefaultDirectTimeout, c.Timeout)
	}
	if c.DirectMaxLatency == 0 {
		c.DirectMaxLatency = DefaultDirectMaxLatency
	}
	if c.IdleAfter == 0 {
		c.IdleAfter = 30 * time.Second
	}
	if c.AutoDisableAfter == 0 {
		c.AutoDisableAfter = 120 * time.Hour
	}
	if c.FailingAfter == 0 {
		c.FailingAfter = 3
	}
	if c.Jitter == 0 {
		c.Jitter = 0.2
	}
	if c.Jitter < 0 {
		c.Jitter = 0
	}
	if c.Concurrency == 0 {
		c.Concurrency = 512
	}
	if c.EndpointConcurrency == 0 {
		c.EndpointConcurrency = 64
	}
	if c.UserAgent == "" {
		c.UserAgent = version.UserAgent()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = metrics.New(metrics.Options{Logger: c.Logger}).Delivery
	}
	if c.TracerProvider == nil {
		c.TracerProvider = noop.NewTracerProvider()
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	for i, d := range c.RetrySchedule {
		if d <= 0 {
			return fmt.Errorf("worker: retry schedule step %d is %s, must be positive", i+1, d)
		}
	}
	if c.Jitter >= 1 {
		return errors.New("worker: jitter must be below 1")
	}
	if c.Timeout < 0 {
		return errors.New("worker: timeout must be positive")
	}
	if c.Concurrency < 0 || c.EndpointConcurrency < 0 {
		return errors.New("worker: concurrency must be positive")
	}
	if c.DirectMaxLatency < 0 {
		return errors.New("worker: direct max latency must not be negative")
	}
	if c.CommitWait < 0 || c.CommitMax < 0 {
		return errors.New("worker: commit wait and max must not be negative")
	}
	return nil
}
