package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/internal/hookdtest"
)

// rawCall sends a request with the admin key (none for noKey) and returns
// the status, the headers and the body.
func rawCall(t *testing.T, h *hookdtest.Hookd, method, path, key, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, h.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	switch key {
	case adminKey:
		req.Header.Set("Authorization", "Bearer "+hookdtest.AdminKey)
	case noKey:
	default:
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, out
}

// concretePath fills a documented path's parameters ({id}) with a value:
// the checks tested here come before any handler reads it.
func concretePath(tmpl string) string {
	return regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(tmpl, "x_1")
}

// documentedMethods returns, by concrete path, the methods openapi.json
// documents for it.
func documentedMethods(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for r := range documentedRoutes(t) {
		method, tmpl, _ := strings.Cut(string(r), " ")
		p := concretePath(tmpl)
		out[p] = append(out[p], method)
	}
	return out
}

// A known path asked with a method it does not take answers 405 with the
// JSON error and an Allow header listing exactly the methods it takes (HEAD
// with GET, as Go serves it); an unknown path is still 404. Checked for
// every path of openapi.json and every method it lacks, and for the
// dashboard's page.
func TestWrongMethodIs405WithAllow(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true})
	order := []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}
	tried := 0
	for path, methods := range documentedMethods(t) {
		want := slices.Clone(methods)
		if slices.Contains(want, "GET") {
			want = append(want, "HEAD")
		}
		slices.SortFunc(want, func(a, b string) int { return slices.Index(order, a) - slices.Index(order, b) })
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			if slices.Contains(want, m) {
				continue
			}
			tried++
			status, hdr, out := rawCall(t, h, m, path, adminKey, `{}`)
			if status != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: %d %s, want 405", m, path, status, out)
				continue
			}
			if got := hdr.Get("Allow"); got != strings.Join(want, ", ") {
				t.Errorf("%s %s: Allow %q, want %q", m, path, got, strings.Join(want, ", "))
			}
			if code := decodeError(t, out).Error.Code; code != "method_not_allowed" || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
				t.Errorf("%s %s: code %q, content type %q; want method_not_allowed in JSON", m, path, code, hdr.Get("Content-Type"))
			}
		}
	}
	if tried < 50 {
		t.Fatalf("only %d wrong methods tried: the document's routes were not read", tried)
	}
	// The dashboard's page and files take GET and HEAD.
	for _, path := range []string{"/", "/ui/app.js"} {
		if status, hdr, _ := rawCall(t, h, "POST", path, noKey, ""); status != http.StatusMethodNotAllowed || hdr.Get("Allow") != "GET, HEAD" {
			t.Errorf("POST %s: %d, Allow %q; want 405 with GET, HEAD", path, status, hdr.Get("Allow"))
		}
	}
	// Unknown paths stay 404, whatever the method; no key is still 401
	// first on /v1, and a tenant key is not told admin routes exist.
	for _, r := range [][2]string{{"GET", "/v1/no/such/route"}, {"DELETE", "/v1/endpoints/x/y/z"}, {"POST", "/no-such-file"}} {
		if status, _, out := rawCall(t, h, r[0], r[1], adminKey, ""); status != http.StatusNotFound || decodeError(t, out).Error.Code != "not_found" {
			t.Errorf("%s %s: %d %s, want 404 not_found", r[0], r[1], status, out)
		}
	}
	if status, _, _ := rawCall(t, h, "PUT", "/v1/endpoints", noKey, ""); status != http.StatusUnauthorized {
		t.Errorf("PUT /v1/endpoints without a key: %d, want 401", status)
	}
	createTenantFixture(t, h, "acme")
	acme := tenantKeyFixture(t, h, "acme")
	if status, _, _ := rawCall(t, h, "PUT", "/v1/tenants", acme, ""); status != http.StatusNotFound {
		t.Errorf("PUT /v1/tenants with a tenant key: %d, want 404 (admin routes are not revealed)", status)
	}
}

// A query parameter a route does not declare in openapi.json is refused
// like an unknown body field: 400 invalid_field naming it, on every
// documented route; declared ones still work, and a query string that does
// not parse is refused rather than silently dropped.
func TestUnknownQueryParametersAreRefused(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true})
	tried := 0
	for r := range documentedRoutes(t) {
		method, tmpl, _ := strings.Cut(string(r), " ")
		path := concretePath(tmpl) + "?limt=10"
		tried++
		status, _, out := rawCall(t, h, method, path, adminKey, `{}`)
		if status != http.StatusBadRequest {
			t.Errorf("%s %s: %d %.300s, want 400", method, path, status, out)
			continue
		}
		if e := decodeError(t, out).Error; e.Code != "invalid_field" || e.Field != "limt" {
			t.Errorf("%s %s: %s %q, want invalid_field limt", method, path, e.Code, e.Field)
		}
	}
	if tried < 30 {
		t.Fatalf("only %d routes tried: the document's routes were not read", tried)
	}
	// A declared parameter next to an unknown one: the unknown one is named.
	status, _, out := rawCall(t, h, "GET", "/v1/endpoints?limit=5&tenant=default&verbose=1", adminKey, "")
	if e := decodeError(t, out).Error; status != http.StatusBadRequest || e.Field != "verbose" || !strings.Contains(e.Message, "limit") {
		t.Errorf("GET /v1/endpoints with verbose: %d %s, want 400 naming verbose and listing the route's parameters", status, out)
	}
	for _, path := range []string{"/v1/endpoints?limit=5&tenant=default&cursor=", "/v1/tenants?limit=1", "/v1/delivery-log?after=0&limit=3&endpoint_id=", "/v1/event-types?limit=2", "/healthz"} {
		if status, _, out := rawCall(t, h, "GET", path, adminKey, ""); status != http.StatusOK {
			t.Errorf("GET %s: %d %s, want 200 (declared parameters)", path, status, out)
		}
	}
	status, _, out = rawCall(t, h, "GET", "/v1/endpoints?limit=%zz", adminKey, "")
	if e := decodeError(t, out).Error; status != http.StatusBadRequest || e.Field != "query" {
		t.Errorf("GET /v1/endpoints?limit=%%zz: %d %s, want 400 field query", status, out)
	}
	// Authentication still comes first on /v1.
	if status, _, _ := rawCall(t, h, "GET", "/v1/endpoints?limt=10", noKey, ""); status != http.StatusUnauthorized {
		t.Errorf("unknown parameter without a key: %d, want 401", status)
	}
}

func createTenantFixture(t *testing.T, h *hookdtest.Hookd, id string) {
	t.Helper()
	if status, out := h.Do(t, http.MethodPost, "/v1/tenants", map[string]string{"id": id}); status != http.StatusCreated {
		t.Fatalf("tenant %s: %d %s", id, status, out)
	}
}

func tenantKeyFixture(t *testing.T, h *hookdtest.Hookd, tenantID string) string {
	t.Helper()
	status, out := h.Do(t, http.MethodPost, "/v1/keys", map[string]string{"name": "t", "scope": "tenant", "tenant": tenantID})
	var k struct{ Key string }
	if status != http.StatusCreated || json.Unmarshal(out, &k) != nil {
		t.Fatalf("tenant key: %d %s", status, out)
	}
	return k.Key
}
