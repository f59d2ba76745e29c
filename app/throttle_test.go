package app_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/hookdtest"
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
