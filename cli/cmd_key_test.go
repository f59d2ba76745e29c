package cli

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hookd/hookd/app"
)

func TestKeyCommands(t *testing.T) {
	t.Parallel()
	c := startCLI(t, app.Config{})

	k := c.json("key", "create", "--name", "ci", "--scope", "publish")
	id, _ := k["id"].(string)
	token, _ := k["key"].(string)
	if !strings.HasPrefix(id, "key_") || !strings.HasPrefix(token, "hk_") || k["scope"] != "publish" || k["name"] != "ci" {
		t.Fatalf("create: %v", k)
	}

	rows := columns(c.ok("key", "list"))
	if !reflect.DeepEqual(rows[0], []string{"ID", "NAME", "SCOPE", "TENANT", "CREATED", "EXPIRES"}) {
		t.Fatalf("list header %q", rows[0])
	}
	found := false
	for _, r := range rows[1:] {
		found = found || r[0] == id && r[1] == "ci" && r[2] == "publish" && r[3] == "-" && r[5] == "-"
	}
	if !found || strings.Contains(c.ok("key", "list"), token) {
		t.Fatalf("list: %q", rows)
	}
	if l := c.json("key", "list"); len(l["data"].([]any)) != len(rows)-1 {
		t.Fatalf("list -o json: %v", l)
	}

	// A publish key publishes, and nothing else.
	publisher := &cliServer{t: t, h: c.h, key: token}
	publisher.ok("event", "send", "a.b")
	publisher.fails(1, []string{"hookd: 403 forbidden: "}, "endpoint", "list")

	// The table shows the key once, with a warning on stderr; admin is the
	// default scope.
	r := c.run("key", "create")
	if r.code != 0 || !strings.Contains(r.err, "shown only this once") || !strings.HasPrefix(field(t, r.out, "key"), "hk_") || field(t, r.out, "scope") != "admin" ||
		field(t, r.out, "tenant") != "-" || field(t, r.out, "expires_at") != "-" {
		t.Fatalf("create table: %s", r)
	}

	if out := c.ok("key", "revoke", id); !strings.Contains(out, "revoked key "+id) {
		t.Fatalf("revoke: %q", out)
	}
	publisher.fails(1, []string{"hookd: 401 unauthorized: "}, "event", "send", "a.b")
	c.fails(1, []string{"hookd: 404 not_found"}, "key", "revoke", id)
	c.fails(1, []string{"hookd: 400 invalid_field scope: "}, "key", "create", "--scope", "root")
	c.fails(2, []string{"missing ID argument"}, "key", "revoke")
}
