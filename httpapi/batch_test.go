package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/hookd/hookd/app"
)

type batchBody struct {
	MaxEvents int    `json:"max_events"`
	MaxWait   string `json:"max_wait"`
	Field     string `json:"field"`
}

type batchedEndpoint struct {
	ID    string     `json:"id"`
	Batch *batchBody `json:"batch"`
}

// Batch settings: validated with 400s naming the field (and refused by the
// document too, where a schema can say it), shown at their effective
// values, merged by PATCH, turned off by null; a batched endpoint gets a
// batch stream, which outlives turning batching off and goes with the
// endpoint.
func TestBatchSettings(t *testing.T) {
	c := newConformance(t, app.Config{NoRouter: true, NoWorker: true})
	refused := []struct {
		body    string
		field   string
		request reqCheck
	}{
		{`{"url":"https://x.example","batch":{"max_events":0}}`, "batch.max_events", reqInvalid},
		{`{"url":"https://x.example","batch":{"max_events":1001}}`, "batch.max_events", reqInvalid},
		{`{"url":"https://x.example","batch":{"max_events":"5"}}`, "batch.max_events", reqInvalid},
		{`{"url":"https://x.example","batch":{"max_wait":"500ms"}}`, "batch.max_wait", reqAny},
		{`{"url":"https://x.example","batch":{"max_wait":"16m"}}`, "batch.max_wait", reqAny},
		{`{"url":"https://x.example","batch":{"max_wait":"soon"}}`, "batch.max_wait", reqInvalid},
		{`{"url":"https://x.example","batch":{"field":"rule_id"}}`, "batch.field", reqInvalid},
		{`{"url":"https://x.example","batch":{"field":"9lives"}}`, "batch.field", reqInvalid},
		{`{"url":"https://x.example","batch":{"size":5}}`, "batch", reqInvalid},
		{`{"url":"https://x.example","batch":[]}`, "batch", reqInvalid},
		{`{"url":"https://x.example","ordering":"ordered","batch":{}}`, "batch", reqAny},
	}
	for _, r := range refused {
		out := c.call(t, apiCall{method: http.MethodPost, path: "/v1/endpoints", body: r.body, want: http.StatusBadRequest, request: r.request})
		wantError(t, out, "invalid_field", r.field)
	}

	out := c.call(t, apiCall{method: http.MethodPost, path: "/v1/endpoints", body: `{"url":"https://x.example","batch":{}}`, want: http.StatusCreated})
	ep := decodeJSON[batchedEndpoint](t, out)
	if ep.Batch == nil || *ep.Batch != (batchBody{MaxEvents: 100, MaxWait: "10s", Field: "events"}) {
		t.Fatalf("defaults: %s", out)
	}
	path := "/v1/endpoints/" + ep.ID
	c.call(t, apiCall{method: http.MethodPatch, path: path, body: `{"batch":{"max_events":7,"field":"runs"}}`, want: http.StatusOK})
	out = c.call(t, apiCall{method: http.MethodPatch, path: path, body: `{"batch":{"max_wait":"2m"}}`, want: http.StatusOK})
	if got := decodeJSON[batchedEndpoint](t, out).Batch; got == nil || *got != (batchBody{MaxEvents: 7, MaxWait: "2m0s", Field: "runs"}) {
		t.Fatalf("PATCH does not merge: %s", out)
	}
	out = c.call(t, apiCall{method: http.MethodPatch, path: path, body: `{"ordering":"ordered"}`, want: http.StatusBadRequest, request: reqAny})
	wantError(t, out, "invalid_field", "ordering")
	out = c.call(t, apiCall{method: http.MethodPatch, path: path, body: `{"batch":null}`, want: http.StatusOK})
	if decodeJSON[batchedEndpoint](t, out).Batch != nil {
		t.Fatalf("batch null keeps batching: %s", out)
	}
	c.call(t, apiCall{method: http.MethodGet, path: path + "/deliveries?status=batched", want: http.StatusOK})
	c.call(t, apiCall{method: http.MethodDelete, path: path, want: http.StatusNoContent})
}
