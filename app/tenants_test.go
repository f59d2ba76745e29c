package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/internal/hookdtest"
)

func createTenant(t *testing.T, h *hookdtest.Hookd, body string) {
	t.Helper()
	if status, out := h.Do(t, http.MethodPost, "/v1/tenants", body); status != http.StatusCreated {
		t.Fatalf("create tenant: %d %s", status, out)
	}
}

func tenantKey(t *testing.T, h *hookdtest.Hookd, tenantID string) string {
	t.Helper()
	status, out := h.Do(t, http.MethodPost, "/v1/keys", `{"name":"t","scope":"tenant","tenant":"`+tenantID+`"}`)
	var k struct{ Key string }
	if status != http.StatusCreated || json.Unmarshal(out, &k) != nil {
		t.Fatalf("tenant key: %d %s", status, out)
	}
	return k.Key
}

func callAs(t *testing.T, h *hookdtest.Hookd, key, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, h.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, string(out)
}

func marks(t *testing.T, rc *hookdtest.Receiver) []string {
	t.Helper()
	var out []string
	for _, r := range rc.Requests() {
		var env struct{ Data struct{ N string } }
		_ = json.Unmarshal(r.Body, &env)
		out = append(out, env.Data.N)
	}
	sort.Strings(out)
	return out
}

