package worker

import (
	"context"
	"net/url"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/tracing"
)

// observe counts an attempt in the metrics and logs it when it failed: one
// line per failed attempt, with what an operator needs to act on it and
// no secret. rec.Error names the URL without its query (see redactURL);
// header values, signing secrets and the response body never reach it.
func (w *Worker) observe(ctx context.Context, rec *delivery.Attempt, took, retryIn time.Duration) {
	w.m.Attempt(string(rec.Outcome), rec.StatusCode, took)
	if took > 0 {
		w.latency.observe(rec.EndpointID, took)
	}
	if rec.Outcome == delivery.OutcomeSucceeded {
		if !rec.EventTime.IsZero() {
			w.m.Delivered(time.Since(rec.EventTime))
		}
		return
	}
	attrs := []any{"endpoint", rec.EndpointID, "delivery", rec.DeliveryID, "event", rec.EventID, "attempt", rec.Number,
		"status", rec.StatusCode, "outcome", string(rec.Outcome), "err", rec.Error}
	if rec.Outcome == delivery.OutcomeRetrying {
		attrs = append(attrs, "retry_in_seconds", retryIn.Seconds())
	}
	if id := tracing.TraceID(ctx); id != "" {
		attrs = append(attrs, "trace_id", id)
	}
	w.log.Warn("delivery attempt failed", attrs...)
}

// startDeliver starts the span of one attempt, a child of the route span
// (or of the producer's span) whose context the delivery message carries.
// The sender puts it on the request as traceparent: with tracing off, the
// no-op tracer hands the producer's context on unchanged.
func (w *Worker) startDeliver(ctx context.Context, h nats.Header, ep *endpoint.Endpoint, rec *delivery.Attempt) (context.Context, trace.Span) {
	ctx, span := w.tracer.Start(tracing.Extract(ctx, h), "deliver", trace.SpanKindClient)
	if span.IsRecording() {
		host := ""
		if u, err := url.Parse(ep.URL); err == nil {
			host = u.Hostname() // never the query, which may hold a secret
		}
		span.SetAttributes(
			attribute.String("hookd.endpoint.id", rec.EndpointID),
			attribute.String("hookd.delivery.id", rec.DeliveryID),
			attribute.String("hookd.event.id", rec.EventID),
			attribute.String("hookd.event.type", rec.EventType),
			attribute.Int("hookd.attempt", rec.Number),
			attribute.String("http.request.method", "POST"),
			attribute.String("server.address", host),
		)
	}
	return ctx, span
}

// endDeliver ends an attempt's span with its outcome.
func endDeliver(span trace.Span, rec *delivery.Attempt, err error) {
	if span.IsRecording() {
		if rec.StatusCode != 0 {
			span.SetAttributes(attribute.Int("http.response.status_code", rec.StatusCode))
		}
		span.SetAttributes(attribute.String("hookd.outcome", string(rec.Outcome)))
		if err != nil {
			span.SetStatus(codes.Error, rec.Error)
		}
	}
	span.End()
}
