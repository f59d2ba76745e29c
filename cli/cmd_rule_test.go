package cli

import (
	"testing"

	"github.com/hookd/hookd/app"
)

func TestRuleTestCommand(t *testing.T) {
	t.Parallel()
	c := startCLI(t, app.Config{})
	ev := writeFile(t, "event.json", `{"type":"order.paid","data":{"total":150,"customer":{"name":"My Shop"}}}`)

	if out := c.ok("rule", "test", "--event", ev, `data.total > 100 && data.customer.name startsWith "My"`); field(t, out, "matched") != "true" {
		t.Fatalf("matching rule:\n%s", out)
	}
	if got := c.json("rule", "test", "data.total > 500", "--event", ev); got["matched"] != false {
		t.Fatalf("rule that does not match: %v", got)
	}
	if out := c.ok("rule", "test", "--event", ev, "--pattern", "user.*", "data.total > 100"); field(t, out, "matched") != "false" {
		t.Fatalf("pattern that does not match:\n%s", out)
	}
	if out := c.ok("rule", "test", "--event", ev, "--pattern", "order.*", ""); field(t, out, "matched") != "true" {
		t.Fatalf("pattern only:\n%s", out)
	}
	c.fails(1, []string{"hookd: 400 invalid_field filter: ", "(1:"}, "rule", "test", "--event", ev, "data.total ==")
	c.fails(2, []string{"give --event FILE (one event) or --since"}, "rule", "test", "data.total > 1")
	c.fails(2, []string{"give --event FILE (one event) or --since"}, "rule", "test", "--event", ev, "--since", "1h", "true")
	c.fails(2, []string{"--event"}, "rule", "test", "--event", "no-such-file.json", "true")
	c.fails(2, []string{"--event", "JSON object"}, "rule", "test", "--event", writeFile(t, "bad.json", "not json"), "true")
	c.fails(2, []string{"missing EXPR argument"}, "rule", "test", "--event", ev)
}
