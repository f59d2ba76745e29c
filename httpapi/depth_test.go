package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/internal/hookdtest"
)

// Data nested deeper than event.MaxDepth is refused with 400 naming data;
// just under the cap is accepted.
func TestPublishRefusesTooDeepData(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true})
	nest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	status, out := h.Do(t, http.MethodPost, "/v1/events", `{"type":"a.b","data":`+nest(event.MaxDepth+1)+`}`)
	if status != http.StatusBadRequest || decodeError(t, out).Error.Field != "data" {
		t.Fatalf("too deep: %d %s, want 400 naming data", status, out)
	}
	if status, out := h.Do(t, http.MethodPost, "/v1/events", `{"type":"a.b","data":`+nest(event.MaxDepth)+`}`); status != http.StatusAccepted {
		t.Fatalf("at the cap: %d %s", status, out)
	}
}

// With HTTPSOnly, an http URL is refused on create and on update.
func TestHTTPSOnly(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true, HTTPSOnly: true})
	status, out := h.Do(t, http.MethodPost, "/v1/endpoints", `{"url":"http://x.example/hook"}`)
	if status != http.StatusBadRequest || decodeError(t, out).Error.Field != "url" {
		t.Fatalf("http URL: %d %s, want 400 naming url", status, out)
	}
	ep := h.CreateEndpoint(t, map[string]any{"url": "https://x.example/hook"})
	status, out = h.Do(t, http.MethodPatch, "/v1/endpoints/"+ep.ID, `{"url":"http://x.example/hook"}`)
	if status != http.StatusBadRequest || decodeError(t, out).Error.Field != "url" {
		t.Fatalf("PATCH to http: %d %s, want 400 naming url", status, out)
	}
}
