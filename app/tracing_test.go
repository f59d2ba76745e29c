package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookd/hookd/internal/hookdtest"
)

// Producers' trace contexts (W3C examples): one per way of publishing.
const (
	natsTraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	httpTraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	producerState   = "congo=t61rcWkgMzE"
)

// publishTraced publishes one event over NATS and one over the API, each
// with its producer's traceparent, and one without any.
func publishTraced(t *testing.T, h *hookdtest.Hookd) {
	t.Helper()
	m := nats.NewMsg("events.traced.nats")
	m.Data = []byte(`{"via":"nats"}`)
	m.Header.Set("traceparent", natsTraceParent)
	m.Header.Set("tracestate", producerState)
	if _, err := h.App.JetStream().PublishMsg(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, h.URL+"/v1/events", strings.NewReader(`{"type":"traced.http","data":{"via":"http"}}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+hookdtest.AdminKey)
	req.Header.Set("Traceparent", httpTraceParent)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /v1/events: %d", resp.StatusCode)
	}
	h.PublishEvent(t, "traced.none", map[string]string{"via": "api, untraced"})
}

// received returns the traceparent and tracestate of the delivery of each
// event type (by its data's "via").
func traceparentsByID(t *testing.T, rc *hookdtest.Receiver) map[string][2]string {
	t.Helper()
	out := map[string][2]string{}
	for _, r := range rc.Requests() {
		for _, via := range []string{`"via":"nats"`, `"via":"http"`, `"via":"api, untraced"`} {
			if strings.Contains(string(r.Body), via) {
				out[via] = [2]string{r.Header.Get("traceparent"), r.Header.Get("tracestate")}
			}
		}
	}
	return out
}

func parseTraceParent(t *testing.T, v string) trace.SpanContext {
	t.Helper()
	parts := strings.Split(v, "-")
	if len(parts) != 4 {
		t.Fatalf("traceparent %q", v)
	}
	tid, err1 := trace.TraceIDFromHex(parts[1])
	sid, err2 := trace.SpanIDFromHex(parts[2])
	if err1 != nil || err2 != nil {
		t.Fatalf("traceparent %q: %v %v", v, err1, err2)
	}
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid})
}

// With tracing on, the receiver joins the producer's trace under the
// deliver span, itself a child of the route span, a child of the
// producer's span; an event without a traceparent starts a trace.
func TestTraceContextReachesReceiver(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	rc := hookdtest.NewReceiver(t)
	cfg := fastConfig()
	cfg.TracerProvider = tp
	h := hookdtest.Start(t, cfg)
	h.CreateEndpoint(t, map[string]any{"url": rc.URL, "events": []string{"traced.*"}})
	publishTraced(t, h)
	hookdtest.WaitFor(t, 10*time.Second, "three deliveries and their spans", func() bool {
		return rc.Count() == 3 && len(exp.GetSpans()) == 6
	})

	spans := exp.GetSpans()
	find := func(name string, traceID trace.TraceID) *tracetest.SpanStub {
		for i := range spans {
			if spans[i].Name == name && spans[i].SpanContext.TraceID() == traceID {
				return &spans[i]
			}
		}
		t.Fatalf("no %s span in trace %s: %v", name, traceID, spans)
		return nil
	}
	got := traceparentsByID(t, rc)
	for via, producer := range map[string]string{`"via":"nats"`: natsTraceParent, `"via":"http"`: httpTraceParent} {
		parent := parseTraceParent(t, producer)
		sent := parseTraceParent(t, got[via][0])
		if sent.TraceID() != parent.TraceID() {
			t.Errorf("%s: the receiver got trace %s, want the producer's %s", via, sent.TraceID(), parent.TraceID())
		}
		route, deliver := find("route", parent.TraceID()), find("deliver", parent.TraceID())
		if route.Parent.SpanID() != parent.SpanID() || !route.Parent.IsRemote() {
			t.Errorf("%s: route span's parent %s, want the producer's span %s", via, route.Parent.SpanID(), parent.SpanID())
		}
		if deliver.Parent.SpanID() != route.SpanContext.SpanID() {
			t.Errorf("%s: deliver span's parent %s, want the route span %s", via, deliver.Parent.SpanID(), route.SpanContext.SpanID())
		}
		if sent.SpanID() != deliver.SpanContext.SpanID() {
			t.Errorf("%s: the receiver's parent span %s, want the deliver span %s", via, sent.SpanID(), deliver.SpanContext.SpanID())
		}
		if route.SpanKind != trace.SpanKindConsumer || deliver.SpanKind != trace.SpanKindClient {
			t.Errorf("%s: span kinds %v, %v", via, route.SpanKind, deliver.SpanKind)
		}
	}
	if state := got[`"via":"nats"`][1]; state != producerState {
		t.Errorf("tracestate %q reached the receiver, want the producer's %q", state, producerState)
	}
	// No traceparent in: the route span starts a trace.
	sent := parseTraceParent(t, got[`"via":"api, untraced"`][0])
	route := find("route", sent.TraceID())
	if route.Parent.IsValid() {
		t.Errorf("untraced event: route span has parent %s", route.Parent.SpanID())
	}
	if d := find("deliver", sent.TraceID()); d.SpanContext.SpanID() != sent.SpanID() {
		t.Errorf("untraced event: the receiver's parent %s is not the deliver span %s", sent.SpanID(), d.SpanContext.SpanID())
	}
}

// With tracing off (the no-op provider), the producer's traceparent
// reaches the receiver unchanged (its span is the receiver's parent: no
// unexported span in between), also on a manual retry, and an event
// without one gets none.
func TestTraceContextPassesThroughWhenTracingOff(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	refusing := hookdtest.NewReceiver(t)
	refusing.SetRespond(func(n int, _ hookdtest.Request) int {
		if n == 1 {
			return http.StatusBadRequest // dead at once, then retried by hand
		}
		return http.StatusOK
	})
	h := hookdtest.Start(t, fastConfig())
	h.CreateEndpoint(t, map[string]any{"url": rc.URL, "events": []string{"traced.*"}})
	retried := h.CreateEndpoint(t, map[string]any{"url": refusing.URL, "events": []string{"traced.nats"}})
	publishTraced(t, h)
	hookdtest.WaitFor(t, 10*time.Second, "three deliveries", func() bool { return rc.Count() == 3 })
	hookdtest.WaitFor(t, 10*time.Second, "a dead letter", func() bool { return len(h.DeadLetters(t, retried.ID)) == 1 })
	h.WaitIdle(t, retried.ID)
	dlv := h.Attempts(t, retried.ID)[0].DeliveryID
	if status, out := h.Do(t, http.MethodPost, "/v1/deliveries/"+dlv+"/retry", nil); status != http.StatusAccepted {
		t.Fatalf("retry: %d %s", status, out)
	}
	hookdtest.WaitFor(t, 10*time.Second, "the manual retry", func() bool { return refusing.Count() == 2 })
	for i, r := range refusing.Requests() {
		if got := r.Header.Get("traceparent"); got != natsTraceParent {
			t.Errorf("attempt %d to the retried endpoint: traceparent %q, want %q", i+1, got, natsTraceParent)
		}
	}
	got := traceparentsByID(t, rc)
	if tp := got[`"via":"nats"`]; tp != [2]string{natsTraceParent, producerState} {
		t.Errorf("via NATS: receiver got %q, want %q unchanged", tp, natsTraceParent)
	}
	if tp := got[`"via":"http"`][0]; tp != httpTraceParent {
		t.Errorf("via HTTP: receiver got %q, want %q unchanged", tp, httpTraceParent)
	}
	if tp := got[`"via":"api, untraced"`][0]; tp != "" {
		t.Errorf("untraced event: receiver got traceparent %q", tp)
	}
}
