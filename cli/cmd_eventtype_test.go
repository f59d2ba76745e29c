package cli

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hookd/hookd/app"
)

// create (from files), get, list, update (only the flags given, null
// removes), delete; and what the server refuses.
func TestEventTypeCommands(t *testing.T) {
	t.Parallel()
	c := startCLI(t, app.Config{NoRouter: true, NoWorker: true})
	schema := writeFile(t, "order.json", `{"type":"object","required":["amount"],"properties":{"amount":{"type":"number"}}}`)
	example := writeFile(t, "example.json", `{"amount": 42}`)

	et := c.json("event-type", "create", "--name", "order.created", "--description", "An order was placed", "--schema", "@"+schema, "--example", "@"+example)
	if et["name"] != "order.created" || et["description"] != "An order was placed" ||
		!reflect.DeepEqual(et["example"], map[string]any{"amount": float64(42)}) || et["schema"].(map[string]any)["type"] != "object" {
		t.Fatalf("create: %v", et)
	}
	out := c.ok("event-type", "create", "--name", "user.signed_up", "--example", `{"email":"a@example.com"}`)
	if field(t, out, "name") != "user.signed_up" || field(t, out, "schema") != "null" || field(t, out, "description") != "-" ||
		field(t, out, "example") != `{"email":"a@example.com"}` {
		t.Fatalf("create table:\n%s", out)
	}

	get := c.ok("event-type", "get", "order.created")
	if field(t, get, "description") != "An order was placed" || field(t, get, "schema") != `{"type":"object","required":["amount"],"properties":{"amount":{"type":"number"}}}` ||
		field(t, get, "example") != `{"amount":42}` || field(t, get, "created_at") == "" {
		t.Fatalf("get:\n%s", get)
	}

	list := c.ok("event-type", "list")
	rows := columns(list)
	if !reflect.DeepEqual(rows[0], []string{"NAME", "SCHEMA", "EXAMPLE", "UPDATED", "DESCRIPTION"}) || len(rows) != 3 ||
		!reflect.DeepEqual(rows[1][:3], []string{"order.created", "true", "true"}) || !reflect.DeepEqual(rows[2][:3], []string{"user.signed_up", "false", "true"}) {
		t.Fatalf("list: %q", rows)
	}
	page := c.json("event-type", "list", "--limit", "1")
	if page["has_more"] != true || page["next_cursor"] != "order.created" {
		t.Fatalf("list --limit 1: %v", page)
	}
	if r := c.run("event-type", "list", "--limit", "1"); r.code != 0 || !strings.Contains(r.err, "hookd event-type list --cursor order.created") {
		t.Fatalf("table page: %s", r)
	}

	// Only the flags given change; null removes.
	up := c.json("event-type", "update", "order.created", "--description", "Placed")
	if up["description"] != "Placed" || up["example"] == nil || up["schema"] == nil {
		t.Fatalf("update --description: %v", up)
	}
	up = c.json("event-type", "update", "order.created", "--example", "null", "--schema", "null")
	if up["description"] != "Placed" || up["example"] != nil || up["schema"] != nil {
		t.Fatalf("update to null: %v", up)
	}

	if out := c.ok("event-type", "delete", "user.signed_up"); !strings.Contains(out, "deleted event type user.signed_up") {
		t.Fatalf("delete: %q", out)
	}
	c.fails(1, []string{"hookd: 404 not_found"}, "event-type", "get", "user.signed_up")

	// The server's refusals, naming the field.
	c.fails(1, []string{"hookd: 400 invalid_field schema: "}, "event-type", "create", "--name", "x.y", "--schema", `{"type":"strin"}`)
	c.fails(1, []string{"hookd: 400 invalid_field example: ", "at /amount"}, "event-type", "create", "--name", "x.y", "--schema", "@"+schema, "--example", `{"amount":"1"}`)
	c.fails(1, []string{"hookd: 409 conflict name: "}, "event-type", "create", "--name", "order.created")
	// Mistakes on the command line.
	c.fails(2, []string{"--name is required"}, "event-type", "create", "--description", "x")
	c.fails(2, []string{"--schema: not valid JSON"}, "event-type", "create", "--name", "x.y", "--schema", "{")
	c.fails(2, []string{"--example: "}, "event-type", "create", "--name", "x.y", "--example", "@/no/such/file.json")
	c.fails(2, []string{"nothing to update"}, "event-type", "update", "order.created")
	c.fails(2, []string{"missing NAME argument"}, "event-type", "get")

	if help := runMain(nil, "event-type", "help"); help.code != 0 || !strings.Contains(help.out, "hookd event-type create") {
		t.Fatalf("help: %s", help)
	}
}
