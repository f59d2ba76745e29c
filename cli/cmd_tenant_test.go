package cli

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/internal/hookdtest"
)

// limitsOf returns a decoded tenant's limits.
func limitsOf(tn map[string]any) map[string]any {
	l, _ := tn["limits"].(map[string]any)
	if l == nil {
		l = map[string]any{}
	}
	return l
}

// rowsWith returns the rows of a table whose first cell is one of ids.
func rowsWith(table string, ids ...string) map[string][]string {
	out := map[string][]string{}
	for _, r := range columns(table)[1:] {
		for _, id := range ids {
			if len(r) > 0 && r[0] == id {
				out[id] = r
			}
		}
	}
	return out
}

// create, get, list, update (only the flags given), delete.
func TestTenantCommandsLifecycle(t *testing.T) {
	t.Parallel()
	c := startCLI(t, app.Config{})

	tn := c.json("tenant", "create", "acme", "--name", "Acme Corp", "--metadata", "plan=pro", "--metadata", "region=eu",
		"--max-endpoints", "10", "--events-per-second", "50")
	if tn["id"] != "acme" || tn["name"] != "Acme Corp" ||
		!reflect.DeepEqual(tn["metadata"], map[string]any{"plan": "pro", "region": "eu"}) ||
		!reflect.DeepEqual(limitsOf(tn), map[string]any{"max_endpoints": float64(10), "events_per_second": float64(50)}) {
		t.Fatalf("create: %v", tn)
	}
	// The table; a tenant with only an id is unlimited.
	out := c.ok("tenant", "create", "globex")
	if field(t, out, "id") != "globex" || field(t, out, "name") != "-" || field(t, out, "metadata") != "-" ||
		field(t, out, "max_endpoints") != "unlimited" || field(t, out, "events_per_second") != "unlimited" {
		t.Fatalf("create table:\n%s", out)
	}

	get := c.ok("tenant", "get", "acme")
	if field(t, get, "id") != "acme" || field(t, get, "name") != "Acme Corp" || field(t, get, "metadata") != "plan=pro, region=eu" ||
		field(t, get, "max_endpoints") != "10" || field(t, get, "events_per_second") != "50" || field(t, get, "created_at") == "" {
		t.Fatalf("get:\n%s", get)
	}
	if got := c.json("tenant", "get", "acme"); got["id"] != "acme" || got["name"] != "Acme Corp" {
		t.Fatalf("get -o json: %v", got)
	}

	// The default tenant always exists.
	list := c.ok("tenant", "list")
	if rows := columns(list); !reflect.DeepEqual(rows[0], []string{"ID", "NAME", "MAX_ENDPOINTS", "EVENTS_PER_SECOND", "CREATED"}) {
		t.Fatalf("list header: %q", rows[0])
	}
	rows := rowsWith(list, "acme", "globex", "default")
	if len(rows) != 3 || !reflect.DeepEqual(rows["acme"][:5], []string{"acme", "Acme", "Corp", "10", "50"}) ||
		!reflect.DeepEqual(rows["globex"][:4], []string{"globex", "-", "unlimited", "unlimited"}) {
		t.Fatalf("list: %q", columns(list))
	}
	if got := c.ok("tenant", "get", "default"); field(t, got, "id") != "default" || field(t, got, "max_endpoints") != "unlimited" {
		t.Fatalf("get default:\n%s", got)
	}
	if l := c.json("tenant", "list"); len(l["data"].([]any)) != 3 {
		t.Fatalf("list -o json: %v", l)
	}

	// Pages, ordered by id: acme, default, globex.
	first := c.json("tenant", "list", "--limit", "2")
	cursor, _ := first["next_cursor"].(string)
	if len(first["data"].([]any)) != 2 || first["has_more"] != true || cursor == "" {
		t.Fatalf("first page: %v", first)
	}
	second := c.json("tenant", "list", "--limit", "2", "--cursor", cursor)
	if data := second["data"].([]any); len(data) != 1 || second["has_more"] != false || data[0].(map[string]any)["id"] != "globex" {
		t.Fatalf("second page: %v", second)
	}
	if r := c.run("tenant", "list", "--limit", "2"); r.code != 0 || len(columns(r.out)) != 3 || !strings.Contains(r.err, "hookd tenant list --cursor "+cursor) {
		t.Fatalf("table page: %s", r)
	}

	// Only the flags given change.
	up := c.json("tenant", "update", "acme", "--name", "Acme Inc")
	if up["name"] != "Acme Inc" || !reflect.DeepEqual(up["metadata"], map[string]any{"plan": "pro", "region": "eu"}) ||
		!reflect.DeepEqual(limitsOf(up), map[string]any{"max_endpoints": float64(10), "events_per_second": float64(50)}) {
		t.Fatalf("update --name: %v", up)
	}
	// One limit keeps the other.
	up = c.json("tenant", "update", "acme", "--max-endpoints", "5")
	if !reflect.DeepEqual(limitsOf(up), map[string]any{"max_endpoints": float64(5), "events_per_second": float64(50)}) || up["name"] != "Acme Inc" {
		t.Fatalf("update --max-endpoints: %v", up)
	}
	up = c.json("tenant", "update", "--events-per-second", "2.5", "acme")
	if !reflect.DeepEqual(limitsOf(up), map[string]any{"max_endpoints": float64(5), "events_per_second": 2.5}) {
		t.Fatalf("update --events-per-second: %v", up)
	}
	// 0 is unlimited; --metadata '' clears.
	out = c.ok("tenant", "update", "acme", "--max-endpoints", "0", "--metadata", "")
	if field(t, out, "max_endpoints") != "unlimited" || field(t, out, "events_per_second") != "2.5" || field(t, out, "metadata") != "-" ||
		field(t, out, "name") != "Acme Inc" {
		t.Fatalf("update --max-endpoints 0 --metadata '':\n%s", out)
	}

	if out := c.ok("tenant", "delete", "globex"); !strings.Contains(out, "deleted tenant globex") {
		t.Fatalf("delete: %q", out)
	}
	c.fails(1, []string{"hookd: 404 not_found: ", "globex"}, "tenant", "get", "globex")
	c.fails(1, []string{"hookd: 404 not_found"}, "tenant", "delete", "globex")
	c.fails(1, []string{"hookd: 404 not_found"}, "tenant", "update", "globex", "--name", "x")
	if out := c.ok("tenant", "delete", "acme", "-o", "json"); out != "" {
		t.Fatalf("delete -o json printed %q", out)
	}
}

