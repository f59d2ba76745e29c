package app_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
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

// ruleErrorLog is a router.RuleErrorRecorder for tests.
type ruleErrorLog struct {
	mu   sync.Mutex
	seen map[string]int // "endpoint/kind"
}

func (l *ruleErrorLog) RecordRuleError(endpointID, kind string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[string]int{}
	}
	l.seen[endpointID+"/"+kind]++
}

func (l *ruleErrorLog) count(endpointID, kind string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen[endpointID+"/"+kind]
}

// A tenant's endpoints whose filters, ordering key or transform blow up on
// an event (the 40 GB replace, the gigabyte repeat, 10^10 nested
// iterations) used to put hookd in a crash loop that survived restarts,
// and the API died with it, so the endpoint could not be deleted. Now each
// is that endpoint's rule error: hookd stays up, the event reaches the
// other endpoints, the rule errors are counted per endpoint (the router's
// recorder and hookd_endpoint_rule_errors_total), a restart routes the
// next event the same way, and the tenant can delete the endpoints.
func TestHostileRulesAreTheirEndpointsProblem(t *testing.T) {
	cfg := fastConfig()
	cfg.DataDir = t.TempDir()
	rec := &ruleErrorLog{}
	cfg.Router.RuleErrors = rec
	h := hookdtest.Start(t, cfg)
	createTenant(t, h, `{"id":"acme"}`)
	key := tenantKey(t, h, "acme")
	good, keyed := hookdtest.NewReceiver(t), hookdtest.NewReceiver(t)
	create := func(body map[string]any) string {
		t.Helper()
		if _, ok := body["url"]; !ok {
			body["url"] = good.URL + "/bad"
		}
		body["events"] = []string{"big.*"}
		raw, _ := json.Marshal(body)
		status, out := callAs(t, h, key, "POST", "/v1/endpoints", string(raw))
		var ep struct{ ID string }
		if status != http.StatusCreated || json.Unmarshal([]byte(out), &ep) != nil {
			t.Fatalf("create %s: %d %.300s", raw, status, out)
		}
		h.WaitEndpoint(t, ep.ID, func(e *hookdtest.Endpoint) bool { return e != nil })
		return ep.ID
	}
	goodID := create(map[string]any{"url": good.URL + "/good"})
	filters := map[string]string{
		create(map[string]any{"filter": `len(replace(data.s, "", data.s)) > 0`}): "replace",
		create(map[string]any{"filter": `len(repeat(data.s, 2000)) > 0`}):        "repeat",
		create(map[string]any{"filter": `all(data.a, {all(data.a, {# == 0})})`}): "nested",
	}
	keyID := create(map[string]any{"url": keyed.URL, "ordering": "ordered", "ordering_key": `repeat(data.s, 2000)`})
	transformID := create(map[string]any{"format": "transform", "transform": `{"x": repeat(data.s, 2000)}`, "sample_event": map[string]any{"data": map[string]any{"s": "x"}}})

	data := map[string]any{"s": strings.Repeat("a", 500_000), "a": make([]int, 100_000)}
	h.PublishEventAs(t, "acme", "big.one", data)
	hookdtest.WaitFor(t, 30*time.Second, "the good endpoint's delivery", func() bool { return good.Count() == 1 })
	hookdtest.WaitFor(t, 30*time.Second, "the keyed endpoint's delivery, with the empty key", func() bool { return keyed.Count() == 1 })
	hookdtest.WaitFor(t, 30*time.Second, "the transform's dead letter", func() bool { return len(h.DeadLetters(t, transformID)) == 1 })
	for id, name := range filters {
		if rec.count(id, "filter") != 1 {
			t.Errorf("%s filter: %d rule errors recorded, want 1", name, rec.count(id, "filter"))
		}
	}
	if rec.count(keyID, "ordering_key") != 1 || rec.count(transformID, "payload") != 1 || rec.count(goodID, "filter") != 0 {
		t.Errorf("rule errors recorded: %v", rec.seen)
	}
	fams := hookdtest.Scrape(t, h.URL+"/metrics", hookdtest.AdminKey)
	for id := range filters {
		if v := fams.Value("hookd_endpoint_rule_errors_total", "endpoint", id, "kind", "filter"); v != 1 {
			t.Errorf("hookd_endpoint_rule_errors_total{endpoint=%s,kind=filter} = %v, want 1", id, v)
		}
	}
	// And in the endpoint's stats, as its tenant sees them.
	for id := range filters {
		hookdtest.WaitFor(t, 10*time.Second, "rule_errors in the stats of "+id, func() bool {
			status, out := callAs(t, h, key, "GET", "/v1/endpoints/"+id+"/stats", "")
			var st struct {
				RuleErrors int `json:"rule_errors"`
			}
			return status == http.StatusOK && json.Unmarshal([]byte(out), &st) == nil && st.RuleErrors == 1
		})
	}
	status, out := callAs(t, h, key, "GET", "/v1/endpoints/"+goodID+"/stats", "")
	if status != http.StatusOK || !strings.Contains(out, `"rule_errors":0`) {
		t.Errorf("the good endpoint's stats: %d %s, want no rule errors", status, out)
	}
	if got := good.Requests()[0].Path; got != "/good" {
		t.Errorf("the good endpoint got %s", got)
	}
	if h.App.JetStream().Conn().IsClosed() {
		t.Fatal("the shared connection closed")
	}

	// A restart with the endpoints still there routes the next event the
	// same way, without a crash.
	h.Stop(t)
	rec2 := &ruleErrorLog{}
	cfg.Router.RuleErrors = rec2
	h = hookdtest.Start(t, cfg)
	h.PublishEventAs(t, "acme", "big.two", data)
	hookdtest.WaitFor(t, 30*time.Second, "the good endpoint's second delivery", func() bool { return good.Count() == 2 })
	hookdtest.WaitFor(t, 30*time.Second, "the second rule errors", func() bool {
		for id := range filters {
			if rec2.count(id, "filter") != 1 {
				return false
			}
		}
		return true
	})
	for _, id := range append(slices.Collect(maps.Keys(filters)), keyID, transformID) {
		if status, out := callAs(t, h, key, "DELETE", "/v1/endpoints/"+id, ""); status != http.StatusNoContent {
			t.Errorf("delete %s: %d %s", id, status, out)
		}
	}
}
