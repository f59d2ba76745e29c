package app_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/internal/hookdtest"
)

// natsConfig is fastConfig with a NATS listener, for producers that
// publish with a plain NATS client.
func natsConfig() app.Config {
	cfg := fastConfig()
	cfg.NATSListen = "127.0.0.1:0"
	return cfg
}

// publishNATS publishes a message with headers as a NATS producer does
// and waits until the events stream holds n events.
func publishNATS(t *testing.T, h *hookdtest.Hookd, subject string, body []byte, header map[string]string, n uint64) {
	t.Helper()
	nc, err := nats.Connect(h.App.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	m := nats.NewMsg(subject)
	m.Data = body
	for k, v := range header {
		m.Header.Set(k, v)
	}
	if err := nc.PublishMsg(m); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	h.WaitEventsStored(t, n)
}

// requestFor waits for the request a receiver got for an event id.
func requestFor(t *testing.T, rc *hookdtest.Receiver, eventID string) hookdtest.Request {
	t.Helper()
	return requestAt(t, rc, "", eventID)
}

// requestAt waits for the request a receiver got for an event id on a path
// ("": any).
func requestAt(t *testing.T, rc *hookdtest.Receiver, path, eventID string) hookdtest.Request {
	t.Helper()
	var got hookdtest.Request
	hookdtest.WaitFor(t, 10*time.Second, "the delivery of "+eventID+" to "+path, func() bool {
		for _, r := range rc.Requests() {
			if r.Header.Get("webhook-id") == eventID && (path == "" || r.Path == path) {
				got = r
				return true
			}
		}
		return false
	})
	return got
}

// format raw: a non-JSON body arrives byte for byte with the producer's
// content type, signed over those bytes; a body without a content type
// goes as application/octet-stream; an HTTP-published event is its data
// exactly as sent.
func TestRawPayloadIsByteExact(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	h := hookdtest.Start(t, natsConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "format": "raw"})

	csv := []byte("id,name\r\n1,\"caf\xc3\xa9 \x00 \xff\"\r\n") // CRLF, NUL, invalid UTF-8
	publishNATS(t, h, "events.report.ready", csv, map[string]string{"Content-Type": "text/csv; charset=utf-8", "Nats-Msg-Id": "evt_csv"}, 1)
	binary := []byte{0x89, 'P', 'N', 'G', 0x00, 0xfe}
	publishNATS(t, h, "events.report.ready", binary, map[string]string{"Nats-Msg-Id": "evt_bin"}, 2)
	const sent = `{"type":"report.ready","id":"evt_http","data":{ "b" : [1, 2.50],  "a":"x" }}`
	if status, out := h.Do(t, http.MethodPost, "/v1/events", sent); status != http.StatusAccepted {
		t.Fatalf("publish: %d %s", status, out)
	}

	for _, c := range []struct {
		id, contentType string
		body            []byte
	}{
		{"evt_csv", "text/csv; charset=utf-8", csv},
		{"evt_bin", "application/octet-stream", binary},
		{"evt_http", "application/json", []byte(`{ "b" : [1, 2.50],  "a":"x" }`)},
	} {
		r := requestFor(t, rc, c.id)
		if !bytes.Equal(r.Body, c.body) {
			t.Errorf("%s: body %q, want %q byte for byte", c.id, r.Body, c.body)
		}
		if got := r.Header.Get("Content-Type"); got != c.contentType {
			t.Errorf("%s: content type %q, want %q", c.id, got, c.contentType)
		}
		verify(t, ep.Secret, r)
	}
}

type vellumEnvelope struct {
	ID         string          `json:"id"`
	Timestamp  string          `json:"timestamp"`
	APIVersion string          `json:"api_version"`
	TraceID    string          `json:"trace_id"`
	SpanID     string          `json:"span_id"`
	Parent     json.RawMessage `json:"parent"`
	Name       string          `json:"name"`
	Body       json.RawMessage `json:"body"`
}

