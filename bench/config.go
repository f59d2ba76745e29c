package bench

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/topology"
)

// Config configures a bench run.
type Config struct {
	// NATSURLs runs the pipeline against an existing NATS deployment.
	// Optional: empty runs an embedded server in a temporary directory.
	NATSURLs string
	// NATSClient is how the pipeline signs in to NATSURLs (credentials,
	// TLS), as hookd's --nats-* flags say. Optional.
	NATSClient app.NATSClient
	// Prefix namespaces the pipeline's streams, buckets and subjects, as
	// hookd's --prefix does (topology.Config.Prefix). Optional: default
	// none.
	Prefix string
	// ReceiverURL is a receiver started separately (`hookd bench
	// receiver`). Optional: empty serves one in-process.
	ReceiverURL string
	// Endpoints is how many endpoints are created, each with a filter on
	// its own tenant value; events go to them in turn. Optional: default 1.
	Endpoints int
	// Rate is the events per second driven open-loop. Optional: 0 drives
	// as fast as the pipeline delivers (saturation): events run at most
	// SaturationWindow ahead of the receiver.
	Rate float64
	// SaturationWindow bounds, at saturation, the events published and not
	// yet delivered: enough to keep every router and worker slot busy,
	// without which the driver (accepting 100,000 events a second and
	// more) queues minutes of backlog, and the run measures that drain
	// with its garbage instead of a steady state. Optional: default 10,000.
	SaturationWindow int64
	// Duration is how long events are driven. Optional: default 10s.
	Duration time.Duration
	// PayloadBytes pads each event's data to about this size. Optional:
	// default none (about 80 bytes).
	PayloadBytes int
	// SyncAlways runs the embedded server with fsync before every ack.
	// Optional.
	SyncAlways bool
	// Concurrency is the worker's in-flight deliveries per endpoint, and the
	// direct HTTP baseline's concurrency. Optional: default 64.
	Concurrency int
	// Idle, when set, measures CPU and memory for this long with every
	// endpoint created and no event flowing, before driving, after a
	// garbage collection has returned the creation's garbage to the
	// system. Optional.
	Idle time.Duration
	// Drain bounds the wait for deliveries after driving stops, once no
	// progress is made. Optional: default 10s.
	Drain time.Duration
	// FailingBacklog, when set, measures isolation: the run drives the
	// endpoints twice at Rate for Duration, first as usual, then with one
	// more endpoint that answers 503 after FailingDelay (retrying every
	// second) and has this many deliveries waiting, and reports both
	// latencies (Result.Isolation). Optional: default 0, none; needs a
	// Rate; at most MaxFailingBacklog.
	FailingBacklog int
	// FailingWait is how long the run waits once the failing backlog is in
	// place (routed, out of the shared queue, the pipeline quiet) before
	// the with-backlog drive: a backlog that arrived a while ago, as most
	// do, no longer weighs in the server's memory of recent message ids
	// (its 2-minute duplicate window) and caches. Optional: default 0.
	FailingWait time.Duration
	// Baselines runs the direct HTTP and raw JetStream baselines. Optional:
	// default true (set NoBaselines to skip them).
	NoBaselines bool
	// AtStart runs once the pipeline is up and the endpoints exist, just
	// before the measurements (say, to start a CPU profile). Optional.
	AtStart func()
	// AtEnd runs once the measurements are taken, with the pipeline still
	// up (say, to write a heap profile). Optional.
	AtEnd func()
	// Logger receives the pipeline's logs. Optional: default discards
	// everything below warnings.
	Logger *slog.Logger

	// apiKeyRateLimit is the pipeline's --api-rate-limit: 0 is hookd's
	// default (200/s). Tests lower it.
	apiKeyRateLimit float64
}

// MaxFailingBacklog is the largest Config.FailingBacklog: the default
// per-endpoint backlog cap (topology.DefaultEndpointMaxMsgs), beyond
// which routing would refuse the failing endpoint's deliveries.
const MaxFailingBacklog = topology.DefaultEndpointMaxMsgs

func (c *Config) setDefaults() {
	if c.Endpoints == 0 {
		c.Endpoints = 1
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.Concurrency == 0 {
		c.Concurrency = 64
	}
	if c.SaturationWindow <= 0 {
		c.SaturationWindow = 10_000
	}
	if c.Drain == 0 {
		c.Drain = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Validate reports a configuration that cannot run; errors name the flag.
func (c Config) Validate() error {
	switch {
	case c.Endpoints < 1 || c.Endpoints > 100000:
		return fmt.Errorf("--endpoints must be from 1 to 100000, not %d", c.Endpoints)
	case c.Rate < 0:
		return errors.New("--rate must be positive, or max")
	case c.Duration < 100*time.Millisecond:
		return fmt.Errorf("--duration must be at least 100ms, not %s", c.Duration)
	case c.PayloadBytes < 0 || c.PayloadBytes > 512<<10:
		return fmt.Errorf("--payload-bytes must be from 0 to %d", 512<<10)
	case c.Concurrency < 1:
		return fmt.Errorf("--concurrency must be positive, not %d", c.Concurrency)
	case topology.ValidatePrefix(c.Prefix) != nil:
		return fmt.Errorf("--prefix: %v", topology.ValidatePrefix(c.Prefix))
	case c.FailingBacklog < 0 || c.FailingBacklog > MaxFailingBacklog:
		return fmt.Errorf("--failing-backlog must be from 0 to %d, not %d", MaxFailingBacklog, c.FailingBacklog)
	case c.FailingBacklog > 0 && c.Rate == 0:
		// At saturation latency is the queue the driver builds, whatever
		// the failing endpoint does.
		return errors.New("--failing-backlog needs a fixed --rate, not max: isolation compares latencies below saturation")
	case c.FailingWait < 0 || c.FailingWait > 0 && c.FailingBacklog == 0:
		return fmt.Errorf("--failing-wait must be positive, with --failing-backlog, not %s", c.FailingWait)
	case c.SyncAlways && c.NATSURLs != "":
		return errors.New("--sync always applies to the embedded server only: configure sync on your NATS servers")
	}
	return nil
}