// Events addressed to a tenant (over HTTP, by subject, by header) reach only
// that tenant's endpoints; tenant-less events only the default tenant's.
func TestTenantRouting(t *testing.T) {
	cfg := fastConfig()
	cfg.NATSListen = "127.0.0.1:0"
	h := hookdtest.Start(t, cfg)
	createTenant(t, h, `{"id":"acme","name":"Acme"}`)
	createTenant(t, h, `{"id":"globex"}`)
	rcA, rcB, rcDefault := hookdtest.NewReceiver(t), hookdtest.NewReceiver(t), hookdtest.NewReceiver(t)
	a := h.CreateEndpoint(t, map[string]any{"url": rcA.URL, "tenant": "acme", "events": []string{"order.paid"}})
	b := h.CreateEndpoint(t, map[string]any{"url": rcB.URL, "tenant": "globex", "events": []string{"order.paid"}})
	d := h.CreateEndpoint(t, map[string]any{"url": rcDefault.URL, "events": []string{"order.paid"}})

	publish := func(body string) {
		if status, out := h.Do(t, http.MethodPost, "/v1/events", body); status != http.StatusAccepted {
			t.Fatalf("publish %s: %d %s", body, status, out)
		}
	}
	publish(`{"type":"order.paid","tenant":"acme","data":{"n":"a1"}}`)
	publish(`{"type":"order.paid","tenant":"globex","data":{"n":"b1"}}`)
	publish(`{"type":"order.paid","data":{"n":"d1"}}`)
	// The same event id in two tenants is two events.
	publish(`{"type":"order.paid","tenant":"acme","id":"same","data":{"n":"a2"}}`)
	publish(`{"type":"order.paid","tenant":"globex","id":"same","data":{"n":"b2"}}`)

	nc, err := nats.Connect(h.App.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	if _, err := js.Publish(ctx, "tenants.acme.events.order.paid", []byte(`{"n":"a3"}`)); err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg("events.order.paid")
	m.Header.Set("Hookd-Tenant", "globex")
	m.Data = []byte(`{"n":"b3"}`)
	if _, err := js.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	h.WaitIdle(t, a.ID, b.ID, d.ID)
	for _, c := range []struct {
		rc   *hookdtest.Receiver
		want []string
	}{{rcA, []string{"a1", "a2", "a3"}}, {rcB, []string{"b1", "b2", "b3"}}, {rcDefault, []string{"d1"}}} {
		if got := marks(t, c.rc); !slices.Equal(got, c.want) {
			t.Errorf("got %v, want %v", got, c.want)
		}
	}
	status, out := h.Do(t, http.MethodPost, "/v1/events", `{"type":"order.paid","tenant":"nobody","data":{}}`)
	if status != 400 || !strings.Contains(string(out), `"field":"tenant"`) {
		t.Fatalf("unknown tenant: %d %s", status, out)
	}
}

// A tenant key sees only its tenant: every route on another tenant's ids
// answers 404, as do the admin-only routes.
func TestTenantKeyIsolation(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	h := hookdtest.Start(t, fastConfig())
	createTenant(t, h, `{"id":"acme"}`)
	createTenant(t, h, `{"id":"globex"}`)
	acmeKey := tenantKey(t, h, "acme")
	other := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "tenant": "globex"})
	evID := h.PublishEventAs(t, "globex", "order.paid", map[string]int{"n": 1})
	h.WaitIdle(t, other.ID)
	var dlv string
	hookdtest.WaitFor(t, 10*time.Second, "globex delivery logged", func() bool {
		status, out := h.Do(t, http.MethodGet, "/v1/events/"+evID+"?tenant=globex", nil)
		var ev struct {
			RoutedTo []struct {
				DeliveryID string `json:"delivery_id"`
			} `json:"routed_to"`
		}
		if status != 200 || json.Unmarshal(out, &ev) != nil || len(ev.RoutedTo) != 1 || ev.RoutedTo[0].DeliveryID == "" {
			return false
		}
		dlv = ev.RoutedTo[0].DeliveryID
		return true
	})

	routes := [][3]string{
		{"GET", "/v1/endpoints/" + other.ID, ""},
		{"PATCH", "/v1/endpoints/" + other.ID, `{"name":"x"}`},
		{"DELETE", "/v1/endpoints/" + other.ID, ""},
		{"GET", "/v1/endpoints/" + other.ID + "/secret", ""},
		{"POST", "/v1/endpoints/" + other.ID + "/enable", ""},
		{"POST", "/v1/endpoints/" + other.ID + "/disable", ""},
		{"POST", "/v1/endpoints/" + other.ID + "/rotate-secret", ""},
		{"POST", "/v1/endpoints/" + other.ID + "/test", ""},
		{"POST", "/v1/endpoints/" + other.ID + "/test-filter", `{"event":{"type":"a"}}`},
		{"POST", "/v1/endpoints/" + other.ID + "/recover", `{"since":"2020-01-01T00:00:00Z"}`},
		{"GET", "/v1/endpoints/" + other.ID + "/deliveries", ""},
		{"GET", "/v1/deliveries/" + dlv, ""},
		{"POST", "/v1/deliveries/" + dlv + "/retry", `{"force":true}`},
		{"GET", "/v1/events/" + evID, ""},
		{"GET", "/v1/events/" + evID + "?tenant=globex", ""},
		{"POST", "/v1/events", `{"type":"a.b","tenant":"globex","data":{}}`},
		{"POST", "/v1/endpoints", `{"url":"https://x.example","tenant":"globex"}`},
		{"GET", "/v1/tenants", ""},
		{"GET", "/v1/tenants/globex", ""},
		{"POST", "/v1/tenants", `{"id":"evil"}`},
		{"DELETE", "/v1/tenants/globex", ""},
		{"GET", "/v1/keys", ""},
		{"POST", "/v1/keys", `{"scope":"admin"}`},
	}
	for _, r := range routes {
		status, out := callAs(t, h, acmeKey, r[0], r[1], r[2])
		if status != http.StatusNotFound {
			t.Errorf("acme key %s %s: %d %s, want 404", r[0], r[1], status, out)
		}
	}
	// Nothing was changed by those calls.
	if status, out := h.Do(t, http.MethodGet, "/v1/endpoints/"+other.ID, nil); status != 200 || !strings.Contains(string(out), `"name":""`) || !strings.Contains(string(out), `"enabled":true`) {
		t.Fatalf("globex endpoint changed: %d %s", status, out)
	}
	// Its own tenant works: create, list only its own, publish.
	status, out := callAs(t, h, acmeKey, "POST", "/v1/endpoints", `{"url":"https://acme.example/hook"}`)
	if status != 201 || !strings.Contains(out, `"tenant":"acme"`) {
		t.Fatalf("acme creates: %d %s", status, out)
	}
	status, out = callAs(t, h, acmeKey, "GET", "/v1/endpoints", "")
	if status != 200 || strings.Contains(out, other.ID) || !strings.Contains(out, "acme.example") {
		t.Fatalf("acme lists: %d %s", status, out)
	}
	if status, out := callAs(t, h, acmeKey, "POST", "/v1/events", `{"type":"a.b","data":{}}`); status != 202 {
		t.Fatalf("acme publishes: %d %s", status, out)
	}
}

