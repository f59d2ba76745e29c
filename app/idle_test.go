package app_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/topology"
)

// pulling reports whether any worker holds a pull request on an endpoint's
// consumer (none when it has no consumer).
func pulling(t *testing.T, h *hookdtest.Hookd, endpointID string) bool {
	t.Helper()
	c, err := h.App.JetStream().Consumer(t.Context(), h.App.Names().HeldStream(), topology.HeldConsumer(endpointID))
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.NumWaiting > 0
}

// Workers pull only from endpoints with work: idle endpoints have no pull
// request; an event wakes its endpoint, which goes back to sleep once idle
// with nothing left, but not while a retry is pending. Deliveries held by a
// disabled endpoint go out when it is enabled again.
func TestWorkersPullOnlyFromBusyEndpoints(t *testing.T) {
	cfg := fastConfig()
	cfg.Worker.IdleAfter = 300 * time.Millisecond
	h := hookdtest.Start(t, cfg)
	ok := hookdtest.NewReceiver(t)
	failing := hookdtest.NewReceiver(t)
	failing.SetRespond(func(int, hookdtest.Request) int { return http.StatusInternalServerError })
	var idle []string
	for range 20 {
		idle = append(idle, h.CreateEndpoint(t, map[string]any{"url": ok.URL, "events": []string{"never.*"}}).ID)
	}
	busy := h.CreateEndpoint(t, map[string]any{"url": ok.URL, "events": []string{"order.*"}})
	retrying := h.CreateEndpoint(t, map[string]any{"url": failing.URL, "events": []string{"order.*"},
		"retry": map[string]any{"schedule": []string{"10s"}}})
	held := h.CreateEndpoint(t, map[string]any{"url": ok.URL, "events": []string{"order.*"}, "enabled": false})

	h.PublishEvent(t, "order.paid", nil)
	hookdtest.WaitFor(t, 10*time.Second, "the delivery", func() bool { return ok.Count() == 1 && failing.Count() == 1 })
	for _, id := range idle {
		// An endpoint that never had a delivery costs the server nothing:
		// no stream, no consumer.
		if _, err := h.App.JetStream().Consumer(t.Context(), h.App.Names().HeldStream(), topology.HeldConsumer(id)); !errors.Is(err, jetstream.ErrConsumerNotFound) {
			t.Fatalf("idle endpoint %s has a consumer (err %v)", id, err)
		}
	}
	hookdtest.WaitFor(t, 10*time.Second, "the busy endpoint to go back to sleep", func() bool { return !pulling(t, h, busy.ID) })
	// Its retry moved to its held subject and rang its doorbell: pulled
	// from well before the 30 s sweep would find it.
	hookdtest.WaitFor(t, 10*time.Second, "the endpoint with a retry pending pulled from", func() bool { return pulling(t, h, retrying.ID) })
	if pulling(t, h, held.ID) {
		t.Fatal("a disabled endpoint is pulled from")
	}
	// Waking again: the next event goes out at once, not at a sweep.
	start := time.Now()
	h.PublishEvent(t, "order.paid", nil)
	hookdtest.WaitFor(t, 10*time.Second, "the second delivery", func() bool { return ok.Count() == 2 })
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("a sleeping endpoint took %s to deliver: woken by the sweep, not its doorbell", d)
	}
	// Held deliveries go out once the endpoint is enabled.
	if status, out := h.Do(t, http.MethodPost, "/v1/endpoints/"+held.ID+"/enable", nil); status != 200 {
		t.Fatalf("enable: %d %s", status, out)
	}
	hookdtest.WaitFor(t, 10*time.Second, "the held deliveries", func() bool { return ok.Count() == 4 })
}
