package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/internal/hookdtest"
)

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"error"`
}

func decodeError(t *testing.T, out []byte) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(out, &e); err != nil || e.Error.Message == "" {
		t.Fatalf("error body %s is not {\"error\":{...,\"message\":...}}", out)
	}
	return e
}

// Every refused endpoint names the field at fault, and is never stored.
func TestCreateEndpointRefusesBadInput(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true})
	cases := []struct {
		name, body, field, inMessage string
		status                       int
	}{
		{"missing url", `{"events":["a.b"]}`, "url", "required", 400},
		{"relative url", `{"url":"/hook"}`, "url", "scheme", 400},
		{"ftp url", `{"url":"ftp://x.example/hook"}`, "url", "scheme", 400},
		{"credentials in url", `{"url":"https://u:p@x.example/hook"}`, "url", "credentials", 400},
		{"bad pattern", `{"url":"https://x.example","events":["a.b","a..b"]}`, "events[1]", "empty token", 400},
		{"filter syntax", `{"url":"https://x.example","filter":"data.name =="}`, "filter", "(1:", 400},
		{"filter not boolean", `{"url":"https://x.example","filter":"1 + 2"}`, "filter", "bool", 400},
		{"filter too long", `{"url":"https://x.example","filter":"` + strings.Repeat("a", 5000) + `"}`, "filter", "longer", 400},
		{"bad secret", `{"url":"https://x.example","secret":"nope"}`, "secret", "whsec_", 400},
		{"unknown field", `{"url":"https://x.example","filtr":"true"}`, "filtr", "unknown", 400},
		{"wrong type", `{"url":"https://x.example","events":"a.b"}`, "events", "must be", 400},
		{"not json", `{"url":`, "", "JSON", 400},
		{"not an object", `[1]`, "", "object", 400},
		{"reserved header", `{"url":"https://x.example","headers":{"webhook-signature":"x"}}`, "headers.webhook-signature", "set by hookd", 400},
		{"bad header name", `{"url":"https://x.example","headers":{"a b":"x"}}`, "headers.a b", "header name", 400},
		{"control character in header name", `{"url":"https://x.example","headers":{"X-A\u0001":"x"}}`, "headers.X-A\u0001", "header name", 400},
		{"control character in header value", `{"url":"https://x.example","headers":{"X-A":"a\u0001b"}}`, "headers.X-A", "visible", 400},
		{"any webhook- header", `{"url":"https://x.example","headers":{"Webhook-Foo":"x"}}`, "headers.Webhook-Foo", "set by hookd", 400},
		{"header value newline", `{"url":"https://x.example","headers":{"X-Key":"a\nb"}}`, "headers.X-Key", "one line", 400},
		{"bad timeout", `{"url":"https://x.example","timeout":"soon"}`, "timeout", "duration", 400},
		{"timeout too long", `{"url":"https://x.example","timeout":"10m"}`, "timeout", "from 100ms", 400},
		{"long name", `{"url":"https://x.example","name":"` + strings.Repeat("n", 300) + `"}`, "name", "longer", 400},
		{"empty", ``, "", "empty", 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, out := h.Do(t, http.MethodPost, "/v1/endpoints", c.body)
			if status != c.status {
				t.Fatalf("status %d, want %d: %s", status, c.status, out)
			}
			e := decodeError(t, out)
			if e.Error.Field != c.field || !strings.Contains(e.Error.Message, c.inMessage) {
				t.Fatalf("error %+v, want field %q and a message with %q", e.Error, c.field, c.inMessage)
			}
		})
	}
	_, out := h.Do(t, http.MethodGet, "/v1/endpoints", nil)
	if !strings.HasPrefix(strings.TrimSpace(string(out)), `{"data":[],`) {
		t.Fatalf("refused endpoints were stored: %s", out)
	}
}

func TestEndpointCRUD(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true})
	created := h.CreateEndpoint(t, `{"url":"https://x.example/hook","events":["a.>"],"filter":"data.ok"}`)

	status, out := h.Do(t, http.MethodGet, "/v1/endpoints/"+created.ID, nil)
	if status != 200 || !strings.Contains(string(out), `"url":"https://x.example/hook"`) || strings.Contains(string(out), "whsec_") {
		t.Fatalf("GET: %d %s (the secret must not be listed)", status, out)
	}
	status, out = h.Do(t, http.MethodGet, "/v1/endpoints/"+created.ID+"/secret", nil)
	if status != 200 || !strings.Contains(string(out), created.Secret) {
		t.Fatalf("GET secret: %d %s", status, out)
	}

	// PATCH is partial: only the given fields change.
	status, out = h.Do(t, http.MethodPatch, "/v1/endpoints/"+created.ID, `{"url":"https://y.example/hook"}`)
	var got hookdtest.Endpoint
	_ = json.Unmarshal(out, &got)
	if status != 200 || got.URL != "https://y.example/hook" || got.Filter != "data.ok" || len(got.Events) != 1 {
		t.Fatalf("PATCH: %d %s", status, out)
	}
	// A bad PATCH changes nothing.
	status, out = h.Do(t, http.MethodPatch, "/v1/endpoints/"+created.ID, `{"url":"https://z.example","filter":"1 +"}`)
	if status != 400 || decodeError(t, out).Error.Field != "filter" {
		t.Fatalf("bad PATCH: %d %s", status, out)
	}
	_, out = h.Do(t, http.MethodGet, "/v1/endpoints/"+created.ID, nil)
	if !strings.Contains(string(out), "https://y.example/hook") {
		t.Fatalf("a refused PATCH changed the endpoint: %s", out)
	}

	_, out = h.Do(t, http.MethodGet, "/v1/endpoints", nil)
	if !strings.Contains(string(out), created.ID) {
		t.Fatalf("list lacks the endpoint: %s", out)
	}
	if status, _ := h.Do(t, http.MethodDelete, "/v1/endpoints/"+created.ID, nil); status != 204 {
		t.Fatalf("DELETE: %d", status)
	}
	for _, m := range []string{http.MethodGet, http.MethodPatch, http.MethodDelete} {
		status, out := h.Do(t, m, "/v1/endpoints/"+created.ID, `{}`)
		if status != 404 || decodeError(t, out).Error.Code != "not_found" {
			t.Errorf("%s deleted endpoint: %d %s", m, status, out)
		}
	}
}

func TestPublishEventRefusesBadInput(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true})
	cases := []struct{ name, body, field string }{
		{"missing type", `{"data":{}}`, "type"},
		{"wildcard type", `{"type":"a.*","data":{}}`, "type"},
		{"empty token", `{"type":"a..b","data":{}}`, "type"},
		{"id with space", `{"type":"a.b","id":"x y","data":{}}`, "id"},
		{"unknown field", `{"type":"a.b","payload":{}}`, "payload"},
	}
	for _, c := range cases {
		status, out := h.Do(t, http.MethodPost, "/v1/events", c.body)
		if status != 400 || decodeError(t, out).Error.Field != c.field {
			t.Errorf("%s: %d %s, want 400 naming %q", c.name, status, out, c.field)
		}
	}
	status, out := h.Do(t, http.MethodPost, "/v1/events", `{"type":"a.b","data":"`+strings.Repeat("x", 1<<20)+`"}`)
	if status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized event: %d %s", status, out)
	}
	status, _ = h.Do(t, http.MethodGet, "/v1/nothing", nil)
	if status != 404 {
		t.Errorf("unknown route: %d", status)
	}
}

func TestIdempotencyKeyHeader(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true})
	for i := range 2 {
		req, _ := http.NewRequest(http.MethodPost, h.URL+"/v1/events", strings.NewReader(`{"type":"a.b","data":1}`))
		req.Header.Set("Idempotency-Key", "key-1")
		req.Header.Set("Authorization", "Bearer "+hookdtest.AdminKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var acc struct {
			ID        string
			Duplicate bool
		}
		_ = json.NewDecoder(resp.Body).Decode(&acc)
		resp.Body.Close()
		if resp.StatusCode != 202 || acc.ID != "key-1" || acc.Duplicate != (i == 1) {
			t.Fatalf("send %d: %d %+v", i, resp.StatusCode, acc)
		}
	}
}

// Data that fits the HTTP body limit but not the events stream's message
// limit is refused with 413 naming the field, not stored.
func TestOversizedEventData(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true})
	status, out := h.Do(t, http.MethodPost, "/v1/events", `{"type":"a.b","data":"`+strings.Repeat("x", 1<<20-10<<10)+`"}`)
	if status != http.StatusRequestEntityTooLarge || decodeError(t, out).Error.Field != "data" {
		t.Fatalf("%d %s", status, out)
	}
}