// adminCall is h.Do with the answer's headers.
func adminCall(t *testing.T, h *hookdtest.Hookd, method, path, body string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, h.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+hookdtest.AdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(out)
}

// max_endpoints is a quota: 409 quota_exceeded naming the limit, and no
// Retry-After, since waiting never lifts it. events_per_second is a rate:
// 429 limit_exceeded with Retry-After.
func TestTenantLimits(t *testing.T) {
	h := hookdtest.Start(t, fastConfig())
	createTenant(t, h, `{"id":"small","limits":{"max_endpoints":1,"events_per_second":1}}`)
	h.CreateEndpoint(t, map[string]any{"url": "https://x.example", "tenant": "small"})
	status, hdr, out := adminCall(t, h, http.MethodPost, "/v1/endpoints", `{"url":"https://y.example","tenant":"small"}`)
	if status != http.StatusConflict || !strings.Contains(out, `"quota_exceeded"`) || !strings.Contains(out, "limits.max_endpoints") {
		t.Fatalf("second endpoint: %d %s, want 409 quota_exceeded naming limits.max_endpoints", status, out)
	}
	if ra := hdr.Get("Retry-After"); ra != "" {
		t.Fatalf("quota refusal with Retry-After %q: clients would retry a refusal that waiting never lifts", ra)
	}
	limited := false
	for i := 0; i < 20 && !limited; i++ {
		status, hdr, out = adminCall(t, h, http.MethodPost, "/v1/events", `{"type":"a.b","tenant":"small","data":{}}`)
		switch status {
		case http.StatusAccepted:
		case http.StatusTooManyRequests:
			limited = strings.Contains(out, "limit_exceeded")
			if hdr.Get("Retry-After") == "" {
				t.Fatalf("rate refusal without Retry-After: %s", out)
			}
		default:
			t.Fatalf("publish: %d %s", status, out)
		}
	}
	if !limited {
		t.Fatal("20 events at once were all accepted from a tenant limited to 1 per second")
	}
	// Raising the limit applies at once.
	if status, out := h.Do(t, http.MethodPatch, "/v1/tenants/small", `{"limits":{"max_endpoints":2}}`); status != 200 {
		t.Fatalf("patch: %d %s", status, out)
	}
	if status, out := h.Do(t, http.MethodPost, "/v1/endpoints", `{"url":"https://y.example","tenant":"small"}`); status != 201 {
		t.Fatalf("after raising the limit: %d %s", status, out)
	}
}

// Deleting a tenant deletes its endpoints, the deliveries waiting for them
// and its keys.
func TestDeleteTenant(t *testing.T) {
	h := hookdtest.Start(t, fastConfig())
	createTenant(t, h, `{"id":"gone"}`)
	key := tenantKey(t, h, "gone")
	// Disabled, so its delivery waits.
	ep := h.CreateEndpoint(t, map[string]any{"url": "https://x.example", "tenant": "gone", "events": []string{"order.*"}, "enabled": false})
	keep := h.CreateEndpoint(t, map[string]any{"url": "https://x.example"})
	h.PublishEventAs(t, "gone", "order.paid", nil)
	hookdtest.WaitFor(t, 10*time.Second, "the delivery waiting", func() bool { return h.Backlog(t, ep.ID).Messages == 1 })
	if status, out := h.Do(t, http.MethodDelete, "/v1/tenants/gone", nil); status != 204 {
		t.Fatalf("delete: %d %s", status, out)
	}
	if status, _ := h.Do(t, http.MethodGet, "/v1/endpoints/"+ep.ID, nil); status != 404 {
		t.Fatalf("endpoint of deleted tenant: %d", status)
	}
	if b := h.Backlog(t, ep.ID); b.Messages != 0 {
		t.Fatalf("deliveries of deleted tenant's endpoint still wait: %+v", b)
	}
	if status, _ := h.Do(t, http.MethodGet, "/v1/endpoints/"+keep.ID, nil); status != 200 {
		t.Fatalf("default tenant's endpoint: %d", status)
	}
	if status, _ := callAs(t, h, key, "GET", "/v1/endpoints", ""); status != http.StatusUnauthorized {
		t.Fatalf("deleted tenant's key: %d", status)
	}
	if status, _ := h.Do(t, http.MethodGet, "/v1/tenants/gone", nil); status != 404 {
		t.Fatalf("deleted tenant: %d", status)
	}
	if status, out := h.Do(t, http.MethodDelete, "/v1/tenants/default", nil); status != http.StatusConflict {
		t.Fatalf("delete default: %d %s", status, out)
	}
}

