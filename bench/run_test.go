package bench

import (
	"bytes"
	"context"
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
