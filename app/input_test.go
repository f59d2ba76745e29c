package app_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/hookdtest"
)

func portalToken(t *testing.T, h *hookdtest.Hookd, tenantID string) string {
	t.Helper()
	status, out := h.Do(t, http.MethodPost, "/v1/tenants/"+tenantID+"/portal-tokens", `{"ttl":"10m"}`)
	var tok struct{ Token string }
	if status != http.StatusCreated || json.Unmarshal(out, &tok) != nil {
		t.Fatalf("portal token: %d %s", status, out)
	}
	return tok.Token
}

// errorField reads the error body's code and field.
func errorField(t *testing.T, body string) (code, field string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Field string }
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("error body %.200s: %v", body, err)
	}
	return e.Error.Code, e.Error.Field
}

// Ids and names in requests end up in NATS subjects and key-value keys; one
// longer than the server's control line (4 KiB) used to make the server
// close the connection every part of hookd shares, and hookd exit
// (GET /v1/endpoints/<4,000 characters> with a portal token, DELETE
// /v1/keys/<5,000 characters>). Every path parameter that cannot be an id
// is 404 naming it, every query or body id 400 naming its field; the
// shared connection stays open and hookd keeps serving.
func TestLongIDsNeitherCloseNATSNorStopHookd(t *testing.T) {
	h := hookdtest.Start(t, fastConfig())
	createTenant(t, h, `{"id":"acme"}`)
	portal := portalToken(t, h, "acme")
	long := strings.Repeat("a", 4000)
	longer := strings.Repeat("b", 5000)
	dotted := strings.Repeat("abcdefgh.", 500) + "x"
	wild := url.PathEscape("ep_*")
	for _, c := range []struct {
		key, method, path, body string
		status                  int
		field                   string
	}{
		{portal, "GET", "/v1/endpoints/" + long, "", 404, "id"},
		{hookdtest.AdminKey, "DELETE", "/v1/keys/" + longer, "", 404, "id"},
		{hookdtest.AdminKey, "GET", "/v1/endpoints/" + long, "", 404, "id"},
		{hookdtest.AdminKey, "PATCH", "/v1/endpoints/" + long, `{"name":"x"}`, 404, "id"},
		{hookdtest.AdminKey, "DELETE", "/v1/endpoints/" + long, "", 404, "id"},
		{portal, "GET", "/v1/endpoints/" + long + "/stats", "", 404, "id"},
		{portal, "GET", "/v1/endpoints/" + long + "/deliveries", "", 404, "id"},
		{portal, "POST", "/v1/endpoints/" + long + "/enable", "", 404, "id"},
		{portal, "POST", "/v1/endpoints/" + long + "/recover", `{"since":"2020-01-01T00:00:00Z"}`, 404, "id"},
		{portal, "POST", "/v1/endpoints/" + long + "/rotate-secret", "", 404, "id"},
		{portal, "GET", "/v1/endpoints/" + wild, "", 404, "id"},
		{portal, "GET", "/v1/endpoints/a.b.c", "", 404, "id"},
		{portal, "GET", "/v1/deliveries/" + longer, "", 404, "id"},
		{hookdtest.AdminKey, "GET", "/v1/tenants/" + longer, "", 404, "id"},
		{hookdtest.AdminKey, "PATCH", "/v1/tenants/" + longer, `{"name":"x"}`, 404, "id"},
		{hookdtest.AdminKey, "POST", "/v1/tenants/" + longer + "/portal-tokens", `{"ttl":"10m"}`, 404, "id"},
		{hookdtest.AdminKey, "GET", "/v1/event-types/" + dotted, "", 404, "name"},
		{hookdtest.AdminKey, "DELETE", "/v1/event-types/" + dotted, "", 404, "name"},
		{hookdtest.AdminKey, "GET", "/v1/events/" + longer, "", 404, "id"},
		{hookdtest.AdminKey, "GET", "/v1/events/evt_1?tenant=" + longer, "", 400, "tenant"},
		{hookdtest.AdminKey, "GET", "/v1/endpoints?tenant=" + longer, "", 400, "tenant"},
		{portal, "GET", "/v1/delivery-log?endpoint_id=" + longer, "", 400, "endpoint_id"},
		{hookdtest.AdminKey, "GET", "/v1/delivery-log?endpoint_id=ep_%2A", "", 400, "endpoint_id"},
		{hookdtest.AdminKey, "POST", "/v1/endpoints", `{"url":"http://127.0.0.1:9/","tenant":"` + longer + `"}`, 400, "tenant"},
		{hookdtest.AdminKey, "POST", "/v1/events", `{"type":"a.b","tenant":"` + longer + `"}`, 400, "tenant"},
		{hookdtest.AdminKey, "POST", "/v1/rules/test", `{"since":"2020-01-01T00:00:00Z","tenant":"` + longer + `"}`, 400, "tenant"},
		{hookdtest.AdminKey, "POST", "/v1/keys", `{"scope":"tenant","tenant":"` + longer + `"}`, 400, "tenant"},
		{hookdtest.AdminKey, "POST", "/v1/event-types", `{"name":"` + dotted + `"}`, 400, "name"},
		{hookdtest.AdminKey, "POST", "/v1/tenants", `{"id":"` + longer + `"}`, 400, "id"},
	} {
		status, out := callAs(t, h, c.key, c.method, c.path, c.body)
		short := c.method + " " + c.path[:min(len(c.path), 60)]
		if status != c.status {
			t.Errorf("%s: %d %.300s, want %d", short, status, out, c.status)
		} else if _, field := errorField(t, out); field != c.field {
			t.Errorf("%s: field %q in %.300s, want %q", short, field, out, c.field)
		}
		if h.App.JetStream().Conn().IsClosed() {
			t.Fatalf("%s closed the shared NATS connection: %v", short, h.App.JetStream().Conn().LastError())
		}
	}
	// Still serving, reading and writing through the same connection.
	if status, out := callAs(t, h, portal, "POST", "/v1/endpoints", `{"url":"http://127.0.0.1:9/"}`); status != http.StatusCreated {
		t.Fatalf("create after the long ids: %d %s", status, out)
	}
	hookdtest.WaitFor(t, 5*time.Second, "an endpoint in the registry", func() bool { return len(h.App.Registry().Snapshot().ForTenant("acme")) == 1 })
}