// A portal token manages its tenant's endpoints and cannot publish.
func TestPortalToken(t *testing.T) {
	h := hookdtest.Start(t, fastConfig())
	createTenant(t, h, `{"id":"acme"}`)
	status, out := h.Do(t, http.MethodPost, "/v1/tenants/acme/portal-tokens", `{"ttl":"10m"}`)
	var tok struct {
		Token     string
		ExpiresAt time.Time `json:"expires_at"`
	}
	_ = json.Unmarshal(out, &tok)
	if status != 201 || !strings.HasPrefix(tok.Token, "hk_") || tok.ExpiresAt.Before(time.Now().Add(9*time.Minute)) {
		t.Fatalf("portal token: %d %s", status, out)
	}
	if status, out := callAs(t, h, tok.Token, "POST", "/v1/endpoints", `{"url":"https://acme.example"}`); status != 201 || !strings.Contains(out, `"tenant":"acme"`) {
		t.Fatalf("portal creates: %d %s", status, out)
	}
	if status, _ := callAs(t, h, tok.Token, "POST", "/v1/events", `{"type":"a.b","data":{}}`); status != 404 {
		t.Fatalf("portal publishes: %d", status)
	}
	if status, out := h.Do(t, http.MethodPost, "/v1/tenants/acme/portal-tokens", `{"ttl":"1s"}`); status != 400 || !strings.Contains(string(out), `"field":"ttl"`) {
		t.Fatalf("short ttl: %d %s", status, out)
	}
}

// A tenant's dead delivery can be retried and recovered like any other.
func TestTenantDeliveryRetry(t *testing.T) {
	var ok atomic.Bool
	rc := hookdtest.NewReceiver(t)
	rc.SetRespond(func(int, hookdtest.Request) int {
		if ok.Load() {
			return 200
		}
		return 400
	})
	h := hookdtest.Start(t, fastConfig())
	createTenant(t, h, `{"id":"acme"}`)
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "tenant": "acme"})
	id := h.PublishEventAs(t, "acme", "order.paid", map[string]int{"n": 1})
	hookdtest.WaitFor(t, 10*time.Second, "dead delivery", func() bool {
		p := listDeliveries(t, h, ep.ID, "status=dead")
		return len(p.Data) == 1
	})
	dlv := listDeliveries(t, h, ep.ID, "status=dead").Data[0].ID
	ok.Store(true)
	if status, out := h.Do(t, http.MethodPost, "/v1/deliveries/"+dlv+"/retry", nil); status != http.StatusAccepted {
		t.Fatalf("retry: %d %s", status, out)
	}
	hookdtest.WaitFor(t, 10*time.Second, "retried delivery", func() bool { return rc.CountByID()[id] == 2 })
	hookdtest.WaitFor(t, 10*time.Second, "succeeded", func() bool { return getDelivery(t, h, dlv).Status == "succeeded" })
	// "/" is reserved in event ids: "<tenant>/<id>" scopes a tenant's ids.
	if status, out := h.Do(t, http.MethodPost, "/v1/events", `{"type":"a.b","id":"acme/x","data":{}}`); status != 400 || !strings.Contains(string(out), `"field":"id"`) {
		t.Fatalf("id with /: %d %s", status, out)
	}
}