// Mistakes on the command line exit 2; the server's refusals exit 1 with
// its message.
func TestTenantCommandsErrors(t *testing.T) {
	t.Parallel()
	c := startCLI(t, app.Config{})
	c.ok("tenant", "create", "acme")

	c.fails(1, []string{"hookd: 409 conflict id: ", "acme"}, "tenant", "create", "acme")
	c.fails(1, []string{"hookd: 409 conflict"}, "tenant", "create", "default")
	c.fails(1, []string{"hookd: 409 conflict: ", "default"}, "tenant", "delete", "default")
	c.fails(1, []string{"hookd: 400 invalid_field id: "}, "tenant", "create", "no spaces")
	c.fails(1, []string{"hookd: 400 invalid_field id: "}, "tenant", "create", strings.Repeat("a", 65))
	c.fails(1, []string{"hookd: 404 not_found"}, "tenant", "get", "nobody")
	c.fails(1, []string{"hookd: 400 invalid_field limit: "}, "tenant", "list", "--limit", "999")
	c.fails(1, []string{"hookd: 400 invalid_field cursor: "}, "tenant", "list", "--cursor", "not a cursor")

	for _, cmd := range []string{"create", "get", "update", "delete", "portal-token"} {
		c.fails(2, []string{"missing ID argument", "hookd tenant " + cmd + " ID"}, "tenant", cmd)
	}
	c.fails(2, []string{"ID argument is empty"}, "tenant", "get", " ")
	c.fails(2, []string{`unexpected argument "globex"`}, "tenant", "create", "acme2", "globex")
	c.fails(2, []string{"nothing to update"}, "tenant", "update", "acme")
	c.fails(2, []string{"max-endpoints"}, "tenant", "create", "x", "--max-endpoints", "ten")
	c.fails(2, []string{"events-per-second"}, "tenant", "update", "acme", "--events-per-second", "fast")
	c.fails(2, []string{"metadata", "key=value"}, "tenant", "create", "x", "--metadata", "novalue")
	c.fails(2, []string{`unknown command "rename" for hookd tenant: one of create, list, get, update, delete, portal-token`}, "tenant", "rename")
	if r := runMain(nil, "tenant"); r.code != 2 || !strings.Contains(r.err, "hookd tenant portal-token ID [flags]") {
		t.Fatalf("hookd tenant: %s", r)
	}

	// The server's own checks of the limits.
	c.fails(1, []string{"hookd: 400 invalid_field limits"}, "tenant", "update", "acme", "--max-endpoints", "-1")
}

