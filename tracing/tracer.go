package tracing

import (
	"context"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Tracer starts the spans of a hot path. With tracing off it starts
// nothing: the no-op provider's Start still allocates a context and a span
// per call, while the span a producer's context carries (extracted into
// ctx) is all a no-op span would hand on anyway.
type Tracer struct {
	t   trace.Tracer
	off bool
}

// NewTracer returns the tracer name of tp; a nil tp is off.
func NewTracer(tp trace.TracerProvider, name string) Tracer {
	if p, ok := tp.(*Provider); ok {
		tp = p.TracerProvider
	}
	_, off := tp.(noop.TracerProvider)
	if tp == nil || off {
		return Tracer{off: true}
	}
	return Tracer{t: tp.Tracer(name)}
}

// Start starts a span of the given kind, a child of ctx's span. When off,
// it returns ctx and ctx's span (a non-recording one, or none).
func (t Tracer) Start(ctx context.Context, name string, kind trace.SpanKind) (context.Context, trace.Span) {
	if t.off {
		return ctx, trace.SpanFromContext(ctx)
	}
	return t.t.Start(ctx, name, trace.WithSpanKind(kind))
}
