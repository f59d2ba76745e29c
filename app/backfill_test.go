package app_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/hookdtest"
)

type historyAnswer struct {
	Scanned       int `json:"scanned"`
	Matched       int `json:"matched"`
	Queued        int `json:"queued"`
	AlreadyQueued int `json:"already_queued"`
	Sample        []struct {
		ID   string          `json:"id"`
		Data json.RawMessage `json:"data"`
	} `json:"sample"`
}

func (h historyAnswer) String() string { b, _ := json.Marshal(h); return string(b) }

func postHistory(t *testing.T, h *hookdtest.Hookd, path string, body any, want int) historyAnswer {
	t.Helper()
	status, out := h.Do(t, http.MethodPost, path, body)
	if status != want {
		t.Fatalf("POST %s: %d %s, want %d", path, status, out, want)
	}
	var a historyAnswer
	decodeInto(t, out, &a)
	return a
}

// numbersDelivered reads data.n of every delivery a receiver got.
func numbersDelivered(t *testing.T, rc *hookdtest.Receiver) []int {
	t.Helper()
	var ns []int
	for _, r := range rc.Requests() {
		var body struct {
			Data struct{ N int } `json:"data"`
		}
		decodeInto(t, r.Body, &body)
		ns = append(ns, body.Data.N)
	}
	slices.Sort(ns)
	return ns
}

// A new endpoint catches up on history: a dry run counts and samples the
// matches without delivering; the backfill delivers exactly the matching
// events of the window, of its own tenant, once (a second backfill queues
// nothing); the rule test counts stored events the same way.
func TestBackfillDeliversMatchingHistory(t *testing.T) {
	h := hookdtest.Start(t, fastConfig())
	if status, out := h.Do(t, http.MethodPost, "/v1/tenants", map[string]string{"id": "other"}); status != http.StatusCreated {
		t.Fatalf("tenant: %d %s", status, out)
	}
	start := time.Now().UTC()
	var first string
	for n := range 10 {
		id := h.PublishEvent(t, "order.paid", map[string]int{"n": n})
		if n == 0 {
			first = id
		}
	}
	h.PublishEvent(t, "order.refunded", map[string]int{"n": 100})
	h.PublishEventAs(t, "other", "order.paid", map[string]int{"n": 200})
	mid := time.Now().UTC()
	for n := 10; n < 14; n++ {
		h.PublishEvent(t, "order.paid", map[string]int{"n": n})
	}
	h.WaitEventsStored(t, 16)

	rc := hookdtest.NewReceiver(t)
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "events": []string{"order.paid"}, "filter": "int(data.n) % 2 == 0"})
	path := "/v1/endpoints/" + ep.ID + "/backfill"

	dry := postHistory(t, h, path, map[string]any{"since": start, "until": mid, "dry_run": true, "sample_size": 3}, http.StatusOK)
	// Scanned counts the endpoint's tenant's events only: not other's.
	if dry.Matched != 5 || dry.Queued != 0 || dry.Scanned != 11 || len(dry.Sample) != 3 || string(dry.Sample[0].Data) != `{"n":0}` {
		t.Fatalf("dry run: %v; want 11 scanned, 5 matched, a sample of 3 starting at n 0", dry)
	}
	rule := postHistory(t, h, "/v1/rules/test", map[string]any{"events": []string{"order.paid"}, "filter": "int(data.n) % 2 == 0", "since": start}, http.StatusOK)
	if rule.Matched != 7 || rule.Scanned != 15 || len(rule.Sample) != 5 {
		t.Fatalf("rule test over history: %v; want 7 of 15 matched, a sample of 5", rule)
	}

	done := postHistory(t, h, path, map[string]any{"since": start, "until": mid}, http.StatusAccepted)
	if done.Matched != 5 || done.Queued != 5 || done.AlreadyQueued != 0 {
		t.Fatalf("backfill: %v; want 5 matched and queued", done)
	}
	hookdtest.WaitFor(t, 10*time.Second, "the backfilled deliveries", func() bool { return rc.Count() >= 5 })
	again := postHistory(t, h, path, map[string]any{"since": start}, http.StatusAccepted)
	if again.Matched != 7 || again.AlreadyQueued != 5 || again.Queued != 2 {
		t.Fatalf("second backfill over a wider window: %v; want 7 matched, 5 already queued, 2 queued", again)
	}
	h.WaitIdle(t, ep.ID)
	// The event's page lists the backfilled delivery.
	if status, out := h.Do(t, http.MethodGet, "/v1/events/"+first, nil); status != http.StatusOK || !strings.Contains(string(out), `"endpoint_id":"`+ep.ID+`"`) {
		t.Fatalf("GET /v1/events/%s: %d %s: want the backfilled endpoint listed", first, status, out)
	}
	if got, want := numbersDelivered(t, rc), []int{0, 2, 4, 6, 8, 10, 12}; !slices.Equal(got, want) {
		t.Fatalf("delivered n %v, want %v", got, want)
	}
	for _, r := range rc.Requests() {
		verify(t, ep.Secret, r)
	}

	// A backfill renders in the endpoint's format, as routing does.
	raw := hookdtest.NewReceiver(t)
	rawEP := h.CreateEndpoint(t, map[string]any{"url": raw.URL, "events": []string{"order.refunded"}, "format": "raw"})
	if got := postHistory(t, h, "/v1/endpoints/"+rawEP.ID+"/backfill", map[string]any{"since": start}, http.StatusAccepted); got.Queued != 1 {
		t.Fatalf("raw backfill: %v", got)
	}
	hookdtest.WaitFor(t, 10*time.Second, "the raw delivery", func() bool { return raw.Count() == 1 })
	if body := string(raw.Requests()[0].Body); body != `{"n":100}` {
		t.Fatalf("raw backfill delivered %s", body)
	}
}