// format envelope: Vellum's fields and types, the trace from the W3C
// traceparent of a NATS producer or of POST /v1/events, or none.
func TestEnvelopePayload(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	h := hookdtest.Start(t, natsConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "format": "envelope", "events": []string{"workflow.execution.>"}})
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	const traceUUID = "4bf92f35-77b3-4da6-a3ce-929d0e0e4736"
	const parentSpan = `{"span_id":"00000000-0000-0000-00f0-67aa0ba902b7","parent":null}`
	body := `{"workflow_class":{"name":"Flow","module":"app.flows","bases":[]},"outputs":{"answer":42}}`
	publishNATS(t, h, "events.workflow.execution.fulfilled", []byte(body), map[string]string{"traceparent": tp, "Nats-Msg-Id": "evt_nats"}, 1)
	req, _ := http.NewRequest(http.MethodPost, h.URL+"/v1/events", strings.NewReader(`{"type":"workflow.execution.initiated","id":"evt_http","data":`+body+`}`))
	req.Header.Set("Authorization", "Bearer "+hookdtest.AdminKey)
	req.Header.Set("traceparent", tp)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("publish: %d", resp.StatusCode)
	}
	h.PublishEvent(t, "workflow.execution.rejected", map[string]any{"error": map[string]string{"code": "E", "message": "m"}})

	isUUID := func(s string) bool {
		return len(s) == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-'
	}
	hookdtest.WaitFor(t, 10*time.Second, "3 deliveries", func() bool { return rc.Count() == 3 })
	for _, r := range rc.Requests() {
		verify(t, ep.Secret, r)
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(r.Body, &fields); err != nil || len(fields) != 8 {
			t.Fatalf("body %s: want Vellum's 8 fields (%v)", r.Body, err)
		}
		var env vellumEnvelope
		if err := json.Unmarshal(r.Body, &env); err != nil {
			t.Fatalf("body %s: field types are not Vellum's: %v", r.Body, err)
		}
		id := r.Header.Get("webhook-id")
		if _, err := time.Parse(time.RFC3339Nano, env.Timestamp); err != nil || env.ID != id || env.APIVersion != "2024-10-25" ||
			!strings.HasPrefix(env.Name, "workflow.execution.") || !isUUID(env.TraceID) || !isUUID(env.SpanID) {
			t.Errorf("envelope %s", r.Body)
		}
		switch id {
		case "evt_nats", "evt_http":
			if env.TraceID != traceUUID || string(env.Parent) != parentSpan || string(env.Body) != body {
				t.Errorf("%s: trace %s parent %s body %s; want the traceparent's trace and span, and the data as sent", id, env.TraceID, env.Parent, env.Body)
			}
		default:
			if env.TraceID == traceUUID || string(env.Parent) != "null" {
				t.Errorf("%s without a trace: trace %s parent %s", id, env.TraceID, env.Parent)
			}
		}
	}
}

// slackReceiver answers as Slack's incoming webhooks do: 200 "ok" for a
// JSON message with a non-empty text (and, if any, well-formed blocks),
// 400 otherwise.
func slackReceiver(t *testing.T) *hookdtest.Receiver {
	rc := hookdtest.NewReceiver(t)
	rc.SetRespond(func(_ int, r hookdtest.Request) int {
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			return http.StatusBadRequest
		}
		var msg struct {
			Text   *string           `json:"text"`
			Blocks *[]map[string]any `json:"blocks"`
		}
		dec := json.NewDecoder(bytes.NewReader(r.Body))
		if dec.Decode(&msg) != nil || msg.Text == nil || strings.TrimSpace(*msg.Text) == "" {
			return http.StatusBadRequest // Slack: no_text / invalid_payload
		}
		if msg.Blocks != nil {
			for _, b := range *msg.Blocks {
				if typ, _ := b["type"].(string); typ == "" {
					return http.StatusBadRequest
				}
			}
		}
		return http.StatusOK
	})
	return rc
}

