package app_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/ops"
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
	if held := hookdtest.Messages(t, h.App.JetStream(), h.App.Names().EndpointStream(ep.ID), h.App.Names().DeliverySubject(ep.ID)); len(held) != 1 {
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

// Operational events about a tenant's endpoint reach that tenant's
// endpoints only (and every tenant's go out on core NATS with the
// Hookd-Tenant header); delivery.succeeded is raised when switched on, and
// never for a delivery of an operational event.
func TestOpsEventsStayWithTheirTenant(t *testing.T) {
	cfg := fastConfig()
	cfg.Worker.OpsDeliverySucceeded = true
	h := hookdtest.Start(t, cfg)
	core, err := h.App.JetStream().Conn().SubscribeSync("hookd.ops.>")
	if err != nil {
		t.Fatal(err)
	}
	createTenant(t, h, `{"id":"acme"}`)
	acmeOps, defaultOps, acmeHook := hookdtest.NewReceiver(t), hookdtest.NewReceiver(t), hookdtest.NewReceiver(t)
	h.CreateEndpoint(t, map[string]any{"tenant": "acme", "url": acmeOps.URL, "events": []string{"hookd.>"}})
	h.CreateEndpoint(t, map[string]any{"url": defaultOps.URL, "events": []string{"hookd.>"}})
	hook := h.CreateEndpoint(t, map[string]any{"tenant": "acme", "url": acmeHook.URL, "events": []string{"order.*"}})
	id := h.PublishEventAs(t, "acme", "order.paid", map[string]int{"n": 1})
	hookdtest.WaitFor(t, 10*time.Second, "acme's delivery.succeeded", func() bool { return acmeOps.Count() == 1 })
	h.WaitIdle(t)

	var got struct {
		Type string
		Data ops.DeliveryData
	}
	if err := json.Unmarshal(acmeOps.Requests()[0].Body, &got); err != nil {
		t.Fatal(err)
	}
	want := ops.DeliveryData{Tenant: "acme", DeliveryID: delivery.ID(id, hook.ID), EndpointID: hook.ID, EventID: id,
		EventType: "order.paid", Attempts: 1, LastStatusCode: 200, DurationSeconds: got.Data.DurationSeconds}
	if got.Type != "hookd.delivery.succeeded" || got.Data != want || got.Data.DurationSeconds <= 0 {
		t.Fatalf("acme's ops endpoint got %s %+v, want hookd.delivery.succeeded %+v", got.Type, got.Data, want)
	}
	// Its own delivery raised nothing more, and nothing of acme's leaked.
	if n := acmeOps.Count(); n != 1 {
		t.Fatalf("acme's ops endpoint got %d deliveries, want 1: ops deliveries must not raise ops events", n)
	}
	if n := defaultOps.Count(); n != 0 {
		t.Fatalf("the default tenant's ops endpoint got %d of acme's operational events", n)
	}
	m, err := core.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "hookd.ops.delivery.succeeded" || m.Header.Get("Hookd-Tenant") != "acme" {
		t.Fatalf("core NATS got %s with tenant %q", m.Subject, m.Header.Get("Hookd-Tenant"))
	}
}
