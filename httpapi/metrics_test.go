package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/internal/hookdtest"
)

// On the API, GET /metrics is for admin keys: metrics name every tenant's
// endpoints, and the API may face tenants. A tenant key is not told the
// route exists; a publish key is refused.
func TestMetricsNeedAnAdminKey(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true})
	if status, out := h.Do(t, http.MethodPost, "/v1/tenants", `{"id":"acme"}`); status != http.StatusCreated {
		t.Fatalf("create tenant: %d %s", status, out)
	}
	keyOf := func(body string) string {
		status, out := h.Do(t, http.MethodPost, "/v1/keys", body)
		var k struct{ Key string }
		if err := json.Unmarshal(out, &k); status != http.StatusCreated || err != nil {
			t.Fatalf("create key %s: %d %s", body, status, out)
		}
		return k.Key
	}
	for _, c := range []struct {
		who, key string
		status   int
		code     string
	}{
		{"no key", "", 401, "unauthorized"},
		{"publish key", keyOf(`{"name":"p","scope":"publish"}`), 403, "forbidden"},
		{"tenant key", keyOf(`{"name":"t","scope":"tenant","tenant":"acme"}`), 404, "not_found"},
	} {
		status, out := call(t, h, "GET", "/metrics", c.key, "")
		if status != c.status || decodeError(t, out).Error.Code != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.who, status, out, c.status, c.code)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, h.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+hookdtest.AdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("admin key: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if fams := hookdtest.Scrape(t, h.URL+"/metrics", hookdtest.AdminKey); fams.Value("hookd_build_info") != 1 {
		t.Fatalf("no hookd_build_info in %v", fams)
	}
}
