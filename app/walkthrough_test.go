package app_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/worker"
)

func fastConfig() app.Config {
	return app.Config{Worker: worker.Config{RetrySchedule: []time.Duration{20 * time.Millisecond, 40 * time.Millisecond}, Timeout: 5 * time.Second}}
}

func verify(t *testing.T, secret string, r hookdtest.Request) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(r.Body, r.Header); err != nil {
		t.Fatalf("official Standard Webhooks verifier refused the delivery: %v", err)
	}
}

type envelope struct {
	Type      string          `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// The README's walk-through: create an endpoint with a filter, publish with a
// plain NATS client (as the nats CLI does) and over HTTP, and receive signed
// Standard Webhooks deliveries of the matching events only.
func TestWalkthrough(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	cfg := fastConfig()
	cfg.NATSListen = "127.0.0.1:0"
	h := hookdtest.Start(t, cfg)

	ep := h.CreateEndpoint(t, `{"url":"`+rc.URL+`/hook","events":["function.executed"],"filter":"data.execution.status == \"success\" && data.name startsWith \"My\""}`)
	if !strings.HasPrefix(ep.ID, "ep_") {
		t.Errorf("endpoint id %q", ep.ID)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(ep.Secret, "whsec_"))
	if !strings.HasPrefix(ep.Secret, "whsec_") || err != nil || len(raw) < 24 {
		t.Fatalf("secret %q is not whsec_ + base64 of 24+ bytes", ep.Secret)
	}

	nc, err := nats.Connect(h.App.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	before := time.Now().Add(-time.Second)
	for _, body := range []string{
		`{"name":"My Function","execution":{"status":"success"}}`,
		`{"name":"My Function","execution":{"status":"error"}}`,      // filter: not success
		`{"name":"Their Function","execution":{"status":"success"}}`, // filter: name
	} {
		if err := nc.Publish("events.function.executed", []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Publish("events.other.type", []byte(`{"name":"My Function","execution":{"status":"success"}}`)); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	status, out := h.Do(t, http.MethodPost, "/v1/events", `{"type":"function.executed","id":"evt_walk_1","data":{"name":"My Other","execution":{"status":"success"}}}`)
	if status != http.StatusAccepted || !strings.Contains(string(out), `"id":"evt_walk_1"`) {
		t.Fatalf("POST /v1/events: %d %s", status, out)
	}

	h.WaitEventsStored(t, 5)
	h.WaitIdle(t, ep.ID)
	reqs := rc.Requests()
	if len(reqs) != 2 {
		t.Fatalf("receiver got %d deliveries, want 2 (the matching ones)", len(reqs))
	}
	names := map[string]bool{}
	for _, r := range reqs {
		verify(t, ep.Secret, r)
		if r.Path != "/hook" {
			t.Errorf("path %q", r.Path)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("content-type %q", ct)
		}
		if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "hookd/") {
			t.Errorf("user-agent %q", ua)
		}
		var env envelope
		if err := json.Unmarshal(r.Body, &env); err != nil {
			t.Fatalf("body %s: %v", r.Body, err)
		}
		ts, err := time.Parse(time.RFC3339Nano, env.Timestamp)
		if err != nil || ts.Before(before) || ts.After(time.Now()) {
			t.Errorf("timestamp %q is not the RFC 3339 acceptance time (%v)", env.Timestamp, err)
		}
		if env.Type != "function.executed" {
			t.Errorf("type %q", env.Type)
		}
		var data struct{ Name string }
		_ = json.Unmarshal(env.Data, &data)
		names[data.Name] = true
		if data.Name == "My Other" && r.Header.Get("webhook-id") != "evt_walk_1" {
			t.Errorf("webhook-id %q, want the event id evt_walk_1", r.Header.Get("webhook-id"))
		}
	}
	if !names["My Function"] || !names["My Other"] {
		t.Fatalf("delivered %v", names)
	}
}

// An event re-sent with the same id (Nats-Msg-Id, or "id" over HTTP) is
// accepted once and delivered once.
func TestDuplicateEventIDDeliveredOnce(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	h := hookdtest.Start(t, fastConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL})
	for i := range 3 {
		status, out := h.Do(t, http.MethodPost, "/v1/events", `{"type":"a.b","id":"evt_same","data":{}}`)
		if status != http.StatusAccepted {
			t.Fatalf("%d %s", status, out)
		}
		if dup := strings.Contains(string(out), `"duplicate":true`); dup != (i > 0) {
			t.Errorf("send %d: duplicate flag wrong: %s", i, out)
		}
	}
	h.WaitIdle(t, ep.ID)
	if got := rc.CountByID()["evt_same"]; got != 1 {
		t.Fatalf("delivered %d times, want 1", got)
	}
}
