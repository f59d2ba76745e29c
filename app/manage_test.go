package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookd/hookd/internal/hookdtest"
)

func verifies(t *testing.T, secret string, r hookdtest.Request) bool {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	return wh.Verify(r.Body, r.Header) == nil
}

// During the grace period a delivery verifies with the old and the new
// secret; after it, only with the new one.
func TestRotateSecretGracePeriod(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	h := hookdtest.Start(t, fastConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL})
	oldSecret := ep.Secret

	status, out := h.Do(t, http.MethodPost, "/v1/endpoints/"+ep.ID+"/rotate-secret", `{"grace_period":"1s"}`)
	var rot struct {
		Secret    string    `json:"secret"`
		ExpiresAt time.Time `json:"previous_secret_expires_at"`
	}
	_ = json.Unmarshal(out, &rot)
	if status != http.StatusOK || !strings.HasPrefix(rot.Secret, "whsec_") || rot.Secret == oldSecret || rot.ExpiresAt.IsZero() {
		t.Fatalf("rotate: %d %s", status, out)
	}
	h.WaitEndpoint(t, ep.ID, func(e *hookdtest.Endpoint) bool { return e != nil && e.Secret == rot.Secret })
	if _, out := h.Do(t, http.MethodGet, "/v1/endpoints/"+ep.ID+"/secret", nil); !strings.Contains(string(out), rot.Secret) {
		t.Fatalf("secret after rotation: %s", out)
	}

	during := h.PublishEvent(t, "a.b", map[string]int{"n": 1})
	hookdtest.WaitFor(t, 10*time.Second, "delivery in the grace period", func() bool { return rc.CountByID()[during] == 1 })
	r := rc.Requests()[0]
	if !verifies(t, oldSecret, r) || !verifies(t, rot.Secret, r) {
		t.Fatalf("in the grace period the delivery must verify with both secrets; signature %q", r.Header.Get("webhook-signature"))
	}
	if n := len(strings.Fields(r.Header.Get("webhook-signature"))); n != 2 {
		t.Fatalf("%d signatures in the grace period, want 2", n)
	}

	hookdtest.WaitFor(t, 10*time.Second, "grace period over", func() bool { return time.Now().After(rot.ExpiresAt) })
	after := h.PublishEvent(t, "a.b", map[string]int{"n": 2})
	hookdtest.WaitFor(t, 10*time.Second, "delivery after the grace period", func() bool { return rc.CountByID()[after] == 1 })
	r = rc.Requests()[1]
	if verifies(t, oldSecret, r) || !verifies(t, rot.Secret, r) {
		t.Fatalf("after the grace period only the new secret may verify; signature %q", r.Header.Get("webhook-signature"))
	}
}

// Custom headers (an API key, a bearer token) go with every delivery and
// test delivery; a per-endpoint timeout applies.
func TestCustomHeadersAndEndpointTimeout(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	h := hookdtest.Start(t, fastConfig())
	h.CreateEndpoint(t, map[string]any{"url": rc.URL, "headers": map[string]string{"Authorization": "Bearer valohai-token-123", "X-Api-Key": "vellum-key-456"}})
	id := h.PublishEvent(t, "execution.completed", map[string]int{"n": 1})
	hookdtest.WaitFor(t, 10*time.Second, "delivery", func() bool { return rc.CountByID()[id] == 1 })
	got := rc.Requests()[0].Header
	if got.Get("Authorization") != "Bearer valohai-token-123" || got.Get("X-Api-Key") != "vellum-key-456" {
		t.Fatalf("custom headers not sent: %v", got)
	}

	release := make(chan struct{})
	defer close(release)
	slow := hookdtest.NewReceiver(t)
	slow.SetRespond(func(int, hookdtest.Request) int { <-release; return 200 })
	ep2 := h.CreateEndpoint(t, map[string]any{"url": slow.URL, "timeout": "150ms"})
	status, out := h.Do(t, http.MethodPost, "/v1/endpoints/"+ep2.ID+"/test", nil)
	if status != http.StatusOK || !strings.Contains(string(out), `"succeeded":false`) || !strings.Contains(string(out), "timed out after 150ms") {
		t.Fatalf("test send to a slow endpoint with a 150ms timeout: %d %s", status, out)
	}
}

