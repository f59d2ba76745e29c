package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/internal/hookdtest"
)

// create, get, list, secret, update (only the flags given), delete.
func TestEndpointCommandsLifecycle(t *testing.T) {
	t.Parallel()
	c := startCLI(t, app.Config{})
	rc := hookdtest.NewReceiver(t)
	secret := endpoint.NewSecret()

	ep := c.json("endpoint", "create", "--url", rc.URL, "--event", "order.*", "--event", "billing.>",
		"--filter", "data.total > 100", "--secret", secret)
	id, _ := ep["id"].(string)
	if !strings.HasPrefix(id, "ep_") || ep["url"] != rc.URL || ep["secret"] != secret || ep["filter"] != "data.total > 100" ||
		!reflect.DeepEqual(strs(ep["events"]), []string{"order.*", "billing.>"}) {
		t.Fatalf("created %v", ep)
	}

	get := c.ok("endpoint", "get", id)
	if field(t, get, "id") != id || field(t, get, "tenant") != "default" || field(t, get, "url") != rc.URL || field(t, get, "events") != "order.*,billing.>" ||
		field(t, get, "filter") != "data.total > 100" || field(t, get, "enabled") != "true" {
		t.Fatalf("get:\n%s", get)
	}
	if strings.Contains(get, secret) {
		t.Fatalf("get shows the secret:\n%s", get)
	}
	if got := c.json("endpoint", "get", id); got["id"] != id || got["secret"] != nil {
		t.Fatalf("get -o json: %v", got)
	}
	if field(t, c.ok("endpoint", "secret", id), "secret") != secret {
		t.Fatal("endpoint secret does not show the secret")
	}
	if got := c.json("endpoint", "secret", id); got["secret"] != secret {
		t.Fatalf("secret -o json: %v", got)
	}

	rows := columns(c.ok("endpoint", "list"))
	if !reflect.DeepEqual(rows[0], []string{"ID", "TENANT", "NAME", "URL", "EVENTS", "ENABLED"}) || len(rows) != 2 ||
		!reflect.DeepEqual(rows[1], []string{id, "default", "-", rc.URL, "order.*,billing.>", "true"}) {
		t.Fatalf("list: %q", rows)
	}
	if l := c.json("endpoint", "list"); len(l["data"].([]any)) != 1 {
		t.Fatalf("list -o json: %v", l)
	}

	// Only the flags given are sent: events and url stay.
	up := c.json("endpoint", "update", id, "--filter", "data.total > 200")
	if up["filter"] != "data.total > 200" || up["url"] != rc.URL || !reflect.DeepEqual(strs(up["events"]), []string{"order.*", "billing.>"}) {
		t.Fatalf("update --filter: %v", up)
	}
	// Flags may come before the id; --event '' clears the patterns.
	up = c.json("endpoint", "update", "--event", "", "--url", rc.URL+"/v2", id)
	if up["url"] != rc.URL+"/v2" || len(strs(up["events"])) != 0 || up["filter"] != "data.total > 200" {
		t.Fatalf("update --event '' --url: %v", up)
	}
	if got := c.ok("endpoint", "get", id); field(t, got, "events") != "* (every type)" {
		t.Fatalf("cleared events:\n%s", got)
	}

	if out := c.ok("endpoint", "delete", id); !strings.Contains(out, "deleted endpoint "+id) {
		t.Fatalf("delete: %q", out)
	}
	c.fails(1, []string{"hookd: 404 not_found: ", id}, "endpoint", "get", id)
	c.fails(1, []string{"hookd: 404 not_found"}, "endpoint", "delete", id)
	if out := c.ok("endpoint", "delete", c.createEndpoint("--url", rc.URL), "-o", "json"); out != "" {
		t.Fatalf("delete -o json printed %q", out)
	}
}

