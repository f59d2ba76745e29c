package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/topology"
)

// A held endpoint's retry waits on held-<ep> (NakWithDelay). When that
// consumer goes away (removed 2 min after nobody pulled: the endpoint was
// disabled, or every worker was down; or by hand), the new consumer hands
// the delivery out with NumDelivered 1: its attempts and its wait come from
// the log, so it is not attempted again before its time.
func TestRetryWaitsAfterItsConsumerIsMadeAnew(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	rc.SetRespond(func(int, hookdtest.Request) int { return http.StatusInternalServerError })
	cfg := fastConfig()
	cfg.Worker.IdleAfter = 300 * time.Millisecond
	h := hookdtest.Start(t, cfg)
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "max_in_flight": 5,
		"retry": map[string]any{"schedule": []string{"1h"}}})
	h.PublishEvent(t, "job.finished", map[string]int{"x": 1})
	hookdtest.WaitFor(t, 10*time.Second, "first attempt", func() bool { return len(h.Attempts(t, ep.ID)) == 1 })

	// Disabled: workers stop pulling; the server removes the idle consumer
	// (simulated: InactiveThreshold is 2 min).
	if st, out := h.Do(t, http.MethodPatch, "/v1/endpoints/"+ep.ID, map[string]any{"enabled": false}); st != 200 {
		t.Fatalf("disable: %d %s", st, out)
	}
	h.WaitEndpoint(t, ep.ID, func(e *hookdtest.Endpoint) bool { return !e.Enabled })
	hookdtest.WaitFor(t, 10*time.Second, "workers to stop pulling", func() bool { return !pulling(t, h, ep.ID) })
	s, err := h.App.JetStream().Stream(context.Background(), h.App.Names().HeldStream())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteConsumer(context.Background(), topology.HeldConsumer(ep.ID)); err != nil {
		t.Fatal(err)
	}
	if st, out := h.Do(t, http.MethodPatch, "/v1/endpoints/"+ep.ID, map[string]any{"enabled": true}); st != 200 {
		t.Fatalf("enable: %d %s", st, out)
	}
	hookdtest.WaitFor(t, 10*time.Second, "the delivery handed out by the new consumer", func() bool {
		c, err := s.Consumer(context.Background(), topology.HeldConsumer(ep.ID))
		if err != nil {
			return false
		}
		info, err := c.Info(context.Background())
		return err == nil && info.Delivered.Consumer >= 1 && info.NumAckPending == 1
	})
	// Had it been attempted, the attempt would be under way now: give it
	// the time an attempt against a local receiver takes, and more.
	hookdtest.Never(t, 2*time.Second, "a second attempt", func() bool { return rc.Count() > 1 })
	as := h.Attempts(t, ep.ID)
	for _, a := range as {
		t.Logf("attempt number=%d outcome=%s next_in=%.0fs", a.Number, a.Outcome, a.NextAttemptInSeconds)
	}
	if len(as) != 1 {
		t.Fatalf("%d attempts within seconds of a retry due in 1h (numbers restart)", len(as))
	}
}
