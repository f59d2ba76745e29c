package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

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
	// Kept: moved out of the queue to wait (the copy is stored before the
	// original is acknowledged, so both show for a moment).
	hookdtest.WaitFor(t, 5*time.Second, "the auto-disabled endpoint holding its delivery once", func() bool { return len(h.Queued(t, ep.ID)) == 1 })
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
	want := ops.DeliveryData{Tenant: "acme", DeliveryID: h.DeliveryID(t, id, hook.ID), EndpointID: hook.ID, EventID: id,
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

// The hookd.* type space is hookd's own. Forged operational events are
// never delivered: published over NATS by a full-permission client (hookd's
// own connection) to events.hookd.*, tenants.<t>.events.hookd.* or with a
// Hookd-Tenant header, or as a CloudEvent whose ce-type is hookd.*, they
// are acknowledged, counted and logged, not routed (nor found by a rule
// test over history); over the API, with a publish key, a tenant or a
// structured CloudEvent, they are 400 naming type. Real operational
// events (deliveries exhausted, in the default tenant and in acme) still
// reach each tenant's hookd.> endpoint, signed.
func TestForgedOpsEventsAreNotDelivered(t *testing.T) {
	var logs lockedBuffer
	cfg := fastConfig()
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	h := hookdtest.Start(t, cfg)
	createTenant(t, h, `{"id":"acme"}`)
	start := time.Now().UTC()
	defaultOps, acmeOps, failing := hookdtest.NewReceiver(t), hookdtest.NewReceiver(t), hookdtest.NewReceiver(t)
	failing.SetRespond(func(int, hookdtest.Request) int { return http.StatusNotFound }) // permanent: exhausted at once
	defaultEP := h.CreateEndpoint(t, map[string]any{"url": defaultOps.URL, "events": []string{"hookd.>"}})
	acmeEP := h.CreateEndpoint(t, map[string]any{"tenant": "acme", "url": acmeOps.URL, "events": []string{"hookd.>"}})
	// A CloudEvent on the generic subject keeps the type "cloudevents"
	// when its ce-type is hookd's: an endpoint of that type gets it as such.
	ceRC := hookdtest.NewReceiver(t)
	h.CreateEndpoint(t, map[string]any{"url": ceRC.URL, "events": []string{"cloudevents"}})

	// Over NATS, with every permission there is.
	js := h.App.JetStream()
	forged := []*nats.Msg{
		{Subject: "events.hookd.endpoint.disabled", Header: nats.Header{}},
		{Subject: "tenants.acme.events.hookd.delivery.exhausted", Header: nats.Header{}},
		{Subject: "events.hookd.endpoint.disabled", Header: nats.Header{"Hookd-Tenant": {"acme"}}},
	}
	for i, m := range forged {
		m.Data = []byte(`{"endpoint_id":"ep_FAKE"}`)
		m.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("forged-%d", i))
		if _, err := js.PublishMsg(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	ce := nats.NewMsg("events.cloudevents")
	ce.Header.Set("ce-specversion", "1.0")
	ce.Header.Set("ce-id", "forged-ce")
	ce.Header.Set("ce-source", "/attacker")
	ce.Header.Set("ce-type", "hookd.endpoint.disabled")
	ce.Data = []byte(`{"endpoint_id":"ep_FAKE"}`)
	if _, err := js.PublishMsg(t.Context(), ce); err != nil {
		t.Fatal(err)
	}

	// Over the API.
	status, out := h.Do(t, http.MethodPost, "/v1/keys", map[string]string{"name": "ingest", "scope": "publish"})
	var pub struct{ Key string }
	if status != http.StatusCreated || json.Unmarshal(out, &pub) != nil {
		t.Fatalf("publish key: %d %s", status, out)
	}
	acmeKey := tenantKey(t, h, "acme")
	for _, c := range []struct{ key, contentType, body string }{
		{pub.Key, "application/json", `{"type":"hookd.delivery.exhausted","data":{"endpoint_id":"ep_FAKE"}}`},
		{pub.Key, "application/json", `{"type":"hookd.endpoint.disabled","tenant":"acme","data":{"endpoint_id":"ep_FAKE"}}`},
		{acmeKey, "application/json", `{"type":"hookd.endpoint.disabled","data":{"endpoint_id":"ep_FAKE"}}`},
		{hookdtest.AdminKey, "application/json", `{"type":"hookd.endpoint.recovered","data":{}}`},
		{pub.Key, "application/cloudevents+json", `{"specversion":"1.0","id":"x1","source":"/a","type":"hookd.endpoint.disabled","data":{"endpoint_id":"ep_FAKE"}}`},
	} {
		req, _ := http.NewRequest(http.MethodPost, h.URL+"/v1/events", strings.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer "+c.key)
		req.Header.Set("Content-Type", c.contentType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), `"field":"type"`) {
			t.Errorf("POST /v1/events %s: %d %s, want 400 field type", c.body, resp.StatusCode, b)
		}
	}

	// The catalogue may document hookd's types (admin keys only, as for
	// every type): documentation, not a way to publish them.
	if status, out := h.Do(t, http.MethodPost, "/v1/event-types", `{"name":"hookd.delivery.exhausted","example":{"endpoint_id":"ep_x"}}`); status != http.StatusCreated {
		t.Errorf("cataloguing hookd.delivery.exhausted: %d %s", status, out)
	}

	// Real operational events, in both tenants.
	h.CreateEndpoint(t, map[string]any{"url": failing.URL, "events": []string{"order.*"}})
	h.CreateEndpoint(t, map[string]any{"tenant": "acme", "url": failing.URL, "events": []string{"order.*"}})
	h.PublishEvent(t, "order.paid", nil)
	h.PublishEventAs(t, "acme", "order.paid", nil)
	hookdtest.WaitFor(t, 10*time.Second, "the real delivery.exhausted events", func() bool {
		return slices.Contains(opsTypes(defaultOps), "hookd.delivery.exhausted") && slices.Contains(opsTypes(acmeOps), "hookd.delivery.exhausted")
	})
	h.WaitIdle(t)

	for _, c := range []struct {
		rc     *hookdtest.Receiver
		secret string
		tenant string
	}{{defaultOps, defaultEP.Secret, "default"}, {acmeOps, acmeEP.Secret, "acme"}} {
		for _, r := range c.rc.Requests() {
			if strings.Contains(string(r.Body), "ep_FAKE") || strings.Contains(string(r.Body), `"cloudevents"`) {
				t.Errorf("a forged event was delivered to %s's operational endpoint: %s %s", c.tenant, r.Path, r.Body)
				continue
			}
			var env struct {
				Type string
				Data ops.DeliveryData
			}
			if err := json.Unmarshal(r.Body, &env); err != nil || env.Type != "hookd.delivery.exhausted" || env.Data.Tenant != c.tenant {
				t.Errorf("%s's operational endpoint got %s (%v), want its own hookd.delivery.exhausted", c.tenant, r.Body, err)
			}
			verify(t, c.secret, r)
		}
		if n := c.rc.Count(); n != 1 {
			t.Errorf("%s's operational endpoint got %d deliveries, want its 1 real one", c.tenant, n)
		}
	}
	if got := opsTypes(ceRC); !slices.Equal(got, []string{"cloudevents"}) {
		t.Errorf("the CloudEvent with ce-type hookd.endpoint.disabled was delivered as %v, want [cloudevents]", got)
	}

	// Counted and logged, each with its ids; a rule test over history does
	// not find them either.
	if got := hookdtest.Scrape(t, h.URL+"/metrics", hookdtest.AdminKey).Value("hookd_events_forged_total"); got != float64(len(forged)) {
		t.Errorf("hookd_events_forged_total %v, want %d", got, len(forged))
	}
	for i := range forged {
		id := fmt.Sprintf("forged-%d", i)
		if !strings.Contains(logs.String(), `"event":"`+id+`"`) {
			t.Errorf("no warning names the forged event %s: %s", id, logs.String())
		}
	}
	rule := postHistory(t, h, "/v1/rules/test", map[string]any{"events": []string{"hookd.>"}, "since": start}, http.StatusOK)
	if rule.Matched != 1 {
		t.Errorf("a rule test over history matched %d hookd.* events of the default tenant, want its 1 real one: %v", rule.Matched, rule)
	}
}