// A portal token is a tenant key that expires and cannot publish.
func TestTenantPortalToken(t *testing.T) {
	t.Parallel()
	c := startCLI(t, app.Config{})
	rc := hookdtest.NewReceiver(t)
	c.ok("tenant", "create", "acme")
	mine := c.createEndpoint("--url", rc.URL, "--tenant", "acme")
	theirs := c.createEndpoint("--url", rc.URL)

	before := time.Now()
	pt := c.json("tenant", "portal-token", "acme", "--ttl", "2h")
	token, _ := pt["token"].(string)
	exp, err := time.Parse(time.RFC3339Nano, pt["expires_at"].(string))
	if !strings.HasPrefix(token, "hk_") || pt["tenant"] != "acme" || err != nil ||
		exp.Before(before.Add(119*time.Minute)) || exp.After(time.Now().Add(121*time.Minute)) {
		t.Fatalf("portal-token --ttl 2h: %v (%v)", pt, err)
	}

	portal := &cliServer{t: t, h: c.h, key: token}
	if rows := columns(portal.ok("endpoint", "list")); len(rows) != 2 || rows[1][0] != mine || rows[1][1] != "acme" {
		t.Fatalf("portal endpoint list: %q", rows)
	}
	portal.fails(1, []string{"hookd: 404 not_found: ", theirs}, "endpoint", "get", theirs)
	portal.fails(1, []string{"hookd: 404 not_found"}, "event", "send", "a.b")
	portal.fails(1, []string{"hookd: 404 not_found"}, "tenant", "list")

	// The table, with a warning on stderr; the server's default ttl is 1h.
	r := c.run("tenant", "portal-token", "acme")
	if r.code != 0 || !strings.Contains(r.err, "shown only this once") || !strings.HasPrefix(field(t, r.out, "token"), "hk_") ||
		field(t, r.out, "tenant") != "acme" {
		t.Fatalf("portal-token table: %s", r)
	}
	if exp, err := time.Parse(time.RFC3339, field(t, r.out, "expires_at")); err != nil || exp.After(time.Now().Add(61*time.Minute)) || exp.Before(time.Now().Add(58*time.Minute)) {
		t.Fatalf("default ttl: expires_at %s (%v)", field(t, r.out, "expires_at"), err)
	}
	// It shows in the key list, with its tenant and expiry.
	var listed []string
	for _, row := range columns(c.ok("key", "list"))[1:] {
		if len(row) == 6 && row[2] == "tenant" && row[3] == "acme" && row[5] != "-" {
			listed = append(listed, row[0])
		}
	}
	if len(listed) != 2 {
		t.Fatalf("key list shows %d portal tokens of acme, want 2:\n%s", len(listed), c.ok("key", "list"))
	}

	c.fails(1, []string{"hookd: 400 invalid_field ttl: "}, "tenant", "portal-token", "acme", "--ttl", "1m")
	c.fails(1, []string{"hookd: 400 invalid_field ttl: "}, "tenant", "portal-token", "acme", "--ttl", "800h")
	c.fails(2, []string{"--ttl"}, "tenant", "portal-token", "acme", "--ttl", "a day")
	c.fails(1, []string{"hookd: 404 not_found"}, "tenant", "portal-token", "nobody")
}