// name, description, headers (masked), timeout, metadata, enabled: create
// sends them, update sends only those given.
func TestEndpointCommandsFields(t *testing.T) {
	t.Parallel()
	c := startCLI(t, app.Config{})
	rc := hookdtest.NewReceiver(t)

	ep := c.json("endpoint", "create", "--url", rc.URL, "--name", "Billing", "--description", "Invoices to the ledger",
		"--header", "Authorization: Bearer token-0123456789", "--header", "X-Tenant:acme",
		"--timeout", "30s", "--metadata", "team=payments", "--metadata", "tier=gold", "--disabled")
	id := ep["id"].(string)
	wantHeaders := map[string]any{"Authorization": "Bear****", "X-Tenant": "****"}
	if ep["name"] != "Billing" || ep["description"] != "Invoices to the ledger" || ep["timeout"] != "30s" || ep["enabled"] != false ||
		!reflect.DeepEqual(ep["headers"], wantHeaders) ||
		!reflect.DeepEqual(ep["metadata"], map[string]any{"team": "payments", "tier": "gold"}) {
		t.Fatalf("created %v", ep)
	}
	get := c.ok("endpoint", "get", id)
	if field(t, get, "name") != "Billing" || field(t, get, "description") != "Invoices to the ledger" ||
		field(t, get, "headers") != "Authorization: Bear****, X-Tenant: ****" || field(t, get, "timeout") != "30s" ||
		field(t, get, "metadata") != "team=payments, tier=gold" || field(t, get, "enabled") != "false" {
		t.Fatalf("get:\n%s", get)
	}
	if rows := columns(c.ok("endpoint", "list")); !reflect.DeepEqual(rows[1], []string{id, "default", "Billing", rc.URL, "*", "false"}) {
		t.Fatalf("list: %q", rows)
	}

	up := c.json("endpoint", "update", id, "--name", "Ledger")
	if up["name"] != "Ledger" || up["description"] != "Invoices to the ledger" || up["timeout"] != "30s" || up["enabled"] != false ||
		!reflect.DeepEqual(up["headers"], wantHeaders) {
		t.Fatalf("update --name: %v", up)
	}
	up = c.json("endpoint", "update", id, "--disabled=false", "--timeout", "", "--metadata", "")
	if md, _ := up["metadata"].(map[string]any); up["enabled"] != true || up["timeout"] != "" || len(md) != 0 || up["name"] != "Ledger" {
		t.Fatalf("update --disabled=false --timeout '' --metadata '': %v", up)
	}
	if got := c.ok("endpoint", "get", id); field(t, got, "timeout") != "default" || field(t, got, "metadata") != "-" {
		t.Fatalf("after clearing:\n%s", got)
	}
	up = c.json("endpoint", "update", id, "--disabled")
	if up["enabled"] != false {
		t.Fatalf("update --disabled: %v", up)
	}

	// The server's validation comes back as its message.
	c.fails(1, []string{"hookd: 400 invalid_field headers.Content-Type: "}, "endpoint", "update", id, "--header", "Content-Type: text/plain")
	c.fails(1, []string{"hookd: 400 invalid_field timeout: "}, "endpoint", "update", id, "--timeout", "1h")
}

func TestEndpointCommandsEnableDisable(t *testing.T) {
	t.Parallel()
	c := startCLI(t, app.Config{})
	rc := hookdtest.NewReceiver(t)
	id := c.createEndpoint("--url", rc.URL)

	if got := c.ok("endpoint", "disable", id); field(t, got, "enabled") != "false" {
		t.Fatalf("disable:\n%s", got)
	}
	if rows := columns(c.ok("endpoint", "list")); rows[1][len(rows[1])-1] != "false" {
		t.Fatalf("list after disable: %q", rows)
	}
	if got := c.json("endpoint", "enable", id); got["enabled"] != true || got["id"] != id {
		t.Fatalf("enable -o json: %v", got)
	}
	c.fails(1, []string{"hookd: 404 not_found"}, "endpoint", "enable", "ep_00000000000000000000000000")
	c.fails(2, []string{"missing ID argument"}, "endpoint", "disable")
}

func TestEndpointCommandsListPages(t *testing.T) {
	t.Parallel()
	c := startCLI(t, app.Config{})
	rc := hookdtest.NewReceiver(t)
	var ids []string
	for range 3 {
		ids = append(ids, c.createEndpoint("--url", rc.URL))
	}

	first := c.json("endpoint", "list", "--limit", "2")
	cursor, _ := first["next_cursor"].(string)
	if len(first["data"].([]any)) != 2 || first["has_more"] != true || cursor == "" {
		t.Fatalf("first page: %v", first)
	}
	second := c.json("endpoint", "list", "--limit", "2", "--cursor", cursor)
	data := second["data"].([]any)
	if len(data) != 1 || second["has_more"] != false || second["next_cursor"] != "" || data[0].(map[string]any)["id"] != ids[2] {
		t.Fatalf("second page: %v", second)
	}

	// The table says how to get the next page, on stderr.
	r := c.run("endpoint", "list", "--limit", "2")
	if r.code != 0 || len(columns(r.out)) != 3 || !strings.Contains(r.err, "--cursor "+cursor) {
		t.Fatalf("table page: %s", r)
	}
	if r := c.run("endpoint", "list", "--cursor", cursor); r.code != 0 || strings.Contains(r.err, "--cursor") || len(columns(r.out)) != 2 {
		t.Fatalf("last table page: %s", r)
	}

	c.fails(1, []string{"hookd: 400 invalid_field cursor: "}, "endpoint", "list", "--cursor", "nonsense")
	c.fails(1, []string{"hookd: 400 invalid_field limit: "}, "endpoint", "list", "--limit", "999")
	c.fails(2, []string{"limit"}, "endpoint", "list", "--limit", "many")
}

