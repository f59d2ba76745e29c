package tracing

import (
	"context"
	"net/http"
	"strings"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// W3C Trace Context header names, as they are written on NATS messages.
const (
	HeaderTraceParent = "traceparent"
	HeaderTraceState  = "tracestate"
)

// propagator is W3C Trace Context only, not the global propagator: hookd
// must not pick up whatever another library installed there.
var propagator = propagation.TraceContext{}

// natsCarrier reads and writes NATS headers. NATS keeps header names as
// the producer wrote them, so "Traceparent" is found as well as
// "traceparent".
type natsCarrier nats.Header

func (c natsCarrier) Get(key string) string {
	if v := c[key]; len(v) > 0 {
		return v[0]
	}
	for k, v := range c {
		if len(v) > 0 && strings.EqualFold(k, key) {
			return v[0]
		}
	}
	return ""
}

func (c natsCarrier) Set(key, value string) { c[key] = []string{value} }

func (c natsCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// Extract returns ctx with the remote span context of a message's
// traceparent, or ctx itself when it carries none (or an invalid one).
func Extract(ctx context.Context, h nats.Header) context.Context {
	if len(h) == 0 {
		return ctx
	}
	return propagator.Extract(ctx, natsCarrier(h))
}

// Inject writes ctx's span context to a message's headers as traceparent
// (and tracestate); nothing when ctx has no valid span context.
func Inject(ctx context.Context, h nats.Header) { propagator.Inject(ctx, natsCarrier(h)) }

// ExtractHTTP is Extract for HTTP headers.
func ExtractHTTP(ctx context.Context, h http.Header) context.Context {
	return propagator.Extract(ctx, propagation.HeaderCarrier(h))
}

// InjectHTTP is Inject for HTTP headers.
func InjectHTTP(ctx context.Context, h http.Header) {
	propagator.Inject(ctx, propagation.HeaderCarrier(h))
}

// TraceID is the trace id of ctx's span, for logs; "" when there is none.
func TraceID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return sc.TraceID().String()
	}
	return ""
}
