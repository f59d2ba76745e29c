package app_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/embedded"
	"github.com/hookd/hookd/internal/hookdtest"
)

// gaps returns the time from the end of each attempt to the start of the
// next.
func gaps(as []delivery.Attempt) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(as); i++ {
		end := as[i-1].Time.Add(time.Duration(as[i-1].DurationSeconds * float64(time.Second)))
		out = append(out, as[i].Time.Sub(end))
	}
	return out
}

// Retries wait the schedule's step, jittered by at most 20% either way.
func TestJitteredSchedule(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	rc.SetRespond(func(int, hookdtest.Request) int { return 500 })
	cfg := fastConfig()
	cfg.Worker.RetrySchedule = []time.Duration{300 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond}
	h := hookdtest.Start(t, cfg)
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL})
	h.PublishEvent(t, "a.b", nil)
	hookdtest.WaitFor(t, 15*time.Second, "four attempts", func() bool { return len(h.Attempts(t, ep.ID)) == 4 })
	as := h.Attempts(t, ep.ID)
	for i, g := range gaps(as) {
		// JetStream never redelivers early; scheduling may add a little.
		if g < 240*time.Millisecond || g > 360*time.Millisecond+300*time.Millisecond {
			t.Errorf("gap %d is %s, want 300ms +-20%% (plus scheduling slack)", i+1, g)
		}
		if want := as[i].NextAttemptInSeconds; want < 0.24 || want > 0.36 {
			t.Errorf("attempt %d announced a retry in %.3fs", i+1, want)
		}
	}
}

// A throttling answer's Retry-After is honoured, within the schedule's step
// and twice it.
func TestRetryAfterHonoured(t *testing.T) {
	var n atomic.Int32
	throttler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(200)
	})
	srv := httptest.NewServer(throttler)
	t.Cleanup(srv.Close)
	cfg := fastConfig()
	cfg.Worker.RetrySchedule = []time.Duration{600 * time.Millisecond}
	h := hookdtest.Start(t, cfg)
	ep := h.CreateEndpoint(t, map[string]any{"url": srv.URL})
	h.PublishEvent(t, "a.b", nil)
	hookdtest.WaitFor(t, 15*time.Second, "second attempt", func() bool { return len(h.Attempts(t, ep.ID)) == 2 })
	as := h.Attempts(t, ep.ID)
	if as[0].StatusCode != 429 || as[0].NextAttemptInSeconds != 1 {
		t.Fatalf("first attempt %+v: want 429 and a retry in 1s (Retry-After, within [0.6s, 1.2s])", as[0])
	}
	if g := gaps(as)[0]; g < 950*time.Millisecond {
		t.Fatalf("retried after %s, before the receiver's Retry-After of 1s", g)
	}
}

// 410 Gone disables the endpoint at once; its deliveries are held and go
// out once it is enabled again.
func TestGoneDisablesEndpoint(t *testing.T) {
	var back atomic.Bool
	rc := hookdtest.NewReceiver(t)
	rc.SetRespond(func(int, hookdtest.Request) int {
		if back.Load() {
			return 200
		}
		return http.StatusGone
	})
	h := hookdtest.Start(t, fastConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL})
	id := h.PublishEvent(t, "a.b", nil)
	h.WaitEndpoint(t, ep.ID, func(e *hookdtest.Endpoint) bool { return e != nil && !e.Enabled })
	if status, out := h.Do(t, http.MethodGet, "/v1/endpoints/"+ep.ID, nil); status != 200 || !strings.Contains(string(out), `"enabled":false`) {
		t.Fatalf("after 410: %d %s", status, out)
	}
	// Moved out of the queue to wait: the copy is stored before the
	// original is acknowledged, so both show for a moment.
	hookdtest.WaitFor(t, 5*time.Second, "the delivery held once", func() bool { return len(h.Queued(t, ep.ID)) == 1 })
	if n := len(h.DeadLetters(t, ep.ID)); n != 0 {
		t.Fatalf("410 dead-lettered %d deliveries; they must be held", n)
	}
	back.Store(true)
	if status, _ := h.Do(t, http.MethodPost, "/v1/endpoints/"+ep.ID+"/enable", nil); status != 200 {
		t.Fatal("enable")
	}
	hookdtest.WaitFor(t, 15*time.Second, "held delivery after enable", func() bool { return rc.CountByID()[id] == 2 })
	h.WaitIdle(t, ep.ID)
}

