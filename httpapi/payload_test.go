package httpapi_test

import (
	"strings"
	"testing"

	"github.com/hookd/hookd/app"
)

// The payload fields (format, transform, sample_event, templated headers)
// and the traceparent of POST /v1/events: every answer conforms, and the
// document refuses what it can express (an unknown format, a sample event
// with unknown fields).
func TestOpenAPIConformancePayload(t *testing.T) {
	c := newConformance(t, app.Config{NoRouter: true, NoWorker: true})
	const transform = `{"title": "Order " + data.order.id, "total": data.order.total}`
	sample := `{"type":"order.paid","id":"evt_1","time":"2026-01-02T03:04:05Z","data":{"order":{"id":"o1","total":42}},"headers":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}`

	slack := decodeJSON[map[string]any](t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"url":"https://hooks.slack.example/x","format":"slack"}`, want: 201}))
	if slack["format"] != "slack" || slack["transform"] != "" {
		t.Errorf("created %v", slack)
	}
	plain := decodeJSON[map[string]any](t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"url":"https://x.example"}`, want: 201}))
	if plain["format"] != "standard" {
		t.Errorf("default format %v, want standard", plain["format"])
	}
	out := c.call(t, apiCall{method: "POST", path: "/v1/endpoints", want: 201,
		body: `{"url":"https://x.example","format":"transform","transform":` + quote(transform) + `,"sample_event":` + sample + `,"headers":{"Authorization":"Bearer {{ data.order.id }}-0123456789"}}`})
	ep := decodeJSON[map[string]any](t, out)
	id, _ := ep["id"].(string)
	if ep["transform"] != transform || strings.Contains(string(out), "sample_event") || strings.Contains(string(out), "data.order.id }}") {
		t.Errorf("created %s: want the transform shown, the sample not kept, the header masked", out)
	}
	c.call(t, apiCall{method: "GET", path: "/v1/endpoints/" + id, want: 200})

	wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"url":"https://x.example","format":"xml"}`, want: 400, request: reqInvalid}), "invalid_field", "format")
	wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"url":"https://x.example","format":"transform","transform":` + quote(transform) + `}`, want: 400}), "invalid_field", "transform")
	wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"url":"https://x.example","format":"transform","transform":"{"}`, want: 400}), "invalid_field", "transform")
	wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"url":"https://x.example","sample_event":{"payload":{}}}`, want: 400, request: reqInvalid}), "invalid_field", "payload")
	wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"url":"https://x.example","headers":{"X-A":"{{ data.a.b }}"}}`, want: 400}), "invalid_field", "headers.X-A")

	wantError(t, c.call(t, apiCall{method: "PATCH", path: "/v1/endpoints/" + id, body: `{"transform":"data.order.id +","sample_event":` + sample + `}`, want: 400}), "invalid_field", "transform")
	raw := decodeJSON[map[string]any](t, c.call(t, apiCall{method: "PATCH", path: "/v1/endpoints/" + id, body: `{"format":"raw"}`, want: 200}))
	if raw["format"] != "raw" || raw["transform"] != "" {
		t.Errorf("PATCH to raw: %v, want the transform dropped", raw)
	}
	c.call(t, apiCall{method: "POST", path: "/v1/events", body: `{"type":"order.paid","data":{}}`,
		header: map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}, want: 202})
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}