func TestEndpointCommandsRotateSecret(t *testing.T) {
	t.Parallel()
	c := startCLI(t, app.Config{})
	rc := hookdtest.NewReceiver(t)
	ep := c.json("endpoint", "create", "--url", rc.URL)
	id, old := ep["id"].(string), ep["secret"].(string)

	before := time.Now()
	rot := c.json("endpoint", "rotate-secret", id, "--grace", "1h")
	next, _ := rot["secret"].(string)
	if !strings.HasPrefix(next, "whsec_") || next == old {
		t.Fatalf("rotate: %v", rot)
	}
	exp, err := time.Parse(time.RFC3339Nano, rot["previous_secret_expires_at"].(string))
	if err != nil || exp.Before(before.Add(59*time.Minute)) || exp.After(time.Now().Add(61*time.Minute)) {
		t.Fatalf("previous secret expires at %v (%v)", rot["previous_secret_expires_at"], err)
	}
	if got := c.json("endpoint", "secret", id); got["secret"] != next {
		t.Fatalf("secret after rotate: %v", got)
	}

	out := c.ok("endpoint", "rotate-secret", id, "--grace", "0s")
	if s := field(t, out, "secret"); s == next || !strings.HasPrefix(s, "whsec_") || field(t, out, "previous_secret_expires_at") != "-" {
		t.Fatalf("rotate --grace 0s:\n%s", out)
	}
	c.fails(2, []string{"--grace"}, "endpoint", "rotate-secret", id, "--grace", "a day")
	c.fails(1, []string{"hookd: 400 invalid_field grace_period: "}, "endpoint", "rotate-secret", id, "--grace", "9999h")

	// Switching to ed25519 shows the public key, never the secret key.
	out = c.ok("endpoint", "rotate-secret", id, "--signing", "ed25519")
	if field(t, out, "signing") != "ed25519" || !strings.HasPrefix(field(t, out, "public_key"), "whpk_") || strings.Contains(out, "whsk_") {
		t.Fatalf("rotate --signing ed25519:\n%s", out)
	}
	if out := c.ok("endpoint", "secret", id); !strings.HasPrefix(field(t, out, "public_key"), "whpk_") {
		t.Fatalf("secret of an ed25519 endpoint:\n%s", out)
	}
	c.fails(1, []string{"hookd: 400 invalid_field signing: "}, "endpoint", "rotate-secret", id, "--signing", "rsa")
	created := c.ok("endpoint", "create", "--url", rc.URL, "--signing", "ed25519")
	if !strings.HasPrefix(field(t, created, "public_key"), "whpk_") || strings.Contains(created, "whsk_") {
		t.Fatalf("create --signing ed25519:\n%s", created)
	}
	c.fails(2, []string{"rotate-secret"}, "endpoint", "update", id, "--signing", "hmac-sha256")
}

