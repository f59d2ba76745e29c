package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/internal/hookdtest"
)

// every /v1 route, as method and path (ids need not exist: auth comes first).
var v1Routes = [][2]string{
	{"POST", "/v1/endpoints"}, {"GET", "/v1/endpoints"}, {"GET", "/v1/endpoints/ep_x"},
	{"PATCH", "/v1/endpoints/ep_x"}, {"DELETE", "/v1/endpoints/ep_x"}, {"GET", "/v1/endpoints/ep_x/secret"},
	{"POST", "/v1/endpoints/ep_x/enable"}, {"POST", "/v1/endpoints/ep_x/disable"},
	{"POST", "/v1/endpoints/ep_x/rotate-secret"}, {"POST", "/v1/endpoints/ep_x/test"},
	{"POST", "/v1/endpoints/ep_x/test-filter"}, {"POST", "/v1/endpoints/ep_x/recover"},
	{"GET", "/v1/endpoints/ep_x/deliveries"}, {"GET", "/v1/deliveries/dlv_x"}, {"POST", "/v1/deliveries/dlv_x/retry"},
	{"POST", "/v1/events"}, {"GET", "/v1/events/evt_x"}, {"POST", "/v1/rules/test"},
	{"POST", "/v1/keys"}, {"GET", "/v1/keys"}, {"DELETE", "/v1/keys/key_x"}, {"GET", "/v1/no/such/route"},
}

func call(t *testing.T, h *hookdtest.Hookd, method, path, key, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, h.URL+path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestEveryRouteNeedsAKey(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true})
	for _, key := range []string{"", "hk_wrong", "Bearer"} {
		for _, r := range v1Routes {
			status, out := call(t, h, r[0], r[1], key, `{}`)
			if status != http.StatusUnauthorized || decodeError(t, out).Error.Code != "unauthorized" {
				t.Errorf("%s %s with key %q: %d %s", r[0], r[1], key, status, out)
			}
		}
	}
	for _, open := range []string{"/healthz", "/openapi.json"} {
		if status, _ := call(t, h, "GET", open, "", ""); status != 200 {
			t.Errorf("%s: %d without a key", open, status)
		}
	}
	// Ready once the endpoints are loaded: 503 not_ready until then.
	hookdtest.WaitFor(t, 10*time.Second, "/readyz 200 without a key", func() bool {
		status, _ := call(t, h, "GET", "/readyz", "", "")
		return status == 200
	})
}

func TestKeysCreateListRevoke(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true})
	status, out := call(t, h, "POST", "/v1/keys", hookdtest.AdminKey, `{"name":"ingest","scope":"publish"}`)
	var created struct {
		ID, Key, Scope string
	}
	_ = json.Unmarshal(out, &created)
	if status != 201 || !strings.HasPrefix(created.Key, "hk_") || created.Scope != "publish" {
		t.Fatalf("create: %d %s", status, out)
	}
	// A publish key publishes and does nothing else.
	if status, out := call(t, h, "POST", "/v1/events", created.Key, `{"type":"a.b","data":{}}`); status != 202 {
		t.Fatalf("publish with publish key: %d %s", status, out)
	}
	if status, out := call(t, h, "GET", "/v1/endpoints", created.Key, ""); status != 403 || decodeError(t, out).Error.Code != "forbidden" {
		t.Fatalf("endpoints with publish key: %d %s", status, out)
	}
	// Listed without its secret.
	_, out = call(t, h, "GET", "/v1/keys", hookdtest.AdminKey, "")
	if !strings.Contains(string(out), created.ID) || strings.Contains(string(out), created.Key) || strings.Contains(string(out), "hash") {
		t.Fatalf("list: %s", out)
	}
	// Revoked: refused at once, and the revocation is not repeatable.
	if status, _ := call(t, h, "DELETE", "/v1/keys/"+created.ID, hookdtest.AdminKey, ""); status != 204 {
		t.Fatalf("revoke: %d", status)
	}
	hookdtest.WaitFor(t, 5*time.Second, "revocation", func() bool {
		status, _ := call(t, h, "POST", "/v1/events", created.Key, `{"type":"a.b","data":{}}`)
		return status == http.StatusUnauthorized
	})
	if status, _ := call(t, h, "DELETE", "/v1/keys/"+created.ID, hookdtest.AdminKey, ""); status != 404 {
		t.Fatalf("second revoke: %d", status)
	}
	if status, out := call(t, h, "POST", "/v1/keys", hookdtest.AdminKey, `{"scope":"root"}`); status != 400 || decodeError(t, out).Error.Field != "scope" {
		t.Fatalf("bad scope: %d %s", status, out)
	}
}

// Without a configured key, the first start makes one, once; it keeps
// working after a restart.
func TestFirstStartCreatesOneAdminKey(t *testing.T) {
	dir := t.TempDir()
	start := func() (*app.App, func()) {
		a, err := app.New(context.Background(), app.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NoRouter: true, NoWorker: true, Logger: hookdtest.Logger()})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		return a, func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
	a, stop := start()
	key := a.CreatedAdminKey()
	if !strings.HasPrefix(key, "hk_") {
		t.Fatalf("first start created %q", key)
	}
	get := func(a *app.App, key string) int {
		req, _ := http.NewRequest("GET", "http://"+a.HTTPAddr()+"/v1/keys", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if status := get(a, key); status != 200 {
		t.Fatalf("created key refused: %d", status)
	}
	stop()
	a, stop = start()
	defer stop()
	if again := a.CreatedAdminKey(); again != "" {
		t.Fatalf("second start created another key")
	}
	if status := get(a, key); status != 200 {
		t.Fatalf("key refused after restart: %d", status)
	}
}

// The scheme of Authorization is case-insensitive (RFC 9110, 11.1): any
// spelling of "Bearer" carries the key; another scheme, or none, does not.
func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true})
	do := func(authorization string) int {
		req, _ := http.NewRequest("GET", h.URL+"/v1/keys", nil)
		req.Header.Set("Authorization", authorization)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
		if status := do(scheme + " " + hookdtest.AdminKey); status != http.StatusOK {
			t.Errorf("Authorization: %s <key>: %d, want 200", scheme, status)
		}
	}
	if status := do("bearer   " + hookdtest.AdminKey + " "); status != http.StatusOK {
		t.Errorf("spaces around the token: %d, want 200", status)
	}
	for _, wrong := range []string{"Basic " + hookdtest.AdminKey, "Bearer" + hookdtest.AdminKey, hookdtest.AdminKey, "bearer "} {
		if status := do(wrong); status != http.StatusUnauthorized {
			t.Errorf("Authorization: %q: %d, want 401", wrong, status)
		}
	}
}
