package app_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/topology"
)

// opsTypes returns the types of the operational events a receiver got.
func opsTypes(rc *hookdtest.Receiver) []string {
	var out []string
	for _, r := range rc.Requests() {
		var env struct{ Type string }
		_ = json.Unmarshal(r.Body, &env)
		out = append(out, env.Type)
	}
	return out
}

// An endpoint that has only failed for the window is disabled, its
// deliveries kept; the operational events reach an endpoint subscribed to
// them like any other event.
func TestAutoDisableAfterWindow(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	rc.SetRespond(func(int, hookdtest.Request) int { return 500 })
	opsRC := hookdtest.NewReceiver(t)
	cfg := fastConfig()
	cfg.Worker.RetrySchedule = slices.Repeat([]time.Duration{40 * time.Millisecond}, 50)
	cfg.Worker.AutoDisableAfter = 300 * time.Millisecond
	h := hookdtest.Start(t, cfg)
	h.CreateEndpoint(t, map[string]any{"url": opsRC.URL, "events": []string{"hookd.>"}})
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "events": []string{"order.*"}})
	h.PublishEvent(t, "order.paid", nil)
	h.WaitEndpoint(t, ep.ID, func(e *hookdtest.Endpoint) bool { return e != nil && !e.Enabled })
	if held := hookdtest.Messages(t, h.App.JetStream(), topology.EndpointStream(ep.ID), topology.DeliverySubject(ep.ID)); len(held) != 1 {
		t.Fatalf("auto-disabled endpoint holds %d deliveries, want 1 (kept)", len(held))
	}
	if n := len(h.DeadLetters(t, ep.ID)); n != 0 {
		t.Fatalf("%d dead letters: auto-disable must keep deliveries", n)
	}
	if as := h.Attempts(t, ep.ID); len(as) < 3 {
		t.Fatalf("disabled after %d attempts, before the window could pass", len(as))
	}
	hookdtest.WaitFor(t, 10*time.Second, "operational events delivered", func() bool {
		got := opsTypes(opsRC)
		return slices.Contains(got, "hookd.endpoint.disabled") && slices.Contains(got, "hookd.delivery.failing")
	})
}

func TestAutoDisableAfterFailuresInARow(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	rc.SetRespond(func(int, hookdtest.Request) int { return 503 })
	cfg := fastConfig()
	cfg.Worker.RetrySchedule = slices.Repeat([]time.Duration{20 * time.Millisecond}, 10)
	cfg.Worker.AutoDisableFailures = 4
	h := hookdtest.Start(t, cfg)
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL})
	h.PublishEvent(t, "a.b", nil)
	h.WaitEndpoint(t, ep.ID, func(e *hookdtest.Endpoint) bool { return e != nil && !e.Enabled })
	if n := len(h.Attempts(t, ep.ID)); n != 4 {
		t.Fatalf("disabled after %d attempts, want 4", n)
	}
}

// delivery.exhausted when a delivery is dead-lettered; endpoint.recovered
// when a failing endpoint succeeds again.
func TestExhaustedAndRecoveredEvents(t *testing.T) {
	var ok atomic.Bool
	rc := hookdtest.NewReceiver(t)
	rc.SetRespond(func(int, hookdtest.Request) int {
		if ok.Load() {
			return 200
		}
		return http.StatusNotFound
	})
	opsRC := hookdtest.NewReceiver(t)
	h := hookdtest.Start(t, fastConfig())
	h.CreateEndpoint(t, map[string]any{"url": opsRC.URL, "events": []string{"hookd.>"}})
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "events": []string{"order.*"}})
	h.PublishEvent(t, "order.paid", nil)
	hookdtest.WaitFor(t, 10*time.Second, "delivery.exhausted", func() bool { return slices.Contains(opsTypes(opsRC), "hookd.delivery.exhausted") })
	ok.Store(true)
	h.PublishEvent(t, "order.paid", nil)
	hookdtest.WaitFor(t, 10*time.Second, "endpoint.recovered", func() bool { return slices.Contains(opsTypes(opsRC), "hookd.endpoint.recovered") })
	var body struct {
		Data struct {
			EndpointID string `json:"endpoint_id"`
		}
	}
	for _, r := range opsRC.Requests() {
		_ = json.Unmarshal(r.Body, &body)
		if body.Data.EndpointID != ep.ID {
			t.Errorf("operational event about %q, want %s: %s", body.Data.EndpointID, ep.ID, r.Body)
		}
	}
}
