package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hookd/hookd/internal/hookdtest"
)

// publishNATS publishes a message with headers to the events stream, as a
// NATS producer does, and requires JetStream's acknowledgement.
func publishToStream(t *testing.T, h *hookdtest.Hookd, subject string, header map[string]string, body string) {
	t.Helper()
	m := nats.NewMsg(subject)
	for k, v := range header {
		m.Header.Set(k, v)
	}
	m.Data = []byte(body)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := h.App.JetStream().PublishMsg(ctx, m); err != nil {
		t.Fatalf("publish to %s: %v", subject, err)
	}
}

// postCloudEvent posts a structured CloudEvent and returns the status and
// answer.
func postCloudEvent(t *testing.T, h *hookdtest.Hookd, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.URL+"/v1/events", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/cloudevents+json")
	req.Header.Set("Authorization", "Bearer "+hookdtest.AdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(resp.Body)
	return resp.StatusCode, out.Bytes()
}

// received is one delivery as a receiver got it.
type received struct {
	webhookID string
	env       envelope
}

func receivedByID(t *testing.T, rc *hookdtest.Receiver) map[string][]received {
	t.Helper()
	out := map[string][]received{}
	for _, r := range rc.Requests() {
		var env envelope
		if err := json.Unmarshal(r.Body, &env); err != nil {
			t.Fatalf("delivery body %s: %v", r.Body, err)
		}
		id := r.Header.Get("webhook-id")
		out[id] = append(out[id], received{webhookID: id, env: env})
	}
	return out
}

// CloudEvents in binary and structured mode, over NATS and HTTP: the
// CloudEvent's id is the webhook-id, its time the timestamp, its source
// what filters read; the subject decides the type unless it is the
// generic events.cloudevents.
func TestCloudEventsArriveAsPublished(t *testing.T) {
	orders := hookdtest.NewReceiver(t)
	other := hookdtest.NewReceiver(t)
	h := hookdtest.Start(t, fastConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": orders.URL, "events": []string{"order.created"}, "filter": `source == "/orders" && headers["ce-subject"] != "skip"`})
	otherEP := h.CreateEndpoint(t, map[string]any{"url": other.URL, "filter": `source == "/billing"`})

	binary := func(id, typ, source, at string) map[string]string {
		return map[string]string{"ce-specversion": "1.0", "ce-id": id, "ce-type": typ, "ce-source": source, "ce-time": at, "Content-Type": "application/json"}
	}
	// Binary on the generic subject: ce-type decides.
	publishToStream(t, h, "events.cloudevents", binary("ce-bin-1", "order.created", "/orders", "2026-06-01T12:00:00Z"), `{"n":"bin-1"}`)
	// Binary on a type's subject: the subject decides, whatever ce-type says.
	publishToStream(t, h, "events.order.created", binary("ce-bin-2", "com.example.order", "/orders", "2026-06-01T12:00:01.5+02:00"), `{"n":"bin-2"}`)
	// Another source: only the other endpoint's filter matches.
	publishToStream(t, h, "events.cloudevents", binary("ce-bin-3", "order.created", "/billing", "2026-06-01T12:00:02Z"), `{"n":"bin-3"}`)
	// Headers in other cases; ce-subject reaches filters.
	publishToStream(t, h, "events.order.created", map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "ce-bin-4", "Ce-Source": "/orders", "Ce-Subject": "skip"}, `{"n":"bin-4"}`)
	// Structured over NATS.
	publishToStream(t, h, "events.cloudevents", map[string]string{"Content-Type": "application/cloudevents+json"},
		`{"specversion":"1.0","id":"ce-str-1","type":"order.created","source":"/orders","time":"2026-06-02T08:30:00Z","data":{"n":"str-1"}}`)
	// Structured over HTTP.
	if status, out := postCloudEvent(t, h, `{"specversion":"1.0","id":"ce-http-1","type":"order.created","source":"/orders","time":"2026-06-03T09:00:00.25Z","data":{"n":"http-1"}}`); status != http.StatusAccepted {
		t.Fatalf("POST CloudEvent: %d %s", status, out)
	}

	want := map[string]envelope{
		"ce-bin-1":  {Type: "order.created", Timestamp: "2026-06-01T12:00:00Z", Data: json.RawMessage(`{"n":"bin-1"}`)},
		"ce-bin-2":  {Type: "order.created", Timestamp: "2026-06-01T10:00:01.5Z", Data: json.RawMessage(`{"n":"bin-2"}`)},
		"ce-str-1":  {Type: "order.created", Timestamp: "2026-06-02T08:30:00Z", Data: json.RawMessage(`{"n":"str-1"}`)},
		"ce-http-1": {Type: "order.created", Timestamp: "2026-06-03T09:00:00.25Z", Data: json.RawMessage(`{"n":"http-1"}`)},
	}
	hookdtest.WaitFor(t, 15*time.Second, "four CloudEvents delivered", func() bool { return orders.Count() >= len(want) })
	hookdtest.WaitFor(t, 15*time.Second, "the /billing event delivered", func() bool { return other.Count() >= 1 })
	h.WaitIdle(t, ep.ID, otherEP.ID)

	got := receivedByID(t, orders)
	var ids []string
	for id := range got {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if len(got) != len(want) {
		t.Fatalf("delivered webhook-ids %v, want those of %v", ids, want)
	}
	for id, w := range want {
		r := got[id]
		if len(r) != 1 {
			t.Errorf("%s delivered %d times", id, len(r))
			continue
		}
		if r[0].env.Type != w.Type || r[0].env.Timestamp != w.Timestamp || string(r[0].env.Data) != string(w.Data) {
			t.Errorf("%s: got %+v, want %+v", id, r[0].env, w)
		}
	}
	if o := receivedByID(t, other); len(o) != 1 || len(o["ce-bin-3"]) != 1 || o["ce-bin-3"][0].env.Type != "order.created" {
		t.Errorf("the /billing endpoint got %v, want ce-bin-3 only", o)
	}

	// The event's page shows the structured event's data, not its envelope.
	status, out := h.Do(t, http.MethodGet, "/v1/events/ce-str-1", nil)
	var ev struct {
		ID, Type  string
		Timestamp string
		Data      json.RawMessage
	}
	if status != http.StatusOK || json.Unmarshal(out, &ev) != nil || ev.Type != "order.created" || string(ev.Data) != `{"n":"str-1"}` || ev.Timestamp != "2026-06-02T08:30:00Z" {
		t.Fatalf("GET /v1/events/ce-str-1: %d %s", status, out)
	}

	// A retry re-reads the stored event: same webhook-id, the data inside.
	var dlv string
	for _, d := range listDeliveries(t, h, ep.ID, "").Data {
		if d.EventID == "ce-str-1" {
			dlv = d.ID
		}
	}
	if status, out := h.Do(t, http.MethodPost, "/v1/deliveries/"+dlv+"/retry", `{"force":true}`); status != http.StatusAccepted {
		t.Fatalf("retry %q: %d %s", dlv, status, out)
	}
	hookdtest.WaitFor(t, 15*time.Second, "the retried delivery", func() bool { return len(receivedByID(t, orders)["ce-str-1"]) == 2 })
	if r := receivedByID(t, orders)["ce-str-1"][1]; string(r.env.Data) != `{"n":"str-1"}` || r.env.Timestamp != "2026-06-02T08:30:00Z" {
		t.Fatalf("retried delivery: %+v", r.env)
	}
}

// A catalogued type with a schema: a valid event is accepted and
// delivered; an invalid one is refused with 400 naming data and the
// schema's reason, and never delivered.
func TestSchemaRejectsInvalidEvents(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	h := hookdtest.Start(t, fastConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "events": []string{"order.created"}})
	schema := `{"type":"object","required":["order_id","amount"],"properties":{"order_id":{"type":"string"},"amount":{"type":"number"}}}`
	if status, out := h.Do(t, http.MethodPost, "/v1/event-types", `{"name":"order.created","schema":`+schema+`}`); status != http.StatusCreated {
		t.Fatalf("create event type: %d %s", status, out)
	}

	status, out := h.Do(t, http.MethodPost, "/v1/events", `{"type":"order.created","id":"bad-1","data":{"order_id":"o_1","amount":"12"}}`)
	var e struct {
		Error struct{ Code, Field, Message string }
	}
	if status != http.StatusBadRequest || json.Unmarshal(out, &e) != nil || e.Error.Field != "data" ||
		e.Error.Message != "does not match the schema of event type order.created: at /amount: got string, want number" {
		t.Fatalf("invalid event: %d %s", status, out)
	}
	if status, out := postCloudEvent(t, h, `{"specversion":"1.0","id":"bad-2","type":"order.created","source":"/s","data":{"amount":1}}`); status != http.StatusBadRequest {
		t.Fatalf("invalid CloudEvent: %d %s", status, out)
	}
	h.PublishEvent(t, "order.created", map[string]any{"order_id": "o_2", "amount": 12})
	hookdtest.WaitFor(t, 15*time.Second, "the valid event delivered", func() bool { return rc.Count() == 1 })
	h.WaitIdle(t, ep.ID)
	for _, r := range rc.Requests() {
		if id := r.Header.Get("webhook-id"); id == "bad-1" || id == "bad-2" {
			t.Fatalf("an invalid event was delivered: %s", r.Body)
		}
	}
	if rc.Count() != 1 {
		t.Fatalf("%d deliveries, want the valid event's only", rc.Count())
	}
}
