package tracing

import (
	"context"
	"net/http"
	"testing"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"
)

const (
	parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	state  = "congo=t61rcWkgMzE"
)

// NATS keeps header names as written: any spelling of traceparent is read.
func TestExtractFromNATSHeadersAnyCase(t *testing.T) {
	for _, name := range []string{"traceparent", "Traceparent", "TRACEPARENT"} {
		h := nats.Header{}
		h[name] = []string{parent}
		sc := trace.SpanContextFromContext(Extract(context.Background(), h))
		if !sc.IsRemote() || sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || sc.SpanID().String() != "00f067aa0ba902b7" || !sc.IsSampled() {
			t.Errorf("%s: extracted %+v", name, sc)
		}
	}
}

func TestInvalidTraceParentIsDropped(t *testing.T) {
	for _, v := range []string{"", "00-zz-00f067aa0ba902b7-01", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"} {
		ctx := ExtractHTTP(context.Background(), http.Header{"Traceparent": {v}})
		h := nats.Header{}
		Inject(ctx, h)
		if len(h) != 0 || TraceID(ctx) != "" {
			t.Errorf("%q: carried on as %v", v, h)
		}
	}
}

// HTTP in, NATS out (what POST /v1/events does), NATS in, HTTP out (what
// a delivery does): the context survives both, tracestate included.
func TestRoundTrip(t *testing.T) {
	ctx := ExtractHTTP(context.Background(), http.Header{"Traceparent": {parent}, "Tracestate": {state}})
	h := nats.Header{}
	Inject(ctx, h)
	if h.Get(HeaderTraceParent) != parent || h.Get(HeaderTraceState) != state {
		t.Fatalf("NATS headers %v", h)
	}
	out := http.Header{}
	InjectHTTP(Extract(context.Background(), h), out)
	if out.Get("traceparent") != parent || out.Get("tracestate") != state {
		t.Fatalf("HTTP headers %v", out)
	}
	if TraceID(ctx) != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Fatalf("TraceID %q", TraceID(ctx))
	}
}