// Endpoints and keys of tenants: endpoint create and list --tenant, a
// tenant-scoped key that sees only its tenant, and tenant delete taking
// both with it.
func TestTenantEndpointsAndKeys(t *testing.T) {
	t.Parallel()
	c := startCLI(t, app.Config{})
	rc := hookdtest.NewReceiver(t)
	c.ok("tenant", "create", "acme", "--max-endpoints", "2")
	c.ok("tenant", "create", "globex")

	ep := c.json("endpoint", "create", "--url", rc.URL, "--tenant", "acme", "--name", "A1")
	a1, _ := ep["id"].(string)
	if ep["tenant"] != "acme" || !strings.HasPrefix(a1, "ep_") {
		t.Fatalf("endpoint create --tenant acme: %v", ep)
	}
	g1 := c.createEndpoint("--url", rc.URL, "--tenant", "globex")
	d1 := c.createEndpoint("--url", rc.URL)
	if got := c.ok("endpoint", "get", g1); field(t, got, "tenant") != "globex" {
		t.Fatalf("endpoint get:\n%s", got)
	}

	all := rowsWith(c.ok("endpoint", "list"), a1, g1, d1)
	if len(all) != 3 || all[a1][1] != "acme" || all[g1][1] != "globex" || all[d1][1] != "default" {
		t.Fatalf("endpoint list: %q", all)
	}
	if rows := columns(c.ok("endpoint", "list", "--tenant", "acme")); len(rows) != 2 ||
		!reflect.DeepEqual(rows[1][:3], []string{a1, "acme", "A1"}) {
		t.Fatalf("endpoint list --tenant acme: %q", rows)
	}
	if l := c.json("endpoint", "list", "--tenant", "default"); len(l["data"].([]any)) != 1 {
		t.Fatalf("endpoint list --tenant default: %v", l)
	}
	// The next page keeps the tenant.
	c.createEndpoint("--url", rc.URL, "--tenant", "globex")
	if r := c.run("endpoint", "list", "--tenant", "globex", "--limit", "1"); r.code != 0 || !strings.Contains(r.err, "hookd endpoint list --tenant globex --cursor "+g1) {
		t.Fatalf("endpoint list --tenant globex --limit 1: %s", r)
	}

	// A tenant key: its own tenant only.
	k := c.json("key", "create", "--name", "acme-ci", "--scope", "tenant", "--tenant", "acme")
	token, _ := k["key"].(string)
	keyID, _ := k["id"].(string)
	if k["scope"] != "tenant" || k["tenant"] != "acme" || !strings.HasPrefix(token, "hk_") {
		t.Fatalf("key create --scope tenant: %v", k)
	}
	if row := rowsWith(c.ok("key", "list"), keyID)[keyID]; len(row) != 6 || !reflect.DeepEqual(row[1:4], []string{"acme-ci", "tenant", "acme"}) || row[5] != "-" {
		t.Fatalf("key list: %q", row)
	}
	acme := &cliServer{t: t, h: c.h, key: token}
	if rows := columns(acme.ok("endpoint", "list")); len(rows) != 2 || rows[1][0] != a1 {
		t.Fatalf("tenant key endpoint list: %q", rows)
	}
	if rows := columns(acme.ok("endpoint", "list", "--tenant", "globex")); len(rows) != 2 || rows[1][0] != a1 {
		t.Fatalf("tenant key endpoint list --tenant globex: %q", rows)
	}
	if got := acme.ok("endpoint", "get", a1); field(t, got, "tenant") != "acme" {
		t.Fatalf("tenant key endpoint get:\n%s", got)
	}
	// Another tenant's endpoint is not found, exactly like one that does not exist.
	acme.fails(1, []string{`hookd: 404 not_found: endpoint "` + g1 + `" not found`}, "endpoint", "get", g1)
	acme.fails(1, []string{"hookd: 404 not_found: ", d1}, "endpoint", "update", d1, "--name", "mine")
	acme.fails(1, []string{"hookd: 404 not_found: ", g1}, "endpoint", "delete", g1)
	acme.fails(1, []string{"hookd: 404 not_found"}, "endpoint", "create", "--url", rc.URL, "--tenant", "globex")
	acme.fails(1, []string{"hookd: 404 not_found"}, "tenant", "get", "acme")
	acme.fails(1, []string{"hookd: 404 not_found"}, "key", "list")
	// It creates in its own tenant; acme's limit of 2 endpoints applies.
	a2 := acme.json("endpoint", "create", "--url", rc.URL)
	if a2["tenant"] != "acme" {
		t.Fatalf("tenant key endpoint create: %v", a2)
	}
	acme.fails(1, []string{"hookd: 409 quota_exceeded: ", "acme"}, "endpoint", "create", "--url", rc.URL)
	c.fails(1, []string{"hookd: 409 quota_exceeded: "}, "endpoint", "create", "--url", rc.URL, "--tenant", "acme")

	// --tenant alone makes a tenant key; --scope tenant needs --tenant.
	if k := c.json("key", "create", "--tenant", "globex"); k["scope"] != "tenant" || k["tenant"] != "globex" {
		t.Fatalf("key create --tenant globex: %v", k)
	}
	c.fails(2, []string{"--scope tenant needs --tenant"}, "key", "create", "--scope", "tenant")
	c.fails(1, []string{"hookd: 400 invalid_field tenant: "}, "key", "create", "--scope", "publish", "--tenant", "globex")
	c.fails(1, []string{"hookd: 400 invalid_field tenant"}, "key", "create", "--tenant", "nobody")
	c.fails(1, []string{"hookd: 400 invalid_field tenant: "}, "endpoint", "create", "--url", rc.URL, "--tenant", "nobody")
	c.fails(2, []string{"-tenant"}, "endpoint", "update", a1, "--name", "x", "--tenant", "globex") // an endpoint stays with its tenant

	// Deleting a tenant takes its endpoints and keys with it.
	c.ok("tenant", "delete", "acme")
	c.fails(1, []string{"hookd: 404 not_found"}, "endpoint", "get", a1)
	acme.fails(1, []string{"hookd: 401 unauthorized"}, "endpoint", "list")
	c.ok("endpoint", "get", g1)
}

