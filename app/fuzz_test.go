package app_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/hookdtest"
)

// fuzzMethods are the methods FuzzAPI sends, by index (mod len).
var fuzzMethods = []string{"GET", "POST", "PATCH", "DELETE", "PUT", "HEAD", "OPTIONS"}

// fuzzBodies are the seed bodies of the routes that take one.
var fuzzBodies = map[string]string{
	"POST /v1/endpoints":                      `{"url":"http://127.0.0.1:9/hook","events":["order.*"],"filter":"data.amount > 100"}`,
	"PATCH /v1/endpoints/{id}":                `{"name":"x","filter":"len(data.s) > 1","ordering_key":"data.k"}`,
	"POST /v1/endpoints/{id}/rotate-secret":   `{"expire_after":"1h"}`,
	"POST /v1/endpoints/{id}/test":            `{"event_type":"order.created","data":{"a":1}}`,
	"POST /v1/endpoints/{id}/test-filter":     `{"event":{"type":"order.created","data":{"amount":1}}}`,
	"POST /v1/endpoints/{id}/recover":         `{"since":"2020-01-01T00:00:00Z"}`,
	"POST /v1/endpoints/{id}/backfill":        `{"since":"2020-01-01T00:00:00Z","dry_run":true}`,
	"POST /v1/deliveries/{id}/retry":          `{"force":true}`,
	"POST /v1/events":                         `{"type":"order.created","data":{"order_id":"o_1","amount":3},"tenant":"acme"}`,
	"POST /v1/rules/test":                     `{"filter":"all(data.a, {# > 0})","event":{"type":"a.b","data":{"a":[1,2]}}}`,
	"POST /v1/keys":                           `{"name":"k","scope":"tenant","tenant":"acme"}`,
	"POST /v1/tenants":                        `{"id":"globex","name":"Globex","limits":{"max_endpoints":3}}`,
	"PATCH /v1/tenants/{id}":                  `{"name":"Acme"}`,
	"POST /v1/tenants/{id}/portal-tokens":     `{"ttl":"10m"}`,
	"POST /v1/event-types":                    `{"name":"user.created","schema":{"type":"object"},"example":{"id":"u_1"}}`,
	"PATCH /v1/event-types/{name}":            `{"description":"x"}`,
	"GET /v1/endpoints":                       ``,
	"GET /v1/delivery-log?endpoint_id={ep}":   ``,
	"GET /v1/endpoints/{id}/deliveries?limit": ``,
}

// fuzzIDs stand for real ids in fuzzed paths, so inputs reach existing
// resources: {id} (or {name}) after a collection is that collection's
// fixture, unless the input gives an id of its own.
type fuzzIDs map[string]string

func (ids fuzzIDs) fill(path, id string) string {
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		if (seg == "{id}" || seg == "{name}") && i > 0 {
			if id != "" {
				segs[i] = id
			} else if fixture, ok := ids[segs[i-1]]; ok {
				segs[i] = fixture
			}
		}
	}
	return strings.NewReplacer("{ep}", ids["endpoints"], "{evt}", ids["events"]).Replace(strings.Join(segs, "/"))
}

