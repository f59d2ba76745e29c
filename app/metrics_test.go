package app_test

import (
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/hookd/hookd/internal/hookdtest"
)

// A known workload, then /metrics scraped over HTTP (from the metrics
// listener without a key, and from the API with an admin key) and parsed:
// exact counters and histogram counts. 10 events reach four endpoints: ok
// takes all 10; bad answers 400 to the 2 it gets (dead-lettered at once);
// flaky fails its one delivery once with a 500, then takes it; held is
// disabled, so its 3 wait in its stream.
func TestMetricsOfAKnownWorkload(t *testing.T) {
	ok, bad, flaky := hookdtest.NewReceiver(t), hookdtest.NewReceiver(t), hookdtest.NewReceiver(t)
	bad.SetRespond(func(int, hookdtest.Request) int { return http.StatusBadRequest })
	flaky.SetRespond(func(n int, _ hookdtest.Request) int {
		if n == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	cfg := fastConfig()
	cfg.MetricsAddr = "127.0.0.1:0"
	h := hookdtest.Start(t, cfg)
	okEP := h.CreateEndpoint(t, map[string]any{"url": ok.URL, "events": []string{"order.*"}})
	badEP := h.CreateEndpoint(t, map[string]any{"url": bad.URL, "events": []string{"order.*"}, "filter": "data.n < 2"})
	flakyEP := h.CreateEndpoint(t, map[string]any{"url": flaky.URL, "events": []string{"order.*"}, "filter": "data.n < 1"})
	heldEP := h.CreateEndpoint(t, map[string]any{"url": ok.URL, "events": []string{"order.*"}, "filter": "data.n < 3", "enabled": false})
	for i := range 10 {
		h.PublishEvent(t, "order.paid", map[string]int{"n": i})
	}
	hookdtest.WaitFor(t, 20*time.Second, "every attempt", func() bool {
		return ok.Count() == 10 && bad.Count() == 2 && flaky.Count() == 2
	})
	hookdtest.WaitStored(t, h.App.JetStream(), h.App.Names(), heldEP.ID, 3)
	// The workers also publish operational events into the events stream,
	// which routers count like any other: two hookd.delivery.exhausted
	// (bad) and one hookd.endpoint.recovered (flaky). None matches.
	h.WaitIdle(t, okEP.ID, badEP.ID, flakyEP.ID)
	h.WaitEventsStored(t, 13)
	h.WaitIdle(t, okEP.ID, badEP.ID, flakyEP.ID)

	want := []struct {
		name   string
		labels []string
		value  float64
	}{
		{"hookd_events_received_total", nil, 13},
		// order.paid meets each endpoint's rule once per event: 4 x 10;
		// the operational events are ruled out by type, unevaluated.
		{"hookd_rule_evaluations_total", nil, 40},
		{"hookd_rule_matches_total", nil, 10 + 2 + 1 + 3},
		{"hookd_rule_errors_total", nil, 0},
		{"hookd_delivery_attempts_total", []string{"outcome", "succeeded", "status_class", "2xx"}, 11},
		{"hookd_delivery_attempts_total", []string{"outcome", "dead", "status_class", "4xx"}, 2},
		{"hookd_delivery_attempts_total", []string{"outcome", "retrying", "status_class", "5xx"}, 1},
		{"hookd_delivery_attempts_total", []string{"outcome", "retrying", "status_class", "none"}, 0},
		{"hookd_delivery_retries_total", nil, 1},
		{"hookd_dead_letters_total", []string{"stage", "delivery"}, 2},
		{"hookd_dead_letters_total", []string{"stage", "routing"}, 0},
		{"hookd_delivery_attempt_duration_seconds", nil, 14}, // sample count
		{"hookd_delivery_latency_seconds", nil, 11},          // sample count
		{"hookd_endpoint_backlog_deliveries", []string{"endpoint", heldEP.ID}, 3},
		{"hookd_endpoint_backlog_deliveries", []string{"endpoint", okEP.ID}, 0},
		{"hookd_backlog_deliveries", nil, 3},
		{"hookd_endpoints", nil, 4},
		{"hookd_build_info", nil, 1},
	}
	for _, src := range []struct{ url, key string }{
		{"http://" + h.App.MetricsAddr() + "/metrics", ""},
		{h.URL + "/metrics", hookdtest.AdminKey},
	} {
		fams := hookdtest.Scrape(t, src.url, src.key)
		for _, w := range want {
			if got := fams.Value(w.name, w.labels...); got != w.value {
				t.Errorf("%s: %s%v = %v, want %v", src.url, w.name, w.labels, got, w.value)
			}
		}
		// Histograms in seconds: the attempts took far less than a minute.
		if m := fams.Sample("hookd_delivery_attempt_duration_seconds"); m == nil || m.GetHistogram().GetSampleSum() <= 0 || m.GetHistogram().GetSampleSum() > 60 {
			t.Errorf("attempt durations sum to %v, want seconds", m.GetHistogram().GetSampleSum())
		}
		for _, name := range []string{"hookd_delivery_latency_seconds", "hookd_delivery_attempt_duration_seconds"} {
			if typ := fams[name].GetType(); typ != dto.MetricType_HISTOGRAM {
				t.Errorf("%s is a %v", name, typ)
			}
		}
		for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
			if fams[name] == nil {
				t.Errorf("%s missing: no Go or process collector", name)
			}
		}
	}
}

// Above --metrics-endpoint-labels endpoints, the backlog is exported only
// as a total: no series per endpoint. Also, a second app in the same
// process has a registry of its own (no duplicate registration).
func TestMetricsEndpointLabelCap(t *testing.T) {
	cfg := fastConfig()
	cfg.MetricsAddr = "127.0.0.1:0"
	cfg.MetricsEndpointLabels = 1
	h := hookdtest.Start(t, cfg)
	other := hookdtest.Start(t, fastConfig())
	var ids []string
	for range 2 {
		ids = append(ids, h.CreateEndpoint(t, map[string]any{"url": "http://127.0.0.1:9/", "events": []string{"a.*"}, "enabled": false}).ID)
	}
	for range 3 {
		h.PublishEvent(t, "a.b", nil)
	}
	for _, id := range ids {
		hookdtest.WaitStored(t, h.App.JetStream(), h.App.Names(), id, 3)
	}
	fams := hookdtest.Scrape(t, "http://"+h.App.MetricsAddr()+"/metrics", "")
	if fams["hookd_endpoint_backlog_deliveries"] != nil {
		t.Errorf("per-endpoint backlog exported for 2 endpoints with a cap of 1")
	}
	if got := fams.Value("hookd_backlog_deliveries"); got != 6 {
		t.Errorf("hookd_backlog_deliveries = %v, want 6", got)
	}
	if got := fams.Value("hookd_endpoints"); got != 2 {
		t.Errorf("hookd_endpoints = %v, want 2", got)
	}
	if got := hookdtest.Scrape(t, other.URL+"/metrics", hookdtest.AdminKey).Value("hookd_events_received_total"); got != 0 {
		t.Errorf("the other app counted %v events", got)
	}
}