func TestEndpointCommandsTest(t *testing.T) {
	t.Parallel()
	c := startCLI(t, app.Config{})
	rc := hookdtest.NewReceiver(t)
	id := c.createEndpoint("--url", rc.URL, "--header", "X-Token: secret-value-123", "--event", "never.*")

	out := c.ok("endpoint", "test", id, "--event-type", "ping.test", "--data", `{"hello":"world"}`)
	if field(t, out, "succeeded") != "true" || field(t, out, "status_code") != "200" || field(t, out, "error") != "-" {
		t.Fatalf("test:\n%s", out)
	}
	reqs := rc.Requests()
	if len(reqs) != 1 || !strings.Contains(string(reqs[0].Body), `"type":"ping.test"`) || !strings.Contains(string(reqs[0].Body), `"hello":"world"`) ||
		reqs[0].Header.Get("X-Token") != "secret-value-123" || reqs[0].Header.Get("Webhook-Signature") == "" {
		t.Fatalf("receiver got %+v", reqs)
	}

	// Data from a file; the default event type.
	file := writeFile(t, "data.json", `{"from":"file"}`)
	res := c.json("endpoint", "test", id, "--data", "@"+file)
	if res["succeeded"] != true || res["status_code"] != float64(200) {
		t.Fatalf("test -o json: %v", res)
	}
	if body := string(rc.Requests()[1].Body); !strings.Contains(body, `"type":"hookd.test"`) || !strings.Contains(body, `"from":"file"`) {
		t.Fatalf("second test delivery: %s", body)
	}

	// A failed attempt is a result, not a failure of the command.
	rc.SetRespond(func(int, hookdtest.Request) int { return 503 })
	out = c.ok("endpoint", "test", id)
	if field(t, out, "succeeded") != "false" || field(t, out, "status_code") != "503" {
		t.Fatalf("failing test:\n%s", out)
	}

	c.fails(2, []string{"--data", "not valid JSON"}, "endpoint", "test", id, "--data", "{nope")
	c.fails(2, []string{"--data", "missing.json"}, "endpoint", "test", id, "--data", "@missing.json")
	c.fails(1, []string{"hookd: 400 invalid_field event_type: "}, "endpoint", "test", id, "--event-type", "a.*")
}

func TestEndpointCommandsTestFilter(t *testing.T) {
	t.Parallel()
	c := startCLI(t, app.Config{})
	rc := hookdtest.NewReceiver(t)
	id := c.createEndpoint("--url", rc.URL, "--event", "order.*", "--filter", "data.total > 100")

	big := writeFile(t, "big.json", `{"type":"order.paid","data":{"total":150}}`)
	small := writeFile(t, "small.json", `{"type":"order.paid","data":{"total":50}}`)
	other := writeFile(t, "other.json", `{"type":"user.created","data":{"total":150}}`)
	if got := c.ok("endpoint", "test-filter", id, "--event", big); field(t, got, "matched") != "true" {
		t.Fatalf("big order:\n%s", got)
	}
	if got := c.json("endpoint", "test-filter", id, "--event", small); got["matched"] != false {
		t.Fatalf("small order: %v", got)
	}
	if got := c.ok("endpoint", "test-filter", id, "--event", other); field(t, got, "matched") != "false" {
		t.Fatalf("other type:\n%s", got)
	}
	c.fails(2, []string{"--event"}, "endpoint", "test-filter", id)
	c.fails(2, []string{"--event", "JSON object"}, "endpoint", "test-filter", id, "--event", writeFile(t, "bad.json", `[1]`))
}

// Mistakes on the command line exit 2 and name the flag or argument; the
// server's refusals exit 1 with its message.
func TestEndpointCommandsErrors(t *testing.T) {
	t.Parallel()
	c := startCLI(t, app.Config{})

	c.fails(1, []string{"hookd: 400 invalid_field filter: invalid filter: "}, "endpoint", "create", "--url", "http://127.0.0.1:9/", "--filter", "data.x ==")
	c.fails(1, []string{"hookd: 400 invalid_field url: "}, "endpoint", "create", "--url", "ftp://example.com/")
	c.fails(1, []string{"hookd: 400 invalid_field events[0]: "}, "endpoint", "create", "--url", "http://127.0.0.1:9/", "--event", "a..b")
	c.fails(2, []string{"--url is required"}, "endpoint", "create", "--event", "a.*")
	c.fails(2, []string{"bogus"}, "endpoint", "create", "--url", "http://127.0.0.1:9/", "--bogus")
	c.fails(2, []string{"missing ID argument", "hookd endpoint get ID"}, "endpoint", "get")
	c.fails(2, []string{`unexpected argument "two"`}, "endpoint", "get", "one", "two")
	c.fails(2, []string{"ID argument is empty"}, "endpoint", "get", "")
	c.fails(2, []string{"nothing to update"}, "endpoint", "update", "ep_00000000000000000000000000")
	c.fails(2, []string{"rotate-secret"}, "endpoint", "update", "ep_00000000000000000000000000", "--secret", endpoint.NewSecret())
	c.fails(2, []string{"header", "'Name: value'"}, "endpoint", "create", "--url", "http://127.0.0.1:9/", "--header", "no-colon")
	c.fails(2, []string{"metadata", "key=value"}, "endpoint", "create", "--url", "http://127.0.0.1:9/", "--metadata", "novalue")
	c.fails(2, []string{"--timeout"}, "endpoint", "create", "--url", "http://127.0.0.1:9/", "--timeout", "soon")
	c.fails(2, []string{"-o must be table or json"}, "endpoint", "list", "-o", "yaml")
	c.fails(2, []string{`unknown command "frobnicate" for hookd endpoint`}, "endpoint", "frobnicate")
	c.fails(1, []string{"hookd: 404 not_found"}, "endpoint", "update", "ep_00000000000000000000000000", "--name", "x")

	// Keys: none, wrong.
	noKey := wantFail(t, runMain(nil, "endpoint", "list", "--server", c.h.URL), 1,
		[]string{"hookd: 401 unauthorized: missing or invalid API key", "HOOKD_API_KEY"}, nil)
	if noKey.out != "" {
		t.Fatalf("printed on stdout: %q", noKey.out)
	}
	wantFail(t, runMain(nil, "endpoint", "list", "--server", c.h.URL, "--api-key", "hk_wrong"), 1,
		[]string{"hookd: 401 unauthorized: missing or invalid API key"}, nil)

	// The server: unreachable, not a URL.
	wantFail(t, runMain(nil, "endpoint", "list", "--server", "http://127.0.0.1:1", "--api-key", "k"), 1, []string{"hookd: cannot reach hookd at http://127.0.0.1:1"}, nil)
	wantFail(t, runMain(nil, "endpoint", "list", "--server", "ftp://127.0.0.1:1"), 2, []string{"--server"}, nil)
}