// A Valohai-style Slack "channel" is an endpoint with format slack: a
// receiver holding Slack's rules accepts its deliveries and its test
// delivery, and refuses the standard envelope.
func TestSlackChannel(t *testing.T) {
	rc := slackReceiver(t)
	h := hookdtest.Start(t, fastConfig())
	channel := h.CreateEndpoint(t, map[string]any{"url": rc.URL + "/slack", "format": "slack", "events": []string{"execution.*"}})
	standard := h.CreateEndpoint(t, map[string]any{"url": rc.URL + "/standard", "events": []string{"execution.*"}})

	h.PublishEvent(t, "execution.completed", map[string]any{
		"title": "Execution finished: demo/cool-tensorflow/#736 (completed)", "body": "Took 11:01 <!channel>",
		"url": "https://app.valohai.com/p/demo/cool-tensorflow/execution/0178f482/"})
	h.PublishEvent(t, "execution.failed", map[string]any{"counter": 737})
	h.WaitIdle(t, channel.ID, standard.ID)

	ok, refused := listDeliveries(t, h, channel.ID, "").Data, listDeliveries(t, h, standard.ID, "").Data
	if len(ok) != 2 || len(refused) != 2 {
		t.Fatalf("%d and %d deliveries, want 2 to each endpoint", len(ok), len(refused))
	}
	for _, d := range ok {
		if d.Status != "succeeded" {
			t.Errorf("slack delivery %s of %s: %s, want succeeded", d.ID, d.EventType, d.Status)
		}
	}
	for _, d := range refused {
		if d.Status != "dead" {
			t.Errorf("the receiver accepted the standard envelope (%s): it does not check Slack's shape", d.Status)
		}
	}
	var texts []string
	for _, r := range rc.Requests() {
		if r.Path == "/slack" {
			var msg struct{ Text string }
			_ = json.Unmarshal(r.Body, &msg)
			texts = append(texts, msg.Text)
		}
	}
	want := "*Execution finished: demo/cool-tensorflow/#736 (completed)*\nTook 11:01 &lt;!channel&gt;\n<https://app.valohai.com/p/demo/cool-tensorflow/execution/0178f482/>"
	if len(texts) != 2 || (texts[0] != want && texts[1] != want) {
		t.Errorf("slack texts %q, want one to be %q", texts, want)
	}

	status, out := h.Do(t, http.MethodPost, "/v1/endpoints/"+channel.ID+"/test", map[string]any{"event_type": "execution.completed", "data": map[string]string{"title": "Test"}})
	if status != http.StatusOK || !strings.Contains(string(out), `"succeeded":true`) {
		t.Fatalf("test delivery to the channel: %d %s", status, out)
	}
}

