package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/embedded"
	"github.com/hookd/hookd/internal/hookdtest"
)

// A short run of the whole pipeline balances its ledger, measures a
// latency and a throughput, and runs both baselines.
func TestRunBalancesItsLedger(t *testing.T) {
	res, err := Run(context.Background(), Config{Endpoints: 3, Rate: 500, Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	l := res.Ledger
	if !l.Balanced || l.Published < 400 || l.Delivered != l.Published || l.Missing != 0 || l.Unexpected != 0 {
		t.Fatalf("ledger %+v: want about 500 published, all delivered, balanced", l)
	}
	if res.Latency.P50 <= 0 || res.Latency.P99 < res.Latency.P50 || res.Latency.Max < res.Latency.P99 {
		t.Fatalf("latency %+v", res.Latency)
	}
	// Rates are measurements, not targets: only their presence is checked.
	if res.DeliveriesPerSecond <= 0 || res.DirectHTTPPerSecond <= 0 || res.JetStreamPerSecond <= 0 || res.CPUSecondsPer1000 <= 0 || res.PeakRSSBytes <= 0 {
		t.Fatalf("result %+v", res)
	}
	var out bytes.Buffer
	if err := res.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"balanced", "deliveries/s", "p99", "direct HTTP"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

// 1,000 endpoints are created through the bulk route in a handful of
// requests: with the API key held to 5 requests/s (burst 10), creating
// them one request each was refused 429 within the first second (as it is
// at the default 200/s, with more endpoints, wherever creation outpaces
// it); the run then routes every event to its endpoint and reports the
// creation rate.
func TestRunCreatesManyEndpointsWithinTheKeyRate(t *testing.T) {
	res, err := Run(context.Background(), Config{Endpoints: 1000, Rate: 200, Duration: 500 * time.Millisecond, NoBaselines: true, apiKeyRateLimit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if l := res.Ledger; !l.Balanced || l.Published == 0 || l.Delivered != l.Published {
		t.Fatalf("ledger %+v: want every published event delivered", l)
	}
	if res.EndpointCreateSeconds <= 0 || res.EndpointsCreatedPerSecond <= 0 || res.EndpointsRoutableSeconds < res.EndpointCreateSeconds {
		t.Fatalf("creation: %.2f s, %.0f/s, routable after %.2f s", res.EndpointCreateSeconds, res.EndpointsCreatedPerSecond, res.EndpointsRoutableSeconds)
	}
	t.Logf("created in %.1f s (%.0f/s), routable after %.1f s", res.EndpointCreateSeconds, res.EndpointsCreatedPerSecond, res.EndpointsRoutableSeconds)
	var out bytes.Buffer
	if err := res.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "1000 created in") || !strings.Contains(out.String(), "endpoints/s") {
		t.Fatalf("report lacks the creation rate:\n%s", out.String())
	}
}

// --failing-backlog drives the endpoints twice, without and with an
// endpoint answering 503 slowly with deliveries waiting: its backlog is
// routed and moved out of the shared queue before the second drive, it is
// attempted during it, and its deliveries count in neither ledger, which
// both balance. Timings are measurements, not asserted beyond presence.
func TestRunMeasuresIsolationFromAFailingBacklog(t *testing.T) {
	// 3 s: longer than a round of the failing endpoint (an attempt of 1 s,
	// then a pause of 1 s), so it is attempted during the second drive.
	res, err := Run(context.Background(), Config{Endpoints: 3, Rate: 100, Duration: 3 * time.Second, FailingBacklog: 200, NoBaselines: true})
	if err != nil {
		t.Fatal(err)
	}
	iso := res.Isolation
	if iso == nil {
		t.Fatal("no isolation result")
	}
	for name, l := range map[string]Ledger{"baseline": iso.Baseline.Ledger, "with backlog": iso.WithBacklog.Ledger} {
		if !l.Balanced || l.Published < 250 || l.Delivered != l.Published || l.Unexpected != 0 || l.Duplicates != 0 {
			t.Errorf("%s ledger %+v: want about 300 published, all delivered once, nothing else", name, l)
		}
	}
	if res.Ledger != iso.WithBacklog.Ledger || res.Latency != iso.WithBacklog.Latency {
		t.Errorf("the result's ledger and latency %+v %+v are not the with-backlog phase's", res.Ledger, res.Latency)
	}
	if iso.FailingBacklog != 200 || iso.BacklogPublished != 200 || iso.BacklogRejected != 0 || iso.FailingEndpoint == "" {
		t.Errorf("backlog %+v: want 200 published for a failing endpoint", iso)
	}
	// Every delivery fails and retries for about 100 s: none leaves.
	if iso.BacklogAtStart != 200 || iso.BacklogAtEnd != 200 {
		t.Errorf("failing endpoint's backlog %d at start, %d at end: want 200 both", iso.BacklogAtStart, iso.BacklogAtEnd)
	}
	if iso.FailingAttempts <= 0 {
		t.Errorf("the failing endpoint was not attempted during the run: %+v", iso)
	}
	if iso.Baseline.Latency.P99 <= 0 || iso.WithBacklog.Latency.P99 <= 0 || iso.P99Ratio <= 0 || iso.RoutedSeconds <= 0 {
		t.Errorf("isolation %+v: latencies and ratio missing", iso)
	}
	var out bytes.Buffer
	if err := res.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"isolation", "without it", "with it", "p99 with / without"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(b, &back); err != nil || back.Isolation == nil || *back.Isolation != *iso {
		t.Fatalf("JSON %s does not carry the isolation result (%v)", b, err)
	}
	t.Logf("%s", out.String())
}

func TestConfigErrorsNameTheFlag(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		flag string
	}{
		{Config{Endpoints: -1}, "--endpoints"},
		{Config{Rate: -5}, "--rate"},
		{Config{Duration: time.Millisecond}, "--duration"},
		{Config{PayloadBytes: 1 << 30}, "--payload-bytes"},
		{Config{SyncAlways: true, NATSURLs: "nats://x"}, "--sync"},
		{Config{Prefix: "Bench.1"}, "--prefix"},
		{Config{Rate: 100, FailingBacklog: -1}, "--failing-backlog"},
		{Config{Rate: 100, FailingBacklog: MaxFailingBacklog + 1}, "--failing-backlog"},
		{Config{FailingBacklog: 100}, "--failing-backlog"}, // at saturation
		{Config{Rate: 100, FailingBacklog: 100, FailingWait: -time.Second}, "--failing-wait"},
		{Config{Rate: 100, FailingWait: time.Second}, "--failing-wait"},
	} {
		c.cfg.setDefaults()
		if err := c.cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.flag) {
			t.Errorf("%+v: %v, want an error naming %s", c.cfg, err, c.flag)
		}
	}
}

// With --prefix the bench runs against a NATS account where another
// application's stream already captures "events.>" and "hookd.>": the
// pipeline, the driven events and the raw JetStream baseline all use the
// prefixed names, and the other stream receives nothing.
func TestRunWithPrefix(t *testing.T) {
	ns := hookdtest.StartNATS(t, embedded.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	nc, err := nats.Connect(ns.ClientURL(), ns.InternalOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	other, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "OTHER", Subjects: []string{"events.>", "hookd.>"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Config{NATSURLs: ns.ClientURL(), NATSClient: app.NATSClient{NkeySeed: string(ns.Seed)}, Prefix: "bench", Rate: 200, Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if l := res.Ledger; !l.Balanced || l.Published == 0 || l.Delivered != l.Published {
		t.Fatalf("ledger %+v: want every published event delivered", l)
	}
	if res.JetStreamPerSecond <= 0 {
		t.Fatalf("raw JetStream baseline did not run: %+v", res)
	}
	info, err := other.Info(t.Context())
	if err != nil || info.State.Msgs != 0 {
		t.Fatalf("the other application's stream: %+v %v, want it empty", info, err)
	}
}