// --server and --api-key come from HOOKD_SERVER and HOOKD_API_KEY; flags
// win; a command's own flags ignore the serve flags' variables of the same
// name (HOOKD_TIMEOUT, HOOKD_DATA).
func TestClientCommandsEnvironment(t *testing.T) {
	t.Parallel()
	c := startCLI(t, app.Config{})
	rc := hookdtest.NewReceiver(t)
	vars := map[string]string{
		"HOOKD_SERVER":  strings.TrimPrefix(c.h.URL, "http://"), // the scheme is optional
		"HOOKD_API_KEY": hookdtest.AdminKey,
		"HOOKD_TIMEOUT": "forever",
		"HOOKD_DATA":    "/var/lib/hookd",
		"HOOKD_URL":     "http://elsewhere/",
	}
	r := runMain(vars, "endpoint", "create", "--url", rc.URL, "-o", "json")
	if r.code != 0 || !strings.Contains(r.out, `"timeout": ""`) || !strings.Contains(r.out, rc.URL) {
		t.Fatalf("create from the environment: %s", r)
	}
	if r := runMain(vars, "event", "send", "a.b"); r.code != 0 {
		t.Fatalf("event send with HOOKD_DATA set: %s", r)
	}
	wantFail(t, runMain(vars, "endpoint", "list", "--api-key", "hk_wrong"), 1, []string{"401 unauthorized"}, nil)
	wantFail(t, runMain(map[string]string{"HOOKD_SERVER": "ftp://x"}, "endpoint", "list"), 2, []string{"--server"}, nil)
}

func TestEndpointRetryFlags(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true})
	var out, errOut bytes.Buffer
	code := Main([]string{"endpoint", "create", "--server", h.URL, "--api-key", hookdtest.AdminKey, "--url", "https://x.example",
		"--retry-schedule", "1s,30s", "--max-attempts", "4", "-o", "json"}, &out, &errOut, func(string) string { return "" })
	if code != 0 || !strings.Contains(out.String(), `"max_attempts": 4`) || !strings.Contains(out.String(), `"30s"`) {
		t.Fatalf("exit %d: %s %s", code, out.String(), errOut.String())
	}
	errOut.Reset()
	code = Main([]string{"endpoint", "create", "--server", h.URL, "--api-key", hookdtest.AdminKey, "--url", "https://x.example",
		"--retry-schedule", "1s,soon"}, &out, &errOut, func(string) string { return "" })
	if code != 2 || !strings.Contains(errOut.String(), "retry-schedule") {
		t.Fatalf("bad schedule: exit %d, %s", code, errOut.String())
	}
}