// event send --tenant reaches only that tenant's endpoints; without it,
// only the default tenant's.
func TestEventSendTenant(t *testing.T) {
	t.Parallel()
	c := startCLI(t, app.Config{})
	acmeRC, defaultRC := hookdtest.NewReceiver(t), hookdtest.NewReceiver(t)
	c.ok("tenant", "create", "acme")
	acmeEP := c.createEndpoint("--url", acmeRC.URL, "--tenant", "acme", "--event", "order.*")
	defaultEP := c.createEndpoint("--url", defaultRC.URL, "--event", "order.*")

	if acc := c.json("event", "send", "order.created", "--tenant", "acme", "--id", "acme-1", "--data", `{"n":1}`); acc["id"] != "acme-1" {
		t.Fatalf("send --tenant acme: %v", acc)
	}
	c.ok("event", "send", "order.created", "--id", "plain-1")
	hookdtest.WaitFor(t, 10*time.Second, "both events delivered", func() bool {
		return acmeRC.CountByID()["acme-1"] == 1 && defaultRC.CountByID()["plain-1"] == 1
	})
	c.h.WaitIdle(t, acmeEP, defaultEP)
	if acmeRC.Count() != 1 || defaultRC.Count() != 1 {
		t.Fatalf("acme got %v, default got %v", acmeRC.CountByID(), defaultRC.CountByID())
	}

	// Event ids are per tenant: an admin names the tenant.
	var ev map[string]any
	hookdtest.WaitFor(t, 10*time.Second, "acme-1 routed", func() bool {
		r := c.run("event", "get", "acme-1", "--tenant", "acme", "-o", "json")
		ev = nil
		_ = json.Unmarshal([]byte(r.out), &ev)
		routed, _ := ev["routed_to"].([]any)
		return r.code == 0 && len(routed) == 1
	})
	if ev["tenant"] != "acme" || ev["routed_to"].([]any)[0].(map[string]any)["endpoint_id"] != acmeEP {
		t.Fatalf("event get --tenant acme -o json: %v", ev)
	}
	if out := c.ok("event", "get", "--tenant", "acme", "acme-1"); field(t, out, "tenant") != "acme" || !strings.Contains(out, acmeEP) {
		t.Fatalf("event get --tenant acme:\n%s", out)
	}
	c.fails(1, []string{"hookd: 404 not_found: ", "acme-1"}, "event", "get", "acme-1")
	if out := c.ok("event", "get", "plain-1"); field(t, out, "tenant") != "default" || !strings.Contains(out, defaultEP) {
		t.Fatalf("event get plain-1:\n%s", out)
	}

	// A tenant key (not a portal token) publishes for its own tenant.
	k := c.json("key", "create", "--tenant", "acme")
	acme := &cliServer{t: t, h: c.h, key: k["key"].(string)}
	acme.ok("event", "send", "order.paid", "--id", "acme-2")
	hookdtest.WaitFor(t, 10*time.Second, "the tenant key's event delivered", func() bool { return acmeRC.CountByID()["acme-2"] == 1 })
	c.h.WaitIdle(t, acmeEP, defaultEP)
	if defaultRC.Count() != 1 {
		t.Fatalf("default got %v", defaultRC.CountByID())
	}
	acme.fails(1, []string{"hookd: 404 not_found"}, "event", "send", "order.paid", "--tenant", "default")
	if out := acme.ok("event", "get", "acme-2"); field(t, out, "tenant") != "acme" {
		t.Fatalf("tenant key event get:\n%s", out)
	}
	acme.fails(1, []string{"hookd: 404 not_found"}, "event", "get", "plain-1")

	c.fails(1, []string{"hookd: 400 invalid_field tenant"}, "event", "send", "order.created", "--tenant", "bad tenant!")
	c.fails(1, []string{"hookd: 400 invalid_field tenant: "}, "event", "send", "order.created", "--tenant", "nobody")

	// Over its events_per_second, a tenant's events are refused with the
	// server's message. A bucket of one event, refilled every 2s: five
	// sends in a row cannot all pass.
	c.ok("tenant", "create", "slow", "--events-per-second", "0.5")
	var refused result
	for i := 0; i < 5 && refused.code == 0; i++ {
		refused = c.run("event", "send", "tick", "--tenant", "slow")
	}
	wantFail(t, refused, 1, []string{"hookd: 429 limit_exceeded: ", "slow"}, nil)
}
