package app_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/topology"
)

// A throttling answer pauses the whole endpoint, across all three workers:
// for the receiver's Retry-After, or without one for the schedule's first
// step (at most a second). No other delivery reaches it meanwhile, and
// every one arrives afterwards.
func TestThrottlePausesWholeEndpoint(t *testing.T) {
	for _, c := range []struct {
		name, retryAfter string
		pause            time.Duration
	}{
		{"no Retry-After", "", time.Second},
		{"Retry-After", "2", 2 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			testThrottlePause(t, c.retryAfter, c.pause)
		})
	}
}

func testThrottlePause(t *testing.T, retryAfter string, pause time.Duration) {
	var mu sync.Mutex
	var arrivals []time.Time
	var throttledAt time.Time
	seen := map[int]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env struct{ Data struct{ I int } }
		_ = json.NewDecoder(r.Body).Decode(&env)
		mu.Lock()
		defer mu.Unlock()
		arrivals = append(arrivals, time.Now())
		if len(arrivals) == 1 {
			throttledAt = time.Now()
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		seen[env.Data.I] = true
	}))
	t.Cleanup(srv.Close)
	h := startThreeWorkers(t)
	const events = 20
	ep := h.CreateEndpoint(t, map[string]any{"url": srv.URL, "retry": map[string]any{"schedule": []string{"1s"}}})
	h.PublishEvent(t, "load.test", map[string]int{"i": 0})
	// Once the 503 is in the log the worker has paused the endpoint: the
	// other events are published into the pause.
	hookdtest.WaitFor(t, 10*time.Second, "the throttled attempt", func() bool { return len(h.Attempts(t, ep.ID)) == 1 })
	for i := 1; i < events; i++ {
		h.PublishEvent(t, "load.test", map[string]int{"i": i})
	}
	hookdtest.WaitFor(t, 30*time.Second, "every delivery", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == events
	})
	h.WaitIdle(t, ep.ID)
	mu.Lock()
	defer mu.Unlock()
	resume := throttledAt.Add(pause - 50*time.Millisecond)
	for i, at := range arrivals[1:] {
		if at.Before(resume) {
			t.Fatalf("request %d arrived %s after the 503, during the endpoint's %s pause", i+2, at.Sub(throttledAt), pause)
		}
	}
	if len(arrivals) != events+1 {
		t.Fatalf("%d requests for %d events and one 503", len(arrivals), events)
	}
}

// While a throttling endpoint is paused, its waiting deliveries stay put:
// its consumer hands out about as many deliveries as are attempted, not
// its whole backlog once per pause. Handing each one back with a delay
// made a 503 receiver with a large backlog have every waiting delivery
// (up to the consumer's MaxAckPending, 20,000) handed out, its log read
// and handed back about once a second: most of two cores, and the other
// endpoints' p99 multiplied (BENCHMARKS.md, isolation).
func TestPausedEndpointBacklogStaysPut(t *testing.T) {
	const backlog, endpointConcurrency = 1000, 64
	h := hookdtest.Start(t, fastConfig())
	rc := hookdtest.NewReceiver(t)
	// Slowly, as an overloaded receiver does: every attempt of a round is
	// under way before the first answer pauses the endpoint.
	rc.SetRespond(func(int, hookdtest.Request) int {
		time.Sleep(200 * time.Millisecond) // the receiver's slowness, not a synchronisation
		return http.StatusServiceUnavailable
	})
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "events": []string{"load.*"},
		"retry": map[string]any{"schedule": []string{"1s"}, "max_attempts": 50}})
	js, names := h.App.JetStream(), h.App.Names()
	hookdtest.PublishAsync(t, js, names.EventSubject("load.test"), []byte(`{"n":1}`), backlog)
	// Every delivery failed or was moved out of the shared queue: all of
	// them wait on the endpoint's held subject, and its consumer serves them.
	hookdtest.WaitStored(t, js, names, ep.ID, backlog)
	handedOut := func() uint64 {
		c, err := js.Consumer(t.Context(), names.HeldStream(), topology.HeldConsumer(ep.ID))
		if err != nil {
			t.Fatal(err)
		}
		return c.CachedInfo().Delivered.Consumer
	}
	h0, a0 := handedOut(), rc.Count()
	// About three pauses of a second, each ending in at most
	// endpointConcurrency attempts.
	hookdtest.WaitFor(t, 30*time.Second, "three rounds of attempts", func() bool { return rc.Count() >= a0+3*endpointConcurrency })
	h1, a1 := handedOut(), rc.Count()
	if handed, attempted := h1-h0, uint64(a1-a0); handed > 2*attempted+2*endpointConcurrency {
		t.Fatalf("the paused endpoint's consumer handed out %d deliveries for %d attempts: its backlog of %d goes round while it is paused",
			handed, attempted, backlog)
	}
	t.Logf("%d handed out for %d attempts", h1-h0, a1-a0)
}
