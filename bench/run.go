package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Result is what a run measured. Rates are per second, durations in
// seconds.
type Result struct {
	Endpoints       int     `json:"endpoints"`
	Rate            float64 `json:"rate"` // 0: saturation
	DurationSeconds float64 `json:"duration_seconds"`
	NATS            string  `json:"nats"`
	Receiver        string  `json:"receiver"`
	SyncAlways      bool    `json:"sync_always"`

	// EndpointCreateSeconds is how long creating the endpoints through
	// the API took (POST /v1/endpoints/bulk, until the last answer), and
	// EndpointsCreatedPerSecond the rate; EndpointsRoutableSeconds is
	// until the router had seen every one.
	EndpointCreateSeconds     float64 `json:"endpoint_create_seconds"`
	EndpointsCreatedPerSecond float64 `json:"endpoints_created_per_second"`
	EndpointsRoutableSeconds  float64 `json:"endpoints_routable_seconds"`

	Ledger Ledger `json:"ledger"`

	AcceptedPerSecond   float64 `json:"accepted_per_second"`
	DeliveriesPerSecond float64 `json:"deliveries_per_second"`
	Latency             Latency `json:"latency_seconds"`
	// CPUSecondsPer1000 is this process's CPU time (hookd, the embedded
	// server, the driver and an in-process receiver) per 1,000 deliveries.
	CPUSecondsPer1000 float64 `json:"cpu_seconds_per_1000_deliveries"`
	PeakRSSBytes      int64   `json:"peak_rss_bytes"`
	// IdleCPUFraction is the cores used with no event flowing (--idle),
	// and IdleRSSBytes the resident memory then.
	IdleCPUFraction float64 `json:"idle_cpu_fraction,omitempty"`
	IdleRSSBytes    int64   `json:"idle_rss_bytes,omitempty"`

	DirectHTTPPerSecond float64 `json:"direct_http_per_second,omitempty"`
	JetStreamPerSecond  float64 `json:"jetstream_publish_per_second,omitempty"`
	VsDirectHTTP        float64 `json:"deliveries_vs_direct_http,omitempty"`
	VsJetStream         float64 `json:"deliveries_vs_jetstream_publish,omitempty"`

	// Isolation is set by --failing-backlog; the fields above then describe
	// its WithBacklog phase.
	Isolation *Isolation `json:"isolation,omitempty"`
}

// Ledger accounts for every event: published = delivered + missing. A run
// whose ledger does not balance (deliveries of events never published,
// unreadable deliveries) is void.
type Ledger struct {
	Published  int64 `json:"published"`
	Rejected   int64 `json:"rejected"`
	Delivered  int64 `json:"delivered"`
	Missing    int64 `json:"missing"`
	Duplicates int64 `json:"duplicates"`
	Unexpected int64 `json:"unexpected"`
	Balanced   bool  `json:"balanced"`
}

// Run starts the pipeline and a receiver, drives events, waits for their
// deliveries, runs the baselines and returns the measurements.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	res := &Result{Endpoints: cfg.Endpoints, Rate: cfg.Rate, DurationSeconds: cfg.Duration.Seconds(), SyncAlways: cfg.SyncAlways,
		NATS: "embedded", Receiver: "in-process"}
	rcv, receiverURL, stopReceiver, err := openReceiver(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer stopReceiver()
	if cfg.ReceiverURL != "" {
		res.Receiver = cfg.ReceiverURL
	}
	p, err := startPipeline(cfg)
	if err != nil {
		return nil, err
	}
	defer p.close()
	if cfg.NATSURLs != "" {
		res.NATS = cfg.NATSURLs
	}
	created, err := p.createEndpoints(ctx, cfg.Endpoints, receiverURL)
	if err != nil {
		return nil, err
	}
	res.EndpointCreateSeconds, res.EndpointsRoutableSeconds = created.api.Seconds(), created.routable.Seconds()
	res.EndpointsCreatedPerSecond = float64(cfg.Endpoints) / created.api.Seconds()
	if cfg.AtStart != nil {
		cfg.AtStart()
	}
	if cfg.Idle > 0 {
		// Let the workers settle on their new endpoints first.
		time.Sleep(min(cfg.Idle, 5*time.Second)) // a measurement window, not a synchronisation
		// The creation's garbage (requests, answers, the driver's own) is
		// left to a collection and the runtime's return of free memory to
		// the system, as a long-running process gets them from its periodic
		// collection (every 2 minutes at most) and background scavenger:
		// the idle figures are the steady state, not the creation's peak
		// (which PeakRSSBytes keeps).
		runtime.GC()
		debug.FreeOSMemory()
		c0, t0 := cpuTime(), time.Now()
		time.Sleep(cfg.Idle) // the measurement window
		res.IdleCPUFraction = (cpuTime() - c0).Seconds() / time.Since(t0).Seconds()
		res.IdleRSSBytes = currentRSS()
	}
	// As hookd itself: the raw JetStream baseline makes a scratch stream,
	// which producers may not.
	nc, err := nats.Connect(p.natsURL(cfg), append(p.app.NATSOptions(), nats.Name("hookd-bench"))...)
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return nil, err
	}
	if !cfg.NoBaselines {
		// Before the run, on a quiet pipeline.
		if res.DirectHTTPPerSecond, err = directHTTP(ctx, receiverURL+"/baseline", cfg.Concurrency, baselineBody(cfg)); err != nil {
			return nil, err
		}
		if res.JetStreamPerSecond, err = rawPublish(ctx, js, p.app.Names(), baselineBody(cfg)); err != nil {
			return nil, err
		}
	}
	var first int64
	if cfg.FailingBacklog > 0 {
		// The same drive without, then with, the failing endpoint.
		idle := cpuUse(ctx, time.Second)
		base, err := measure(ctx, js, rcv, p.app.Names(), cfg, 0)
		if err != nil {
			return nil, err
		}
		res.Isolation = &Isolation{FailingBacklog: cfg.FailingBacklog, IdleCPU: idle, Baseline: base.Phase}
		if err := p.queueFailingBacklog(ctx, js, cfg, receiverURL, res.Isolation); err != nil {
			return nil, err
		}
		first = base.next
	}
	ph, err := measure(ctx, js, rcv, p.app.Names(), cfg, first)
	if err != nil {
		return nil, err
	}
	res.Ledger, res.AcceptedPerSecond, res.DeliveriesPerSecond = ph.Ledger, ph.AcceptedPerSecond, ph.DeliveriesPerSecond
	res.Latency, res.CPUSecondsPer1000 = ph.Latency, ph.CPUSecondsPer1000
	if iso := res.Isolation; iso != nil {
		iso.WithBacklog, iso.FailingAttempts = ph.Phase, ph.failing
		if iso.Baseline.Latency.P99 > 0 {
			iso.P99Ratio = iso.WithBacklog.Latency.P99 / iso.Baseline.Latency.P99
		}
		b, err := p.app.Topology().Backlog(ctx, iso.FailingEndpoint)
		if err != nil {
			return nil, fmt.Errorf("failing endpoint's backlog: %w", err)
		}
		iso.BacklogAtEnd = b.Messages
	}
	if !cfg.NoBaselines {
		// Again after the run; the higher figure is the baseline, so that a
		// noisy neighbour during one of them cannot flatter hookd.
		after, err := directHTTP(ctx, receiverURL+"/baseline", cfg.Concurrency, baselineBody(cfg))
		if err != nil {
			return nil, err
		}
		res.DirectHTTPPerSecond = max(res.DirectHTTPPerSecond, after)
		res.VsDirectHTTP = res.DeliveriesPerSecond / res.DirectHTTPPerSecond
		res.VsJetStream = res.DeliveriesPerSecond / res.JetStreamPerSecond
	}
	res.PeakRSSBytes = peakRSS()
	if cfg.AtEnd != nil {
		cfg.AtEnd()
	}
	return res, nil
}