// An endpoint's own retry policy overrides the server's schedule.
func TestPerEndpointRetryPolicy(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	rc.SetRespond(func(int, hookdtest.Request) int { return 503 })
	h := hookdtest.Start(t, fastConfig()) // server default: 2 retries
	short := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "retry": map[string]any{"max_attempts": 2}})
	long := h.CreateEndpoint(t, map[string]any{"url": rc.URL + "/long", "retry": map[string]any{"schedule": []string{"30ms", "30ms", "30ms", "30ms"}}})
	h.PublishEvent(t, "a.b", nil)
	hookdtest.WaitFor(t, 15*time.Second, "both dead", func() bool {
		return len(h.DeadLetters(t, short.ID)) == 1 && len(h.DeadLetters(t, long.ID)) == 1
	})
	if n := len(h.Attempts(t, short.ID)); n != 2 {
		t.Errorf("max_attempts 2: %d attempts", n)
	}
	if n := len(h.Attempts(t, long.ID)); n != 5 {
		t.Errorf("4-step schedule: %d attempts, want 5", n)
	}
	status, out := h.Do(t, http.MethodGet, "/v1/endpoints/"+long.ID, nil)
	if status != 200 || !strings.Contains(string(out), `"retry":{"schedule":["30ms","30ms","30ms","30ms"],"max_attempts":0}`) {
		t.Fatalf("GET: %d %s", status, out)
	}
	for body, field := range map[string]string{
		`{"retry":{"schedule":["soon"]}}`:    "retry.schedule[0]",
		`{"retry":{"schedule":["1ms"]}}`:     "retry.schedule[0]",
		`{"retry":{"max_attempts":99}}`:      "retry.max_attempts",
		`{"retry":{"max_attempts":"three"}}`: "retry.max_attempts",
	} {
		status, out := h.Do(t, http.MethodPatch, "/v1/endpoints/"+long.ID, body)
		if status != 400 || !strings.Contains(string(out), `"field":"`+field+`"`) {
			t.Errorf("%s: %d %s", body, status, out)
		}
	}
}

// LangSmith's rules as a profile: 4xx (even 429) never retried, 5xx retried
// twice with exponential backoff, the response body never read.
func TestLangSmithProfile(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	rc.SetRespond(func(_ int, r hookdtest.Request) int {
		if strings.Contains(string(r.Body), "throttle") {
			return http.StatusTooManyRequests
		}
		return http.StatusInternalServerError
	})
	h := hookdtest.Start(t, fastConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "profile": "langsmith"})
	h.PublishEvent(t, "run.matched", map[string]string{"kind": "throttle"})
	h.PublishEvent(t, "run.matched", map[string]string{"kind": "error"})
	hookdtest.WaitFor(t, 20*time.Second, "both dead", func() bool { return len(h.DeadLetters(t, ep.ID)) == 2 })
	var throttled, failed []delivery.Attempt
	for _, a := range h.Attempts(t, ep.ID) {
		if a.StatusCode == 429 {
			throttled = append(throttled, a)
		} else {
			failed = append(failed, a)
		}
		if a.Response != "" {
			t.Errorf("response body was read: %q", a.Response)
		}
	}
	if len(throttled) != 1 {
		t.Errorf("429 attempted %d times, want once (4xx never retried)", len(throttled))
	}
	if len(failed) != 3 {
		t.Fatalf("500 attempted %d times, want 3 (2 retries)", len(failed))
	}
	g := gaps(failed)
	if g[0] < 800*time.Millisecond || g[1] < 1600*time.Millisecond || g[1] < g[0] {
		t.Errorf("backoff %v, want about 1s then 2s", g)
	}
}