func TestBackfillInputErrors(t *testing.T) {
	h := hookdtest.Start(t, fastConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": "https://example.com/hook"})
	path := "/v1/endpoints/" + ep.ID + "/backfill"
	ordered := h.CreateEndpoint(t, map[string]any{"url": "https://example.com/ordered", "ordering": "ordered"})
	if status, out := h.Do(t, http.MethodPost, "/v1/endpoints/"+ordered.ID+"/backfill", map[string]any{"since": "2026-01-01T00:00:00Z"}); status != http.StatusConflict || !strings.Contains(string(out), "ordered_endpoint") {
		t.Errorf("backfill of an ordered endpoint: %d %s, want 409 ordered_endpoint", status, out)
	}
	if status, out := h.Do(t, http.MethodPost, "/v1/endpoints/"+ordered.ID+"/backfill", map[string]any{"since": "2026-01-01T00:00:00Z", "dry_run": true}); status != http.StatusOK {
		t.Errorf("dry run of an ordered endpoint: %d %s", status, out)
	}
	for _, c := range []struct {
		path  string
		body  map[string]any
		field string
	}{
		{path, map[string]any{}, "since"},
		{path, map[string]any{"since": "yesterday"}, "since"},
		{path, map[string]any{"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"},
		{path, map[string]any{"since": "2026-01-01T00:00:00Z", "sample_size": 1000}, "sample_size"},
		{"/v1/rules/test", map[string]any{"since": "2026-01-01T00:00:00Z", "event": map[string]any{"type": "a"}}, "event"},
	} {
		status, out := h.Do(t, http.MethodPost, c.path, c.body)
		if status != http.StatusBadRequest || !json.Valid(out) || !containsField(out, c.field) {
			t.Errorf("%v: %d %s, want 400 naming %s", c.body, status, out, c.field)
		}
	}
}

func containsField(out []byte, field string) bool {
	var e struct {
		Error struct {
			Field string `json:"field"`
		} `json:"error"`
	}
	_ = json.Unmarshal(out, &e)
	return e.Error.Field == field
}

// A field of the wrong JSON type is named, with the kind expected in JSON
// terms, never a Go type name.
func TestWrongJSONTypesNameTheKind(t *testing.T) {
	h := hookdtest.Start(t, fastConfig())
	for _, c := range []struct {
		body       map[string]any
		field, msg string
	}{
		{map[string]any{"url": "https://e.example", "sample_event": 5}, "sample_event", "must be an object, not JSON number"},
		{map[string]any{"url": "https://e.example", "batch": map[string]any{"max_events": "x"}}, "batch.max_events", "must be a whole number"},
		{map[string]any{"url": "https://e.example", "events": "a.b"}, "events", "must be an array"},
	} {
		status, out := h.Do(t, http.MethodPost, "/v1/endpoints", c.body)
		if status != http.StatusBadRequest || !containsField(out, c.field) || !strings.Contains(string(out), c.msg) {
			t.Errorf("%v: %d %s, want 400 naming %s: %s", c.body, status, out, c.field, c.msg)
		}
	}
}

// A rule test over history counts only the caller's tenant's events, for
// tenant keys and portal tokens as for an admin naming the tenant: scanned
// must not tell a tenant how many events other tenants publish.
func TestRuleHistoryCountsTheCallersTenantOnly(t *testing.T) {
	h := hookdtest.Start(t, fastConfig())
	for _, id := range []string{"acme", "globex"} {
		createTenant(t, h, `{"id":"`+id+`"}`)
	}
	start := time.Now().UTC()
	for n := range 3 {
		h.PublishEventAs(t, "acme", "order.paid", map[string]int{"n": n})
	}
	for n := range 7 {
		h.PublishEventAs(t, "globex", "order.paid", map[string]int{"n": n})
	}
	h.PublishEvent(t, "order.paid", map[string]int{"n": 0}) // the default tenant's
	h.WaitEventsStored(t, 11)

	status, out := h.Do(t, http.MethodPost, "/v1/tenants/acme/portal-tokens", `{"ttl":"1h"}`)
	var portal struct{ Token string }
	if status != http.StatusCreated || json.Unmarshal(out, &portal) != nil {
		t.Fatalf("portal token: %d %s", status, out)
	}
	body := `{"events":["order.*"],"since":"` + start.Format(time.RFC3339Nano) + `"}`
	for name, key := range map[string]string{"tenant key": tenantKey(t, h, "acme"), "portal token": portal.Token} {
		status, out := callAs(t, h, key, http.MethodPost, "/v1/rules/test", body)
		var got historyAnswer
		if status != http.StatusOK || json.Unmarshal([]byte(out), &got) != nil {
			t.Fatalf("%s: %d %s", name, status, out)
		}
		if got.Scanned != 3 || got.Matched != 3 {
			t.Errorf("%s of acme: scanned %d, matched %d; want 3 and 3 (acme's events only, of 11 stored)", name, got.Scanned, got.Matched)
		}
	}
	admin := postHistory(t, h, "/v1/rules/test", map[string]any{"events": []string{"order.*"}, "since": start, "tenant": "globex"}, http.StatusOK)
	if admin.Scanned != 7 || admin.Matched != 7 {
		t.Errorf("admin for globex: %v; want 7 scanned and matched", admin)
	}
}
