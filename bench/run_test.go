package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
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
	} {
		c.cfg.setDefaults()
		if err := c.cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.flag) {
			t.Errorf("%+v: %v, want an error naming %s", c.cfg, err, c.flag)
		}
	}
}