// format transform: the expression's result is the body (JSON for a map,
// text for a string); one failing on an event dead-letters that delivery
// without sending it, and a retry after fixing the transform delivers it.
func TestTransformPayload(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	h := hookdtest.Start(t, fastConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL + "/json", "format": "transform", "events": []string{"execution.*"},
		"transform": `{"title": "Execution " + data.name + " " + type, "url": data.url}`})
	text := h.CreateEndpoint(t, map[string]any{"url": rc.URL + "/text", "format": "transform", "events": []string{"execution.*"},
		"transform": `type + ": " + (data.name ?? "?")`})

	ok := h.PublishEvent(t, "execution.completed", map[string]string{"name": "train", "url": "https://x.example/e/1"})
	r := requestAt(t, rc, "/json", ok)
	if string(r.Body) != `{"title":"Execution train execution.completed","url":"https://x.example/e/1"}` || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("transform body %s (%s)", r.Body, r.Header.Get("Content-Type"))
	}
	verify(t, ep.Secret, r)

	// No data.name: "Execution " + nil fails at delivery.
	bad := h.PublishEvent(t, "execution.failed", map[string]int{"code": 3})
	h.WaitIdle(t, ep.ID, text.ID)
	var textBodies []string
	for _, x := range rc.Requests() {
		if x.Path == "/json" && x.Header.Get("webhook-id") == bad {
			t.Fatalf("a failing transform sent %s", x.Body)
		}
		if x.Path == "/text" {
			if ct := x.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("text transform sent as %q", ct)
			}
			textBodies = append(textBodies, string(x.Body))
		}
	}
	if len(textBodies) != 2 || !strings.Contains(strings.Join(textBodies, "|"), "execution.failed: ?") {
		t.Errorf("text transform bodies %q", textBodies)
	}
	d := getDelivery(t, h, h.DeliveryID(t, bad, ep.ID))
	if d.Status != "dead" || len(d.Attempts) != 1 || d.Attempts[0].StatusCode != 0 {
		t.Fatalf("failing transform: delivery %+v, want dead after one attempt that sent nothing", d)
	}
	status, out := h.Do(t, http.MethodGet, "/v1/deliveries/"+d.ID, nil)
	if status != 200 || !strings.Contains(string(out), "not rendered in the endpoint's format: transform") {
		t.Errorf("the delivery log does not say why: %s", out)
	}
	dead := h.DeadLetters(t, ep.ID)
	if len(dead) != 1 || !strings.Contains(dead[0].Header.Get(delivery.HeaderRenderError), "transform") {
		t.Fatalf("dead letters %v: want the event's with the render error", dead)
	}
	if !bytes.Contains(dead[0].Data, []byte(`"code":3`)) {
		t.Errorf("the dead letter lost the event: %s", dead[0].Data)
	}

	// Fixed, then retried: rendered again with the new transform.
	if status, out := h.Do(t, http.MethodPatch, "/v1/endpoints/"+ep.ID, map[string]any{
		"transform": `{"title": "Execution " + (data.name ?? "unnamed") + " " + type}`}); status != http.StatusOK {
		t.Fatalf("fix: %d %s", status, out)
	}
	hookdtest.WaitFor(t, 10*time.Second, "the fixed transform in the registry", func() bool {
		return strings.Contains(h.App.Registry().Snapshot().Get(ep.ID).Transform, "unnamed")
	})
	if status, out := h.Do(t, http.MethodPost, "/v1/deliveries/"+d.ID+"/retry", nil); status != http.StatusAccepted {
		t.Fatalf("retry: %d %s", status, out)
	}
	if r := requestAt(t, rc, "/json", bad); string(r.Body) != `{"title":"Execution unnamed execution.failed"}` {
		t.Errorf("retried with the fixed transform: %s", r.Body)
	}
}

// A transform that does not compile, or fails on the sample event, is
// refused at creation with 400 naming the field and giving expr's message.
func TestTransformRefusedAtCreation(t *testing.T) {
	h := hookdtest.Start(t, fastConfig())
	type apiErr struct {
		Error struct{ Code, Field, Message string }
	}
	for _, c := range []struct {
		body map[string]any
		says string
	}{
		{map[string]any{"format": "transform", "transform": `{"title": data.`}, "invalid transform: unexpected end of expression (1:"},
		{map[string]any{"format": "transform", "transform": `data.order.total * 2`}, "fails on hookd's sample event (give a sample_event"},
		{map[string]any{"format": "transform", "transform": `data.order.total * 2`, "sample_event": map[string]any{"data": map[string]any{"order": map[string]any{}}}},
			"fails on the sample_event"},
		{map[string]any{"format": "transform", "transform": `now()`}, "invalid transform"},
		{map[string]any{"format": "transform"}, "required"},
		{map[string]any{"format": "slack", "transform": `data`}, `needs format "transform"`},
	} {
		c.body["url"] = "https://x.example"
		status, out := h.Do(t, http.MethodPost, "/v1/endpoints", c.body)
		var e apiErr
		_ = json.Unmarshal(out, &e)
		if status != http.StatusBadRequest || e.Error.Code != "invalid_field" || e.Error.Field != "transform" || !strings.Contains(e.Error.Message, c.says) {
			t.Errorf("%v: %d %s; want 400 on field transform saying %q", c.body, status, out, c.says)
		}
	}
	status, out := h.Do(t, http.MethodPost, "/v1/endpoints", map[string]any{"url": "https://x.example", "format": "transform", "transform": `data.order.total * 2`,
		"sample_event": map[string]any{"type": "order.paid", "data": map[string]any{"order": map[string]any{"total": 21}}}})
	if status != http.StatusCreated || !strings.Contains(string(out), `"transform":"data.order.total * 2"`) || strings.Contains(string(out), "sample_event") {
		t.Fatalf("with a fitting sample_event: %d %s", status, out)
	}
	status, out = h.Do(t, http.MethodPost, "/v1/endpoints", map[string]any{"url": "https://x.example", "headers": map[string]string{"Authorization": "Bearer {{ data.token"}})
	var e apiErr
	_ = json.Unmarshal(out, &e)
	if status != http.StatusBadRequest || e.Error.Field != "headers.Authorization" {
		t.Fatalf("unclosed header template: %d %s", status, out)
	}
}

