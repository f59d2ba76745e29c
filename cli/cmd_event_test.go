package cli

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/internal/hookdtest"
)

// event send publishes what the receiver gets; an id sent twice is stored
// once.
func TestEventSend(t *testing.T) {
	t.Parallel()
	c := startCLI(t, app.Config{})
	rc := hookdtest.NewReceiver(t)
	id := c.createEndpoint("--url", rc.URL, "--event", "order.*")

	acc := c.json("event", "send", "order.created", "--data", `{"n":1}`, "--id", "ord-1")
	if acc["id"] != "ord-1" || acc["type"] != "order.created" || acc["duplicate"] != false {
		t.Fatalf("send: %v", acc)
	}
	if again := c.json("event", "send", "order.created", "--data", `{"n":1}`, "--id", "ord-1"); again["duplicate"] != true {
		t.Fatalf("send again: %v", again)
	}

	file := writeFile(t, "paid.json", `{"n":2,"total":150}`)
	rows := columns(c.ok("event", "send", "order.paid", "--data", "@"+file))
	if len(rows) != 2 || !reflect.DeepEqual(rows[0], []string{"ID", "TYPE", "DUPLICATE"}) || rows[1][1] != "order.paid" || rows[1][2] != "false" {
		t.Fatalf("send table: %q", rows)
	}
	paid := rows[1][0]
	c.ok("event", "send", "user.created") // no data; not routed to the endpoint

	hookdtest.WaitFor(t, 10*time.Second, "both order events delivered", func() bool {
		n := rc.CountByID()
		return n["ord-1"] == 1 && n[paid] == 1
	})
	h := c.h
	h.WaitIdle(t, id)
	if rc.Count() != 2 {
		t.Fatalf("receiver got %d requests, want 2", rc.Count())
	}
	for _, r := range rc.Requests() {
		body := string(r.Body)
		switch r.Header.Get("webhook-id") {
		case "ord-1":
			if !strings.Contains(body, `"data":{"n":1}`) {
				t.Fatalf("ord-1 body %s", body)
			}
		case paid:
			if !strings.Contains(body, `"total":150`) {
				t.Fatalf("paid body %s", body)
			}
		}
	}

	c.fails(1, []string{"hookd: 400 invalid_field type: "}, "event", "send", "order.*")
	c.fails(2, []string{"--data", "not valid JSON"}, "event", "send", "order.created", "--data", "n=1")
	c.fails(2, []string{"missing TYPE argument"}, "event", "send")
}

// event get shows the event and where it was routed.
func TestEventGet(t *testing.T) {
	t.Parallel()
	c := startCLI(t, app.Config{})
	rc := hookdtest.NewReceiver(t)
	id := c.createEndpoint("--url", rc.URL, "--event", "order.*")
	c.ok("event", "send", "order.created", "--data", `{"n":7}`, "--id", "ord-7")
	c.h.WaitIdle(t, id)

	var routed []any
	hookdtest.WaitFor(t, 10*time.Second, "event routed", func() bool {
		ev := c.json("event", "get", "ord-7")
		routed, _ = ev["routed_to"].([]any)
		return ev["id"] == "ord-7" && ev["type"] == "order.created" && len(routed) == 1
	})
	to := routed[0].(map[string]any)
	dlv, _ := to["delivery_id"].(string)
	if to["endpoint_id"] != id || !strings.HasPrefix(dlv, "dlv_") {
		t.Fatalf("routed_to %v", routed)
	}

	out := c.ok("event", "get", "ord-7")
	if field(t, out, "id") != "ord-7" || field(t, out, "type") != "order.created" || field(t, out, "data") != `{"n":7}` {
		t.Fatalf("get table:\n%s", out)
	}
	if !strings.Contains(out, "ENDPOINT_ID") || !strings.Contains(out, id) || !strings.Contains(out, dlv) {
		t.Fatalf("get table lacks the routing:\n%s", out)
	}
	c.fails(1, []string{"hookd: 404 not_found"}, "event", "get", "no-such-event")
}
