package router

import (
	"context"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/tracing"
)

// startRoute starts the span of routing one event, a child of the
// producer's span when the event carries a traceparent. Without one, an
// enabled tracer starts a new trace and the no-op tracer starts nothing.
func (r *Router) startRoute(ctx context.Context, m jetstream.Msg, e *event.Event, ordered bool) (context.Context, trace.Span) {
	ctx, span := r.tracer.Start(tracing.Extract(ctx, m.Headers()), "route", trace.SpanKindConsumer)
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.destination.name", e.Subject),
			attribute.String("hookd.event.id", e.ID),
			attribute.String("hookd.event.type", e.Type),
			attribute.String("hookd.tenant", e.Tenant),
			attribute.Int64("hookd.event.seq", int64(e.Seq)),
			attribute.Bool("hookd.ordered_lane", ordered),
		)
	}
	return ctx, span
}

// endRoute ends a route span with what routing achieved.
func endRoute(span trace.Span, targets []target, err error) {
	if span.IsRecording() {
		span.SetAttributes(attribute.Int("hookd.endpoints", len(targets)))
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
	}
	span.End()
}

// traceHeaders are the trace headers every delivery of the event carries:
// the route span's context, or the producer's as it came when tracing is
// off; nil when there is none.
func traceHeaders(ctx context.Context) nats.Header {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	h := nats.Header{}
	tracing.Inject(ctx, h)
	return h
}
