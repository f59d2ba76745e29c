package tracing

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func env(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }

func TestTracingOffUnlessAnEndpointIsSet(t *testing.T) {
	for _, vars := range []map[string]string{
		{},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"},
		{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces", "OTEL_TRACES_EXPORTER": "none"},
	} {
		p, err := FromEnv(context.Background(), env(vars), "serve", nil)
		if err != nil || p.Enabled() {
			t.Errorf("%v: enabled %v, err %v", vars, p != nil && p.Enabled(), err)
			continue
		}
		_, span := p.Tracer("x").Start(context.Background(), "s")
		if span.IsRecording() || span.SpanContext().IsValid() {
			t.Errorf("%v: the disabled provider made a span", vars)
		}
	}
}

func TestGRPCProtocolRefused(t *testing.T) {
	_, err := FromEnv(context.Background(), env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}), "serve", nil)
	if err == nil || !strings.Contains(err.Error(), "http/protobuf") {
		t.Fatalf("err %v", err)
	}
}

// With OTEL_EXPORTER_OTLP_ENDPOINT set, spans are exported over OTLP/HTTP
// to <endpoint>/v1/traces, at the latest on Shutdown.
func TestSpansExportedOverOTLPHTTP(t *testing.T) {
	var mu sync.Mutex
	var got []string
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type")+" "+string(body))
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(collector.Close)
	// The exporter reads its variables from the process environment.
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_SERVICE_NAME", "hookd-test")
	p, err := FromEnv(context.Background(), nil, "worker", nil)
	if err != nil || !p.Enabled() {
		t.Fatalf("enabled %v, err %v", p != nil && p.Enabled(), err)
	}
	_, span := p.Tracer("test").Start(context.Background(), "deliver")
	span.End()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || !strings.HasPrefix(got[0], "POST /v1/traces application/x-protobuf") ||
		!strings.Contains(got[0], "deliver") || !strings.Contains(got[0], "hookd-test") || !strings.Contains(got[0], "worker") {
		t.Fatalf("collector got %q", got)
	}
}