// waitDelivered waits until every published event was delivered, or until
// no delivery arrived for drain.
func waitDelivered(ctx context.Context, rcv receiverClient, published int64, drain time.Duration) (ReceiverStats, error) {
	last, lastChange := int64(-1), time.Now()
	for {
		stats, err := rcv.stats(ctx)
		if err != nil {
			return stats, err
		}
		if stats.Distinct >= published || time.Since(lastChange) > drain || ctx.Err() != nil {
			return stats, nil
		}
		if stats.Distinct != last {
			last, lastChange = stats.Distinct, time.Now()
		}
		time.Sleep(20 * time.Millisecond) // polling the receiver's counter
	}
}

func ledgerOf(d *drive, stats ReceiverStats, rcv receiverClient) Ledger {
	l := Ledger{Published: d.published, Rejected: d.rejected, Duplicates: stats.Duplicates}
	if local, ok := rcv.(localReceiver); ok {
		for seq, acked := range d.acked {
			switch got := local.delivered(int64(seq)); {
			case acked && got:
				l.Delivered++
			case !acked && got:
				l.Unexpected++
			}
		}
	} else {
		l.Delivered = min(stats.Distinct, d.published)
		l.Unexpected = max(stats.Distinct-d.published, 0)
	}
	l.Unexpected += stats.Unreadable
	l.Missing = l.Published - l.Delivered
	l.Balanced = l.Unexpected == 0 && l.Published == l.Delivered+l.Missing
	return l
}

// receiverClient reads a receiver, in-process or over HTTP.
type receiverClient interface {
	stats(ctx context.Context) (ReceiverStats, error)
	reset(ctx context.Context) error
}

type localReceiver struct{ *Receiver }

func (l localReceiver) stats(context.Context) (ReceiverStats, error) { return l.Stats(), nil }
func (l localReceiver) reset(context.Context) error                  { l.Reset(); return nil }

type remoteReceiver struct{ url string }

func (r remoteReceiver) stats(ctx context.Context) (ReceiverStats, error) {
	var s ReceiverStats
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.url+"/stats", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return s, fmt.Errorf("--receiver-url: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("--receiver-url: GET /stats answered %d: is it `hookd bench receiver`?", resp.StatusCode)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

func (r remoteReceiver) reset(ctx context.Context) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.url+"/reset", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("--receiver-url: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("--receiver-url: POST /reset answered %d: is it `hookd bench receiver`?", resp.StatusCode)
	}
	return nil
}

// openReceiver serves an in-process receiver, unless cfg names one.
func openReceiver(ctx context.Context, cfg Config) (receiverClient, string, func(), error) {
	if cfg.ReceiverURL != "" {
		r := remoteReceiver{url: strings.TrimRight(cfg.ReceiverURL, "/")}
		if _, err := r.stats(ctx); err != nil {
			return nil, "", nil, err
		}
		return r, r.url, func() {}, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", nil, fmt.Errorf("receiver: %w", err)
	}
	rc := NewReceiver()
	srv := &http.Server{Handler: rc, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return localReceiver{rc}, "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

// baselineBody is an event like the run's, for the baselines.
func baselineBody(cfg Config) []byte {
	return appendEvent(nil, 0, 1, time.Now().UnixNano(), strings.Repeat("x", max(cfg.PayloadBytes-80, 0)))
}