// The delivery policy flags go through, and get shows the policy.
func TestEndpointPolicyFlags(t *testing.T) {
	t.Parallel()
	c := startCLI(t, app.Config{NoRouter: true, NoWorker: true})
	ep := c.json("endpoint", "create", "--url", "https://x.example", "--ordering", "ordered", "--ordering-key", "data.order_id",
		"--rate-limit", "20", "--retry-schedule", "1s,30s", "--max-attempts", "4", "--profile", "standard")
	id, _ := ep["id"].(string)
	if ep["ordering"] != "ordered" || ep["ordering_key"] != "data.order_id" || ep["rate_limit"] != 20.0 {
		t.Fatalf("created %v", ep)
	}
	get := c.ok("endpoint", "get", id)
	for name, want := range map[string]string{
		"ordering": "ordered by data.order_id", "limits": "20/s", "retry": "1s,30s, at most 4 attempts", "profile": "standard",
	} {
		if got := field(t, get, name); got != want {
			t.Errorf("get shows %s %q, want %q:\n%s", name, got, want, get)
		}
	}
	c.fails(1, []string{"ordering", "cannot be changed"}, "endpoint", "update", id, "--ordering", "none")
	plain := c.ok("endpoint", "get", c.createEndpoint("--url", "https://y.example", "--max-in-flight", "3"))
	if field(t, plain, "ordering") != "none" || field(t, plain, "limits") != "3 in flight" || field(t, plain, "retry") != "default" {
		t.Fatalf("plain endpoint:\n%s", plain)
	}
}

// --format, --transform (inline or @file) and --sample-event go through;
// get shows them; a transform refused by the server names the field.
func TestEndpointFormatFlags(t *testing.T) {
	t.Parallel()
	c := startCLI(t, app.Config{NoRouter: true, NoWorker: true})
	slack := c.ok("endpoint", "get", c.createEndpoint("--url", "https://hooks.slack.example/x", "--format", "slack"))
	if field(t, slack, "format") != "slack" || field(t, slack, "transform") != "-" {
		t.Fatalf("slack endpoint:\n%s", slack)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "transform.expr")
	if err := os.WriteFile(src, []byte(`{"order": data.order.id, "type": type}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sample := filepath.Join(dir, "sample.json")
	if err := os.WriteFile(sample, []byte(`{"type":"order.paid","data":{"order":{"id":"o1"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// Without a sample shaped like the events, hookd's own sample has no data.order.
	c.fails(1, []string{"transform", "sample_event"}, "endpoint", "create", "--url", "https://x.example", "--format", "transform", "--transform", "@"+src)
	ep := c.json("endpoint", "create", "--url", "https://x.example", "--format", "transform", "--transform", "@"+src, "--sample-event", sample)
	if ep["format"] != "transform" || ep["transform"] != `{"order": data.order.id, "type": type}` {
		t.Fatalf("created %v", ep)
	}
	id, _ := ep["id"].(string)
	c.fails(1, []string{"transform", "invalid transform"}, "endpoint", "update", id, "--transform", `{"a": data.`, "--sample-event", sample)
	raw := c.json("endpoint", "update", id, "--format", "raw")
	if raw["format"] != "raw" || raw["transform"] != "" {
		t.Fatalf("leaving the transform format keeps the transform: %v", raw)
	}
	c.fails(2, []string{"--sample-event"}, "endpoint", "update", id, "--sample-event", filepath.Join(dir, "missing.json"))
}

// The batch flags go through, update merges them, --no-batch turns
// batching off, and get shows it.
func TestEndpointBatchFlags(t *testing.T) {
	t.Parallel()
	c := startCLI(t, app.Config{NoRouter: true, NoWorker: true})
	ep := c.json("endpoint", "create", "--url", "https://x.example", "--batch-max-events", "50", "--batch-field", "runs")
	id, _ := ep["id"].(string)
	if b, _ := ep["batch"].(map[string]any); b["max_events"] != 50.0 || b["max_wait"] != "10s" || b["field"] != "runs" {
		t.Fatalf("created %v", ep)
	}
	c.ok("endpoint", "update", id, "--batch-max-wait", "1m")
	if got := field(t, c.ok("endpoint", "get", id), "batch"); got != "up to 50 events or 1m0s, as runs" {
		t.Fatalf("get shows batch %q", got)
	}
	c.fails(1, []string{"batch.max_events"}, "endpoint", "update", id, "--batch-max-events", "5000")
	c.fails(2, []string{"batch-max-wait"}, "endpoint", "update", id, "--batch-max-wait", "soon")
	c.fails(2, []string{"--no-batch"}, "endpoint", "update", id, "--no-batch", "--batch-field", "x")
	c.ok("endpoint", "update", id, "--no-batch")
	if got := field(t, c.ok("endpoint", "get", id), "batch"); got != "-" {
		t.Fatalf("get shows batch %q after --no-batch", got)
	}
}