// max_in_flight holds across workers: three workers, a slow receiver that
// counts the requests it has at once.
func TestMaxInFlightAcrossWorkers(t *testing.T) {
	var now, peak atomic.Int32
	rc := hookdtest.NewReceiver(t)
	rc.SetRespond(func(int, hookdtest.Request) int {
		n := now.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(20 * time.Millisecond) // the receiver's work, so requests overlap
		now.Add(-1)
		return 200
	})
	h := startThreeWorkers(t)
	capped := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "max_in_flight": 3})
	const events = 60
	for i := range events {
		h.PublishEvent(t, "load.test", map[string]int{"i": i})
	}
	hookdtest.WaitFor(t, 30*time.Second, "every delivery", func() bool { return len(rc.CountByID()) == events })
	h.WaitIdle(t, capped.ID)
	if p := peak.Load(); p > 3 || p < 2 {
		t.Fatalf("peak concurrent requests %d, want 2 or 3 (capped at 3, and really parallel)", p)
	}
}

// rate_limit holds within 10% across three workers over 500 deliveries.
func TestRateLimitAcrossWorkers(t *testing.T) {
	var mu sync.Mutex
	var arrivals []time.Time
	rc := hookdtest.NewReceiver(t)
	rc.SetRespond(func(int, hookdtest.Request) int {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
		return 200
	})
	h := startThreeWorkers(t)
	const rate, events = 100.0, 500
	// Held while the events are published, so that the limit, not the
	// publishing speed, is what paces the deliveries.
	limited := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "rate_limit": rate, "enabled": false})
	for i := range events {
		h.PublishEvent(t, "load.test", map[string]int{"i": i})
	}
	h.WaitIdle(t)
	if status, out := h.Do(t, http.MethodPost, "/v1/endpoints/"+limited.ID+"/enable", nil); status != 200 {
		t.Fatalf("enable: %d %s", status, out)
	}
	hookdtest.WaitFor(t, 60*time.Second, "every delivery", func() bool { return len(rc.CountByID()) == events })
	h.WaitIdle(t, limited.ID)
	mu.Lock()
	defer mu.Unlock()
	slices.SortFunc(arrivals, func(a, b time.Time) int { return a.Compare(b) })
	got := float64(len(arrivals)-1) / arrivals[len(arrivals)-1].Sub(arrivals[0]).Seconds()
	t.Logf("%d deliveries at %.1f/s with a limit of %.0f/s", len(arrivals), got, rate)
	if got > rate*1.1 || got < rate*0.9 {
		t.Fatalf("measured %.1f deliveries/s, want %.0f +-10%%", got, rate)
	}
}

// startThreeWorkers runs three hookd processes on one NATS server: the
// first with API, router and worker, the others with API and worker.
func startThreeWorkers(t *testing.T) *hookdtest.Hookd {
	t.Helper()
	return startProcesses(t, 3, false)[0]
}

// startProcesses runs n hookd processes on one NATS server, each with API
// and worker; the first has a router, the others too if routers is set.
func startProcesses(t *testing.T, n int, routers bool, with ...func(*app.Config)) []*hookdtest.Hookd {
	t.Helper()
	ns := hookdtest.StartNATS(t, embedded.Config{})
	cfg := ns.Config(fastConfig())
	for _, f := range with {
		f(&cfg)
	}
	hs := []*hookdtest.Hookd{hookdtest.Start(t, cfg)}
	for range n - 1 {
		w := fastConfig()
		for _, f := range with {
			f(&w)
		}
		w = ns.Config(w)
		w.NoRouter, w.HTTPAddr = !routers, "127.0.0.1:0"
		hs = append(hs, hookdtest.Start(t, w))
	}
	return hs
}

// createEverywhere creates an endpoint through the first process and waits
// until every process's registry has it, so no router routes without it.
func createEverywhere(t *testing.T, hs []*hookdtest.Hookd, body any) hookdtest.Endpoint {
	t.Helper()
	ep := hs[0].CreateEndpoint(t, body)
	for _, h := range hs[1:] {
		h.WaitEndpoint(t, ep.ID, func(e *hookdtest.Endpoint) bool { return e != nil })
	}
	return ep
}