// FuzzAPI sends random methods, paths (long and odd ids, %-encodings, dots,
// wildcards, spaces), query strings and bodies with admin, tenant, portal,
// publish and no keys to a real hookd on a real embedded nats-server. Every
// answer must be a client error or a success (no 5xx: storage is
// healthy), hookd keeps running, and its shared NATS connection stays
// open. Seeded with every route of openapi.json.
//
//	go test -run '^$' -fuzz '^FuzzAPI$' -fuzztime 3000x ./app/
func FuzzAPI(f *testing.F) {
	spec, err := os.ReadFile("../httpapi/openapi.json")
	if err != nil {
		f.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(spec, &doc); err != nil {
		f.Fatal(err)
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			m := strings.ToUpper(method)
			idx := slices.Index(fuzzMethods, m)
			if idx < 0 {
				continue // "parameters"
			}
			for key := range uint8(3) {
				f.Add(uint8(idx), path, "", "", []byte(fuzzBodies[m+" "+path]), key)
			}
		}
	}
	for route, body := range fuzzBodies {
		m, target, _ := strings.Cut(route, " ")
		path, query, _ := strings.Cut(target, "?")
		f.Add(uint8(slices.Index(fuzzMethods, m)), path, "", query, []byte(body), uint8(0))
	}
	for _, odd := range []string{strings.Repeat("a", 5000), "ep_*", "%3E", "a b", "..", ".", "a.b", "%2F", "\x00", "dlv_%00"} {
		for _, path := range []string{"/v1/endpoints/{id}", "/v1/keys/{id}", "/v1/tenants/{id}/portal-tokens", "/v1/events/{id}", "/v1/event-types/{name}", "/v1/deliveries/{id}/retry"} {
			f.Add(uint8(0), path, odd, "tenant="+odd, []byte(`{}`), uint8(1))
		}
	}

	cfg := fastConfig()
	cfg.Logger = hookdtest.Logger()
	h := hookdtest.Start(f, cfg)
	rc := hookdtest.NewReceiver(f)
	if status, out := h.Do(f, http.MethodPost, "/v1/tenants", `{"id":"acme"}`); status != http.StatusCreated {
		f.Fatalf("tenant: %d %s", status, out)
	}
	tenant := mustKey(f, h, `{"name":"t","scope":"tenant","tenant":"acme"}`)
	publish := mustKey(f, h, `{"name":"p","scope":"publish"}`)
	spare := mustKey(f, h, `{"name":"spare","scope":"admin"}`)
	status, out := h.Do(f, http.MethodPost, "/v1/tenants/acme/portal-tokens", `{"ttl":"1h"}`)
	var portal struct{ Token string }
	if status != http.StatusCreated || json.Unmarshal(out, &portal) != nil {
		f.Fatalf("portal token: %d %s", status, out)
	}
	if status, out := h.Do(f, http.MethodPost, "/v1/event-types", `{"name":"order.created","example":{"order_id":"o_1","amount":3}}`); status != http.StatusCreated {
		f.Fatalf("event type: %d %s", status, out)
	}
	ep := h.CreateEndpoint(f, map[string]any{"url": rc.URL, "events": []string{"order.*"}})
	evt := h.PublishEvent(f, "order.created", map[string]any{"order_id": "o_1", "amount": 3})
	hookdtest.WaitFor(f, 10*time.Second, "the fixture delivery", func() bool { return rc.Count() == 1 })
	ids := fuzzIDs{"endpoints": ep.ID, "deliveries": h.DeliveryID(f, evt, ep.ID), "events": evt, "keys": spare.ID,
		"tenants": "acme", "event-types": "order.created"}
	// The fixtures the keys depend on are not deleted: that would only
	// turn every later input into a 401.
	protected := []string{"/v1/tenants/acme", "/v1/keys/" + tenant.ID, "/v1/keys/" + publish.ID}
	keys := []string{hookdtest.AdminKey, tenant.Key, portal.Token, publish.Key, "", "hk_not_a_key"}
	client := &http.Client{Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base, _ := url.Parse(h.URL)

	f.Fuzz(func(t *testing.T, method uint8, path, id, query string, body []byte, key uint8) {
		m := fuzzMethods[int(method)%len(fuzzMethods)]
		path = ids.fill(path, id)
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		for _, p := range protected {
			if m == "DELETE" && strings.HasPrefix(path, p) {
				return
			}
		}
		u := *base
		if unescaped, err := url.PathUnescape(path); err == nil {
			u.Path, u.RawPath = unescaped, path // %-encodings sent as given
		} else {
			u.Path = path
		}
		u.RawQuery = query
		req, err := http.NewRequest(m, u.String(), bytes.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		req.URL.Path, req.URL.RawPath = u.Path, u.RawPath
		req.Header.Set("Content-Type", "application/json")
		if k := keys[int(key)%len(keys)]; k != "" {
			req.Header.Set("Authorization", "Bearer "+k)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %.200s?%.100s: %v", m, path, query, err)
		}
		answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Errorf("%s %.200s?%.100s %.200q: %d %.500s", m, path, query, body, resp.StatusCode, answer)
		}
		if !h.Running() {
			t.Fatalf("%s %.200s?%.100s stopped hookd", m, path, query)
		}
		if nc := h.App.JetStream().Conn(); nc.IsClosed() {
			t.Fatalf("%s %.200s?%.100s closed the shared NATS connection: %v", m, path, query, nc.LastError())
		}
	})
}

type fuzzKey struct{ ID, Key string }

func mustKey(t testing.TB, h *hookdtest.Hookd, body string) fuzzKey {
	t.Helper()
	status, out := h.Do(t, http.MethodPost, "/v1/keys", body)
	var k fuzzKey
	if status != http.StatusCreated || json.Unmarshal(out, &k) != nil {
		t.Fatalf("key %s: %d %s", body, status, out)
	}
	return k
}
