package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/httpapi"
	"github.com/hookd/hookd/internal/hookdtest"
)

type bulkItemError struct {
	Code    string `json:"code"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

type bulkItem struct {
	Index    int `json:"index"`
	Status   int `json:"status"`
	Endpoint *struct {
		ID     string `json:"id"`
		Tenant string `json:"tenant"`
		Filter string `json:"filter"`
		Secret string `json:"secret"`
	} `json:"endpoint"`
	Error *bulkItemError `json:"error"`
}

// bulkAnswer is the answer to POST /v1/endpoints/bulk.
type bulkAnswer struct {
	Created int        `json:"created"`
	Failed  int        `json:"failed"`
	Items   []bulkItem `json:"items"`
}

// doAs sends a request with key (the admin key when empty).
func doAs(t *testing.T, h *hookdtest.Hookd, key, method, path string, body []byte) (int, []byte) {
	t.Helper()
	if key == "" {
		key = hookdtest.AdminKey
	}
	req, err := http.NewRequest(method, h.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// bulkCreate posts items (raw JSON each) with key, requires 200 with a
// result per item, in order, each an endpoint or an error, and returns
// the answer.
func bulkCreate(t *testing.T, h *hookdtest.Hookd, key string, items ...string) bulkAnswer {
	t.Helper()
	body := []byte(`{"items":[` + strings.Join(items, ",") + `]}`)
	status, out := doAs(t, h, key, http.MethodPost, "/v1/endpoints/bulk", body)
	if status != http.StatusOK {
		t.Fatalf("bulk create: %d %.1000s", status, out)
	}
	var a bulkAnswer
	if err := json.Unmarshal(out, &a); err != nil {
		t.Fatalf("bulk answer %.1000s: %v", out, err)
	}
	if len(a.Items) != len(items) {
		t.Fatalf("bulk answer has %d results for %d items: %.1000s", len(a.Items), len(items), out)
	}
	created := 0
	for i, it := range a.Items {
		switch {
		case it.Index != i:
			t.Fatalf("result %d is of item %d", i, it.Index)
		case it.Status == http.StatusCreated && it.Endpoint != nil && it.Error == nil:
			created++
		case it.Status != http.StatusCreated && it.Status >= 400 && it.Endpoint == nil && it.Error != nil && it.Error.Message != "":
		default:
			t.Fatalf("result %d is neither a 201 with the endpoint nor an error: %+v", i, it)
		}
	}
	if a.Created != created || a.Failed != len(items)-created {
		t.Fatalf("created %d, failed %d; the results say %d and %d", a.Created, a.Failed, created, len(items)-created)
	}
	return a
}

// countEndpoints counts the endpoints the admin key lists.
func countEndpoints(t *testing.T, h *hookdtest.Hookd) int {
	t.Helper()
	n, cursor := 0, ""
	for {
		status, out := h.Do(t, http.MethodGet, "/v1/endpoints?limit=250&cursor="+cursor, nil)
		var page struct {
			Data       []json.RawMessage `json:"data"`
			HasMore    bool              `json:"has_more"`
			NextCursor string            `json:"next_cursor"`
		}
		if status != http.StatusOK || json.Unmarshal(out, &page) != nil {
			t.Fatalf("list endpoints: %d %.300s", status, out)
		}
		n += len(page.Data)
		if !page.HasMore {
			return n
		}
		cursor = page.NextCursor
	}
}

// Three hundred endpoints created in one bulk request, each with its own
// filter, each get exactly the event their filter matches: one delivery
// per endpoint, at its own receiver path, none anywhere else.
func TestBulkCreateRoutesEachEventToItsEndpoint(t *testing.T) {
	const n = 300
	h := hookdtest.Start(t, app.Config{})
	rc := hookdtest.NewReceiver(t)
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"url":%q,"events":["bulk.*"],"filter":"data.n == %d","metadata":{"n":"%d"}}`, rc.URL+"/e/"+strconv.Itoa(i), i, i)
	}
	a := bulkCreate(t, h, "", items...)
	if a.Created != n {
		t.Fatalf("created %d of %d: %+v", a.Created, n, a.Items[0])
	}
	ids := map[string]bool{}
	for i, it := range a.Items {
		if !strings.HasPrefix(it.Endpoint.Secret, "whsec_") || it.Endpoint.Filter != fmt.Sprintf("data.n == %d", i) || ids[it.Endpoint.ID] {
			t.Fatalf("item %d: %+v (want its own id, its filter and a secret)", i, it.Endpoint)
		}
		ids[it.Endpoint.ID] = true
	}
	if got := countEndpoints(t, h); got != n {
		t.Fatalf("%d endpoints listed, want %d", got, n)
	}
	hookdtest.WaitFor(t, 30*time.Second, "the router to see every endpoint", func() bool {
		return len(h.App.Registry().Snapshot().All()) == n
	})

	events := map[string]int{} // event id -> n
	for i := range n {
		events[h.PublishEvent(t, "bulk.created", map[string]int{"n": i})] = i
	}
	h.PublishEvent(t, "bulk.created", map[string]int{"n": n}) // matches no endpoint
	hookdtest.WaitFor(t, 60*time.Second, "a delivery per endpoint", func() bool { return rc.Count() >= n })
	h.WaitIdle(t)

	got := map[string]int{}
	for _, r := range rc.Requests() {
		var body struct {
			Data struct{ N int } `json:"data"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatalf("delivery body %s: %v", r.Body, err)
		}
		// webhook-id is the event's id.
		want, ok := events[r.Header.Get("webhook-id")]
		if !ok || r.Path != "/e/"+strconv.Itoa(want) || body.Data.N != want {
			t.Errorf("event %q with n=%d (published with n=%d: %v) arrived at %s", r.Header.Get("webhook-id"), body.Data.N, want, ok, r.Path)
		}
		got[r.Path]++
	}
	for i := range n {
		if p := "/e/" + strconv.Itoa(i); got[p] != 1 {
			t.Errorf("endpoint %d got %d deliveries, want 1", i, got[p])
		}
	}
	if len(rc.Requests()) != n {
		t.Errorf("%d deliveries, want %d", len(rc.Requests()), n)
	}
}

// Each refused item is answered with exactly the status, code and message
// POST /v1/endpoints gives the same body, its field prefixed by the item;
// the good items around them are created, and only they.
func TestBulkCreateItemErrorsNameTheField(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true})
	bad := []struct{ body, field string }{
		{`{"url":"https://x.example","filter":"data.name =="}`, "items[1].filter"},
		{`{"url":"https://x.example","filtr":"true"}`, "items[2].filtr"},
		{`{"url":"https://x.example","events":"a.b"}`, "items[3].events"},
		{`{"events":["a.b"]}`, "items[4].url"},
		{`{"url":"https://x.example","events":["a.b","a..b"]}`, "items[5].events[1]"},
		{`{"url":"https://x.example","headers":{"webhook-signature":"x"}}`, "items[6].headers.webhook-signature"},
		{`{"url":"https://x.example","batch":{"max_events":0}}`, "items[7].batch.max_events"},
		{`{"url":"https://x.example","tenant":"no such tenant"}`, "items[8].tenant"},
		{`{"url":"https://x.example","tenant":"nosuch"}`, "items[9].tenant"},
		{`"https://x.example"`, "items[10]"},
		{`[{"url":"https://x.example"}]`, "items[11]"},
		{`{"url":"https://x.example","description":"` + strings.Repeat("d", 70<<10) + `"}`, "items[12]"},
	}
	items := []string{`{"url":"https://first.example","filter":"data.ok"}`}
	for _, b := range bad {
		items = append(items, b.body)
	}
	items = append(items, `{"url":"https://last.example","events":["a.*"]}`)
	a := bulkCreate(t, h, "", items...)
	if a.Created != 2 || a.Items[0].Status != 201 || a.Items[len(items)-1].Status != 201 {
		t.Fatalf("created %d, first %d, last %d: want the first and last items created", a.Created, a.Items[0].Status, a.Items[len(items)-1].Status)
	}
	for i, b := range bad {
		got := a.Items[i+1]
		if got.Error.Field != b.field {
			t.Errorf("item %d: field %q, want %q (%+v)", i+1, got.Error.Field, b.field, got.Error)
		}
		if strings.HasPrefix(b.body, "{") && len(b.body) < 64<<10 {
			// The same body through the single create.
			status, out := h.Do(t, http.MethodPost, "/v1/endpoints", b.body)
			single := decodeError(t, out).Error
			want := strings.TrimSuffix(fmt.Sprintf("items[%d].%s", i+1, single.Field), ".")
			if status != got.Status || single.Code != got.Error.Code || single.Message != got.Error.Message || want != got.Error.Field {
				t.Errorf("item %d: %d %+v; POST /v1/endpoints answers %d %s", i+1, got.Status, got.Error, status, out)
			}
		}
	}
	for _, c := range []struct {
		item         int
		status       int
		code, inText string
	}{
		{10, 400, "invalid_json", "item must be a JSON object, not JSON string"},
		{11, 400, "invalid_json", "item must be a JSON object, not JSON array"},
		{12, 413, "too_large", "item larger than"},
	} {
		if got := a.Items[c.item]; got.Status != c.status || got.Error.Code != c.code || !strings.Contains(got.Error.Message, c.inText) {
			t.Errorf("item %d: %d %+v, want %d %s with %q", c.item, got.Status, got.Error, c.status, c.code, c.inText)
		}
	}
	if n := countEndpoints(t, h); n != 2 {
		t.Fatalf("%d endpoints exist, want the 2 good items", n)
	}
}

// A request that is not a list of 1 to 1,000 endpoints is refused whole,
// with 4xx naming what is wrong, and creates nothing; no bad input is a
// 5xx.
func TestBulkCreateRefusesBadRequests(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true})
	item := `{"url":"https://x.example/hook"}`
	many := func(n int) string { return `{"items":[` + strings.TrimSuffix(strings.Repeat(item+",", n), ",") + `]}` }
	cases := []struct {
		name, body  string
		status      int
		code, field string
		inMessage   string
	}{
		{"empty body", ``, 400, "invalid_json", "", "empty"},
		{"bare array", `[` + item + `]`, 400, "invalid_json", "", "JSON object"},
		{"not json", `{"items":[`, 400, "invalid_json", "", "JSON"},
		{"no items", `{}`, 400, "invalid_field", "items", "required"},
		{"null items", `{"items":null}`, 400, "invalid_field", "items", "required"},
		{"empty items", `{"items":[]}`, 400, "invalid_field", "items", "empty"},
		{"items not an array", `{"items":{"url":"https://x.example"}}`, 400, "invalid_field", "items", "array"},
		{"unknown field", `{"items":[` + item + `],"dry_run":true}`, 400, "invalid_field", "dry_run", "unknown"},
		{"1,001 items", many(httpapi.MaxBulkItems + 1), 400, "invalid_field", "items", "at most 1000"},
		{"over 8 MiB", `{"items":[{"url":"https://x.example","description":"` + strings.Repeat("x", 9<<20) + `"}]}`, 413, "too_large", "", "larger than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, out := doAs(t, h, "", http.MethodPost, "/v1/endpoints/bulk", []byte(c.body))
			if status != c.status {
				t.Fatalf("status %d, want %d: %.300s", status, c.status, out)
			}
			e := decodeError(t, out).Error
			if e.Code != c.code || e.Field != c.field || !strings.Contains(e.Message, c.inMessage) {
				t.Fatalf("error %+v, want %s, field %q, a message with %q", e, c.code, c.field, c.inMessage)
			}
		})
	}
	if n := countEndpoints(t, h); n != 0 {
		t.Fatalf("refused requests created %d endpoints", n)
	}
	// 1,000 is the limit, not past it: items refused one by one (cheap to
	// answer) show the request itself was taken.
	bad := make([]string, httpapi.MaxBulkItems)
	for i := range bad {
		bad[i] = `{"url":"https://x.example/hook","filter":"1 +"}`
	}
	if a := bulkCreate(t, h, "", bad...); a.Failed != httpapi.MaxBulkItems || a.Items[999].Error.Field != "items[999].filter" {
		t.Fatalf("1,000 items: %d failed, last %+v", a.Failed, a.Items[999].Error)
	}
}

// A tenant key creates only in its own tenant, item by item: an item
// naming another tenant is that item's 404, as with POST /v1/endpoints.
func TestBulkCreateTenantKeyStaysInItsTenant(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true})
	for _, id := range []string{"acme", "globex"} {
		if status, out := h.Do(t, http.MethodPost, "/v1/tenants", `{"id":"`+id+`"}`); status != http.StatusCreated {
			t.Fatalf("create tenant %s: %d %s", id, status, out)
		}
	}
	status, out := h.Do(t, http.MethodPost, "/v1/keys", `{"name":"acme","scope":"tenant","tenant":"acme"}`)
	var key struct{ Key string }
	if status != http.StatusCreated || json.Unmarshal(out, &key) != nil {
		t.Fatalf("create tenant key: %d %s", status, out)
	}
	a := bulkCreate(t, h, key.Key,
		`{"url":"https://acme.example/1"}`,
		`{"url":"https://acme.example/2","tenant":"globex"}`,
		`{"url":"https://acme.example/3","tenant":"acme"}`,
		`{"url":"https://acme.example/4","tenant":"default"}`)
	want := []int{201, 404, 201, 404}
	for i, it := range a.Items {
		if it.Status != want[i] {
			t.Errorf("item %d: %d %+v, want %d", i, it.Status, it.Error, want[i])
		}
		if it.Status == 201 && it.Endpoint.Tenant != "acme" {
			t.Errorf("item %d created in tenant %q, want acme", i, it.Endpoint.Tenant)
		}
		if it.Status == 404 && (it.Error.Code != "not_found" || it.Error.Field != fmt.Sprintf("items[%d]", i)) {
			t.Errorf("item %d: %+v, want not_found naming items[%d]", i, it.Error, i)
		}
	}
	for _, tenantID := range []string{"globex", "default"} {
		_, out := h.Do(t, http.MethodGet, "/v1/endpoints?tenant="+tenantID, nil)
		if !strings.Contains(string(out), `"data":[]`) {
			t.Errorf("the acme key created in %s: %s", tenantID, out)
		}
	}
	if n := countEndpoints(t, h); n != 2 {
		t.Fatalf("%d endpoints, want acme's 2", n)
	}
}

// Each item counts against its tenant's max_endpoints, in item order: a
// refused item takes no room, the items past the quota are 409
// quota_exceeded, and another tenant's items are not affected.
func TestBulkCreateQuotaPerItem(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true})
	if status, out := h.Do(t, http.MethodPost, "/v1/tenants", `{"id":"tiny","limits":{"max_endpoints":3}}`); status != http.StatusCreated {
		t.Fatalf("create tenant: %d %s", status, out)
	}
	if status, out := h.Do(t, http.MethodPost, "/v1/endpoints", `{"url":"https://tiny.example/0","tenant":"tiny"}`); status != http.StatusCreated {
		t.Fatalf("create endpoint: %d %s", status, out)
	}
	a := bulkCreate(t, h, "",
		`{"url":"https://tiny.example/1","tenant":"tiny"}`,
		`{"url":"https://tiny.example/bad","tenant":"tiny","filter":"1 +"}`,
		`{"url":"https://default.example/1"}`,
		`{"url":"https://tiny.example/2","tenant":"tiny"}`,
		`{"url":"https://tiny.example/3","tenant":"tiny"}`,
		`{"url":"https://default.example/2"}`,
		`{"url":"https://tiny.example/4","tenant":"tiny"}`)
	want := []int{201, 400, 201, 201, 409, 201, 409}
	for i, it := range a.Items {
		if it.Status != want[i] {
			t.Errorf("item %d: %d %+v, want %d", i, it.Status, it.Error, want[i])
		}
		if it.Status == 409 && (it.Error.Code != "quota_exceeded" || it.Error.Field != fmt.Sprintf("items[%d]", i) || !strings.Contains(it.Error.Message, "limits.max_endpoints 3")) {
			t.Errorf("item %d: %+v, want quota_exceeded naming the limit", i, it.Error)
		}
	}
	_, out := h.Do(t, http.MethodGet, "/v1/endpoints?tenant=tiny", nil)
	if n := strings.Count(string(out), `"tenant":"tiny"`); n != 3 {
		t.Fatalf("tiny has %d endpoints, want its quota of 3: %s", n, out)
	}
}

// A bulk request is one request for the API key's rate limit, however
// many items it has; the same endpoints one by one are refused 429.
func TestBulkCreateCountsOnceAgainstTheKeyRate(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true, APIKeyRateLimit: 2}) // burst 4
	items := make([]string, 50)
	for i := range items {
		items[i] = fmt.Sprintf(`{"url":"https://x.example/%d"}`, i)
	}
	if a := bulkCreate(t, h, "", items...); a.Created != 50 {
		t.Fatalf("created %d of 50", a.Created)
	}
	limited := false
	for i := 0; i < 50 && !limited; i++ {
		status, _ := h.Do(t, http.MethodPost, "/v1/endpoints", items[i])
		limited = status == http.StatusTooManyRequests
	}
	if !limited {
		t.Fatal("50 creates one by one at 2/s were never limited: the comparison shows nothing")
	}
}

// Items not begun within the request's time budget are answered 503
// not_attempted and leave nothing behind; sent again, they are created.
func TestBulkCreateItemsPastTheBudgetAreNotAttempted(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true})
	items := []string{`{"url":"https://x.example/1"}`, `{"url":"https://x.example/2","filter":"1 +"}`, `{"url":"https://x.example/3"}`}
	restore := httpapi.SetBulkBudget(0)
	a := bulkCreate(t, h, "", items...)
	restore()
	for i, want := range []struct {
		status int
		code   string
	}{{503, "not_attempted"}, {400, "invalid_field"}, {503, "not_attempted"}} {
		if it := a.Items[i]; it.Status != want.status || it.Error.Code != want.code {
			t.Errorf("item %d: %d %+v, want %d %s", i, it.Status, it.Error, want.status, want.code)
		}
	}
	if n := countEndpoints(t, h); n != 0 {
		t.Fatalf("%d endpoints exist after no item was attempted", n)
	}
	if a := bulkCreate(t, h, "", items[0], items[2]); a.Created != 2 {
		t.Fatalf("sent again: created %d of 2", a.Created)
	}
}

// POST /v1/endpoints/bulk's answers conform to the document: a mixed
// result (created, refused, over quota), and the refusals of the whole
// request.
func TestOpenAPIConformanceBulkCreate(t *testing.T) {
	c := newConformance(t, app.Config{NoRouter: true, NoWorker: true})
	_, publishKey := c.createKey(t, "publish")
	c.createTenant(t, `{"id":"one","limits":{"max_endpoints":1}}`)
	path := "/v1/endpoints/bulk"
	out := c.call(t, apiCall{method: "POST", path: path, want: 200, body: `{"items":[
		{"url":"https://x.example/a","events":["a.*"],"filter":"data.ok","headers":{"X-Key":"0123456789abcdef"}},
		{"url":"https://x.example/b","signing":"ed25519"},
		{"url":"https://one.example/1","tenant":"one"},
		{"url":"https://one.example/2","tenant":"one"}]}`})
	a := decodeJSON[bulkAnswer](t, out)
	if a.Created != 3 || a.Items[3].Status != 409 {
		t.Errorf("mixed request: %s", out)
	}
	// An item the document's EndpointCreate refuses is still a 200 whose
	// result is the item's error.
	out = c.call(t, apiCall{method: "POST", path: path, want: 200, request: reqInvalid, body: `{"items":[{"url":"https://x.example","filtr":"x"}]}`})
	if a := decodeJSON[bulkAnswer](t, out); a.Failed != 1 || a.Items[0].Error.Field != "items[0].filtr" {
		t.Errorf("bad item: %s", out)
	}
	wantError(t, c.call(t, apiCall{method: "POST", path: path, want: 400, request: reqInvalid, body: `{"items":[]}`}), "invalid_field", "items")
	wantError(t, c.call(t, apiCall{method: "POST", path: path, want: 400, request: reqInvalid, body: `{}`}), "invalid_field", "items")
	wantError(t, c.call(t, apiCall{method: "POST", path: path, want: 400, request: reqInvalid, body: `[{"url":"https://x.example"}]`}), "invalid_json", "")
	wantError(t, c.call(t, apiCall{method: "POST", path: path, want: 400, request: reqInvalid, body: `{"items":[{"url":"https://x.example"}],"x":1}`}), "invalid_field", "x")
	wantError(t, c.call(t, apiCall{method: "POST", path: path, want: 413, request: reqAny,
		body: `{"items":[{"url":"https://x.example","name":"` + strings.Repeat("n", 9<<20) + `"}]}`}), "too_large", "")
	c.call(t, apiCall{method: "POST", path: path, key: noKey, want: 401, request: reqInvalid, body: `{"items":[{"url":"https://x.example"}]}`})
	c.call(t, apiCall{method: "POST", path: path, key: publishKey, want: 403, body: `{"items":[{"url":"https://x.example"}]}`})
}
