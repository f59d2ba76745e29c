package tracing

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Off, Start hands on the producer's context unchanged and costs no
// allocation; on, it starts a child span.
func TestTracerOffAndOn(t *testing.T) {
	h := nats.Header{HeaderTraceParent: {parent}}
	for _, tp := range []trace.TracerProvider{nil, noop.NewTracerProvider(), Disabled()} {
		tr := NewTracer(tp, "t")
		ctx, span := tr.Start(Extract(context.Background(), h), "s", trace.SpanKindClient)
		out := nats.Header{}
		Inject(ctx, out)
		if span.IsRecording() || out.Get(HeaderTraceParent) != parent {
			t.Errorf("%T: recording %v, passed on %q", tp, span.IsRecording(), out.Get(HeaderTraceParent))
		}
		if allocs := testing.AllocsPerRun(100, func() { _, _ = tr.Start(context.Background(), "s", trace.SpanKindClient) }); allocs != 0 {
			t.Errorf("%T: %v allocations per span while off", tp, allocs)
		}
	}
	exp := tracetest.NewInMemoryExporter()
	sdk := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	_, span := NewTracer(sdk, "t").Start(Extract(context.Background(), h), "s", trace.SpanKindClient)
	span.End()
	got := exp.GetSpans()
	if len(got) != 1 || got[0].Parent.SpanID().String() != "00f067aa0ba902b7" || got[0].SpanKind != trace.SpanKindClient {
		t.Fatalf("spans %+v", got)
	}
}