// A templated header is rendered per event by the router, carried sealed
// in the endpoint stream, and sent by the worker with the static ones.
func TestTemplatedHeaderPerEvent(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	h := hookdtest.Start(t, fastConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "enabled": false, "headers": map[string]string{
		"Authorization": "Bearer {{ data.tenant_token }}", "X-Static": "static-value-0123456789"}})
	first := h.PublishEvent(t, "tenant.sync", map[string]string{"tenant_token": "tok_alpha_secret"})
	second := h.PublishEvent(t, "tenant.sync", map[string]string{"tenant_token": "tok_beta_secret"})

	// Held while disabled: the deliveries wait in the held stream.
	var msgs int
	hookdtest.WaitFor(t, 10*time.Second, "2 deliveries waiting", func() bool {
		msgs = 0
		for _, m := range h.Queued(t, ep.ID) {
			msgs++
			v := m.Header.Get(delivery.HeaderRenderedHeaders)
			if !strings.HasPrefix(v, "sealed:v1:") || strings.Contains(v, "tok_") {
				t.Fatalf("rendered headers not sealed in the stream: %q", v)
			}
		}
		return msgs == 2
	})
	if status, out := h.Do(t, http.MethodPost, "/v1/endpoints/"+ep.ID+"/enable", nil); status != http.StatusOK {
		t.Fatalf("enable: %d %s", status, out)
	}
	for id, want := range map[string]string{first: "Bearer tok_alpha_secret", second: "Bearer tok_beta_secret"} {
		r := requestFor(t, rc, id)
		if got := r.Header.Get("Authorization"); got != want {
			t.Errorf("%s: Authorization %q, want %q", id, got, want)
		}
		if got := r.Header.Get("X-Static"); got != "static-value-0123456789" {
			t.Errorf("%s: X-Static %q", id, got)
		}
		verify(t, ep.Secret, r)
	}
}

// A stored transform that no longer compiles (as after a change of expr's
// grammar) does not stop routing: each delivery is dead-lettered with the
// reason, so no matching event is silently skipped.
func TestStoredFormatThatNoLongerCompilesDeadLetters(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	h := hookdtest.Start(t, fastConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "format": "transform", "transform": `{"n": data.n}`,
		"sample_event": map[string]any{"type": "a.b", "data": map[string]int{"n": 1}}})
	kv, err := h.App.JetStream().KeyValue(t.Context(), h.App.Names().EndpointsBucket())
	if err != nil {
		t.Fatal(err)
	}
	entry, err := kv.Get(t.Context(), ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	var stored map[string]any
	if err := json.Unmarshal(entry.Value(), &stored); err != nil {
		t.Fatal(err)
	}
	stored["transform"] = `{"n": data.`
	b, _ := json.Marshal(stored)
	if _, err := kv.Update(t.Context(), ep.ID, b, entry.Revision()); err != nil {
		t.Fatal(err)
	}
	hookdtest.WaitFor(t, 10*time.Second, "the registry to load the broken format", func() bool {
		c := h.App.Registry().Snapshot().Get(ep.ID)
		return c != nil && c.PayloadErr != nil
	})
	h.PublishEvent(t, "a.b", map[string]int{"n": 2})
	hookdtest.WaitFor(t, 10*time.Second, "the dead letter", func() bool { return len(h.DeadLetters(t, ep.ID)) == 1 })
	if n := rc.Count(); n != 0 {
		t.Fatalf("the receiver got %d requests", n)
	}
	if e := h.DeadLetters(t, ep.ID)[0].Header.Get("Hookd-Error"); !strings.Contains(e, "transform") {
		t.Fatalf("dead letter error %q", e)
	}
}
