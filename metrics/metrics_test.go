package metrics

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestAttemptLabels(t *testing.T) {
	m := New(Options{})
	d := m.Delivery
	d.Attempt("succeeded", 204, 10*time.Millisecond)
	d.Attempt("retrying", 503, time.Second)
	d.Attempt("retrying", 0, 2*time.Second)
	d.Attempt("dead", 410, time.Millisecond)
	d.Attempt("dead", 999, time.Millisecond)
	d.Delivered(-time.Second) // a clock behind the server's: counted as 0
	d.DeadLettered()
	m.Routing.DeadLettered(2)
	want := `
# HELP hookd_delivery_retries_total Failed attempts after which another attempt was scheduled.
# TYPE hookd_delivery_retries_total counter
hookd_delivery_retries_total 2
# HELP hookd_dead_letters_total Deliveries dead-lettered; stage is delivery (a permanent failure or retries exhausted) or routing (the endpoint stream could not be reached).
# TYPE hookd_dead_letters_total counter
hookd_dead_letters_total{stage="delivery"} 1
hookd_dead_letters_total{stage="routing"} 2
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "hookd_delivery_retries_total", "hookd_dead_letters_total"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		outcome, class string
		want           float64
	}{{"succeeded", "2xx", 1}, {"retrying", "5xx", 1}, {"retrying", "none", 1}, {"dead", "4xx", 1}, {"dead", "other", 1}, {"succeeded", "5xx", 0}} {
		if got := testutil.ToFloat64(d.attempts[index(outcomes[:], c.outcome)][index(statusClasses[:], c.class)]); got != c.want {
			t.Errorf("attempts{%s,%s} = %v, want %v", c.outcome, c.class, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(d.latency); n != 1 {
		t.Errorf("latency: %d series", n)
	}
}

func index(list []string, v string) int {
	for i, s := range list {
		if s == v {
			return i
		}
	}
	panic(v)
}

// The backlog is per endpoint up to the cap, then only the total; a failed
// read leaves it out of the scrape and keeps the rest.
func TestBacklogCap(t *testing.T) {
	backlog := map[string]uint64{"ep_a": 2, "ep_b": 5}
	read := func(context.Context) (map[string]uint64, error) { return backlog, nil }
	for _, c := range []struct {
		cap      int
		perEndpt bool
	}{{0, true}, {2, true}, {1, false}, {-1, false}} {
		m := New(Options{EndpointLabels: c.cap})
		m.WatchBacklog(read)
		if got := testutil.CollectAndCount(m.Registry(), "hookd_endpoint_backlog_deliveries"); (got == 2) != c.perEndpt {
			t.Errorf("cap %d: %d per-endpoint series", c.cap, got)
		}
		want := "# HELP hookd_backlog_deliveries Deliveries waiting for all endpoints together.\n# TYPE hookd_backlog_deliveries gauge\nhookd_backlog_deliveries 7\n"
		if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "hookd_backlog_deliveries"); err != nil {
			t.Errorf("cap %d: %v", c.cap, err)
		}
	}

	m := New(Options{Logger: nil})
	m.WatchBacklog(func(context.Context) (map[string]uint64, error) { return nil, errors.New("JetStream unreachable") })
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != 200 || !strings.Contains(string(body), "hookd_build_info") || strings.Contains(string(body), "hookd_backlog_deliveries ") {
		t.Fatalf("scrape with the backlog unreadable: %d %s", rec.Code, body)
	}
}

// Rule errors are counted per endpoint and kind for the first endpoints up
// to the cap, later endpoints together as OtherEndpoint: a deployment with
// 100,000 failing filters cannot flood Prometheus with series.
func TestRuleErrorsCap(t *testing.T) {
	for _, c := range []struct {
		cap  int
		want string
	}{
		{2, `hookd_endpoint_rule_errors_total{endpoint="_other",kind="filter"} 1
hookd_endpoint_rule_errors_total{endpoint="ep_a",kind="filter"} 2
hookd_endpoint_rule_errors_total{endpoint="ep_a",kind="payload"} 1
hookd_endpoint_rule_errors_total{endpoint="ep_b",kind="ordering_key"} 1
`},
		{-1, `hookd_endpoint_rule_errors_total{endpoint="_other",kind="filter"} 3
hookd_endpoint_rule_errors_total{endpoint="_other",kind="ordering_key"} 1
hookd_endpoint_rule_errors_total{endpoint="_other",kind="payload"} 1
`},
	} {
		r := New(Options{EndpointLabels: c.cap}).Routing
		r.RecordRuleError("ep_a", "filter")
		r.RecordRuleError("ep_b", "ordering_key")
		r.RecordRuleError("ep_c", "filter") // past the cap of 2
		r.RecordRuleError("ep_a", "filter")
		r.RecordRuleError("ep_a", "payload")
		want := "# HELP hookd_endpoint_rule_errors_total " + ruleErrorsHelp + "\n# TYPE hookd_endpoint_rule_errors_total counter\n" + c.want
		if err := testutil.CollectAndCompare(r.ruleErrors, strings.NewReader(want)); err != nil {
			t.Errorf("cap %d: %v", c.cap, err)
		}
	}
}

// The hot paths' cost: a few atomic adds, no allocation.
func BenchmarkDeliveryAttempt(b *testing.B) {
	d := New(Options{}).Delivery
	b.ReportAllocs()
	for b.Loop() {
		d.Attempt("succeeded", 200, 3*time.Millisecond)
		d.Delivered(40 * time.Millisecond)
	}
}

func BenchmarkRoutingEvaluated(b *testing.B) {
	r := New(Options{}).Routing
	b.ReportAllocs()
	for b.Loop() {
		r.EventReceived()
		r.Evaluated(10, 3, 0)
	}
}