// A test send bypasses the filter, is signed, and answers the outcome.
func TestTestSend(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	rc.SetRespond(func(int, hookdtest.Request) int { return http.StatusAccepted })
	h := hookdtest.Start(t, fastConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "filter": "false"})
	status, out := h.Do(t, http.MethodPost, "/v1/endpoints/"+ep.ID+"/test", `{"event_type":"function.executed","data":{"name":"My Function"}}`)
	var res struct {
		Succeeded       bool    `json:"succeeded"`
		StatusCode      int     `json:"status_code"`
		DurationSeconds float64 `json:"duration_seconds"`
		Response        string  `json:"response"`
	}
	_ = json.Unmarshal(out, &res)
	if status != 200 || !res.Succeeded || res.StatusCode != 202 || res.Response != "Accepted" || res.DurationSeconds <= 0 {
		t.Fatalf("test send: %d %s", status, out)
	}
	reqs := rc.Requests()
	if len(reqs) != 1 || !verifies(t, ep.Secret, reqs[0]) || !strings.Contains(string(reqs[0].Body), `"type":"function.executed"`) || !strings.Contains(string(reqs[0].Body), `"My Function"`) {
		t.Fatalf("receiver got %d requests: %+v", len(reqs), reqs)
	}
	bad := hookdtest.NewReceiver(t)
	bad.SetRespond(func(int, hookdtest.Request) int { return http.StatusBadRequest })
	ep2 := h.CreateEndpoint(t, map[string]any{"url": bad.URL})
	_, out = h.Do(t, http.MethodPost, "/v1/endpoints/"+ep2.ID+"/test", nil)
	if !strings.Contains(string(out), `"succeeded":false`) || !strings.Contains(string(out), `"status_code":400`) || !strings.Contains(string(out), "HTTP 400") {
		t.Fatalf("failed test send: %s", out)
	}
}

func TestRulesTestRoutes(t *testing.T) {
	h := hookdtest.Start(t, fastConfig())
	cases := []struct{ body, want string }{
		{`{"filter":"data.execution.status in [\"success\",\"error\"] && data.name startsWith \"My\"","event":{"type":"function.executed","data":{"name":"My F","execution":{"status":"error"}}}}`, `"matched":true`},
		{`{"filter":"data.name startsWith \"My\"","event":{"type":"x","data":{"name":"Your F"}}}`, `"matched":false`},
		{`{"filter":"","events":["workflow.>"],"event":{"type":"workflow.execution.fulfilled"}}`, `"matched":true`},
		{`{"filter":"type == \"a\"","events":["b"],"event":{"type":"a"}}`, `"matched":false`},
		{`{"filter":"data.a.b == 1","event":{"type":"x","data":{}}}`, `"error":"`},
	}
	for _, c := range cases {
		status, out := h.Do(t, http.MethodPost, "/v1/rules/test", c.body)
		if status != 200 || !strings.Contains(string(out), c.want) {
			t.Errorf("%s: %d %s, want %s", c.body, status, out, c.want)
		}
	}
	status, out := h.Do(t, http.MethodPost, "/v1/rules/test", `{"filter":"data.x ==","event":{"type":"x"}}`)
	if status != 400 || !strings.Contains(string(out), `"field":"filter"`) || !strings.Contains(string(out), "(1:") {
		t.Fatalf("compile error: %d %s", status, out)
	}
	ep := h.CreateEndpoint(t, map[string]any{"url": "https://x.example", "events": []string{"order.*"}, "filter": "data.total > 100"})
	for body, want := range map[string]string{
		`{"event":{"type":"order.paid","data":{"total":150}}}`:   `"matched":true`,
		`{"event":{"type":"order.paid","data":{"total":50}}}`:    `"matched":false`,
		`{"event":{"type":"user.created","data":{"total":150}}}`: `"matched":false`,
	} {
		status, out := h.Do(t, http.MethodPost, "/v1/endpoints/"+ep.ID+"/test-filter", body)
		if status != 200 || !strings.Contains(string(out), want) {
			t.Errorf("test-filter %s: %d %s, want %s", body, status, out, want)
		}
	}
}
