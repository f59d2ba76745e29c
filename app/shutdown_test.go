package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/internal/hookdtest"
)

// shutdownEndpoints is how many endpoints the test creates: 1,000 in CI,
// HOOKD_SHUTDOWN_ENDPOINTS to measure more (BENCHMARKS.md has 10,000).
// With a stream and consumer per endpoint, nats-server stopped their
// consumers one by one (about 11 ms each): about 100 s for 10,000.
var shutdownEndpoints = func() int {
	if n, err := strconv.Atoi(os.Getenv("HOOKD_SHUTDOWN_ENDPOINTS")); err == nil && n > 0 {
		return n
	}
	return 1000
}()

// Run returns within ShutdownTimeout after its context ends, with thousands of endpoints and deliveries
// hanging at a receiver; the embedded server cut short leaves a data
// directory that the next start reads whole: every endpoint is there and
// every event accepted before the stop is delivered to each.
func TestShutdownIsBoundedWithThousandsOfEndpoints(t *testing.T) {
	var (
		mu      sync.Mutex
		got     = map[string]map[string]bool{} // event type -> endpoint paths
		hang    = make(chan struct{})
		release = sync.OnceFunc(func() { close(hang) })
		hanging atomic.Int32
	)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct{ Type string }
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &ev)
		if ev.Type == "bulk.hang" {
			hanging.Add(1)
			select {
			case <-hang: // answers once the test lets it
			case <-r.Context().Done():
				return
			}
		}
		mu.Lock()
		if got[ev.Type] == nil {
			got[ev.Type] = map[string]bool{}
		}
		got[ev.Type][r.URL.Path] = true
		mu.Unlock()
	}))
	defer rc.Close()
	defer release()
	received := func(typ string) int {
		mu.Lock()
		defer mu.Unlock()
		return len(got[typ])
	}

	cfg := fastConfig()
	cfg.Worker.Timeout = time.Second
	// Short, for the test to be short: the roles get 3 s of it, enough for
	// the deliveries in flight to time out and be recorded.
	cfg.ShutdownTimeout = 6 * time.Second
	// Deliveries failing at the stop are retried after the restart, not
	// dead-lettered.
	cfg.Worker.RetrySchedule = []time.Duration{500 * time.Millisecond, time.Second, time.Second, time.Second, time.Second}
	// Deliveries on their way to the worker at the stop come back after
	// the ack wait.
	cfg.Topology.DeliveryAckWait = 3 * time.Second
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr, cfg.AdminKey, cfg.APIKeyRateLimit = "127.0.0.1:0", hookdtest.AdminKey, -1
	cfg.Worker.AllowNets, cfg.Logger = hookdtest.Loopback, hookdtest.Logger()
	bound := cfg.ShutdownTimeout
	start := time.Now()
	a, h, stop := runApp(t, cfg)

	ids := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ids {
				status, out := h.Do(t, http.MethodPost, "/v1/endpoints", fmt.Sprintf(`{"url":"%s/%d","events":["bulk.*"]}`, rc.URL, i))
				if status != http.StatusCreated {
					t.Errorf("create endpoint %d: %d %s", i, status, out)
				}
			}
		}()
	}
	for i := range shutdownEndpoints {
		ids <- i
	}
	close(ids)
	wg.Wait()
	t.Logf("%s created", time.Since(start))
	hookdtest.WaitFor(t, time.Minute, "every endpoint in the registry", func() bool {
		return len(a.Registry().Snapshot().All()) == shutdownEndpoints
	})
	// Every endpoint gets a delivery, so the worker consumes all of them...
	h.PublishEvent(t, "bulk.warm", nil)
	hookdtest.WaitFor(t, 2*time.Minute, "the first event at every endpoint", func() bool { return received("bulk.warm") == shutdownEndpoints })
	// ...and the next one hangs at the receiver: deliveries are in flight
	// at the stop.
	h.PublishEvent(t, "bulk.hang", nil)
	t.Logf("%s warm", time.Since(start))
	hookdtest.WaitFor(t, time.Minute, "deliveries hanging at the receiver", func() bool { return hanging.Load() > 0 })

	begin := time.Now()
	err := stop()
	took := time.Since(begin)
	t.Logf("Run returned %s after cancel with %d endpoints (bound %s)", took.Round(time.Millisecond), shutdownEndpoints, bound)
	if err != nil {
		t.Errorf("Run: %v", err)
	}
	// A margin for a loaded machine. Without the bound this took about
	// 11 ms per endpoint (12 s here), and about 100 s for 10,000.
	if took > bound+2500*time.Millisecond {
		t.Errorf("Run returned %s after cancel, want within %s", took, bound)
	}

	// The server stopped in the background; the next start finds all.
	select {
	case <-a.Stopped():
	case <-time.After(3 * time.Minute):
		t.Fatal("the embedded server did not finish stopping")
	}
	t.Logf("%s stopped", time.Since(start))
	a2, _, stop2 := runApp(t, cfg)
	t.Logf("%s restarted", time.Since(start))
	defer func() {
		if err := stop2(); err != nil {
			t.Error(err)
		}
		<-a2.Stopped()
	}()
	hookdtest.WaitFor(t, time.Minute, "every endpoint after the restart", func() bool {
		return len(a2.Registry().Snapshot().All()) == shutdownEndpoints
	})
	hookdtest.WaitFor(t, 3*time.Minute, "the event in flight at the stop delivered to every endpoint after the restart", func() bool {
		release()
		return received("bulk.hang") == shutdownEndpoints
	})
	t.Logf("%s all delivered", time.Since(start))
}

// runApp starts an App with cfg; stop cancels it and returns Run's error.
func runApp(t *testing.T, cfg app.Config) (*app.App, *hookdtest.Hookd, func() error) {
	t.Helper()
	a, err := app.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	return a, &hookdtest.Hookd{App: a, URL: "http://" + a.HTTPAddr()}, func() error {
		cancel()
		return <-done
	}
}
