// Package tracing carries W3C trace context (the traceparent and
// tracestate headers) through hookd, so a receiver can join the trace of
// the producer that published the event: from the event's NATS headers (or
// the HTTP headers of POST /v1/events, stored as NATS headers), through the
// router onto the delivery message in the endpoint stream, to the delivery
// request. It also builds the process's OpenTelemetry tracer provider:
// spans exported with OTLP over HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, a no-op provider otherwise,
// which only passes the producer's context through.
package tracing
