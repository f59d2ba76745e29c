package cli

import (
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/worker"
)

// oneRetryAnHourLater keeps a failed delivery "failed" for the whole test.
var oneRetryAnHourLater = app.Config{Worker: worker.Config{RetrySchedule: []time.Duration{time.Hour}}}

// deliveries returns the deliveries of an endpoint, from -o json.
func (c *cliServer) deliveries(args ...string) []map[string]any {
	c.t.Helper()
	l := c.json(append([]string{"delivery", "list"}, args...)...)
	var out []map[string]any
	for _, d := range l["data"].([]any) {
		out = append(out, d.(map[string]any))
	}
	return out
}

// waitStatus waits until the endpoint's only delivery has status.
func (c *cliServer) waitStatus(endpointID, status string) map[string]any {
	c.t.Helper()
	var last []map[string]any
	defer func() {
		if c.t.Failed() {
			c.t.Logf("deliveries of %s when the wait ended: %v", endpointID, last)
		}
	}()
	hookdtest.WaitFor(c.t, 30*time.Second, "the delivery to be "+status, func() bool {
		last = c.deliveries(endpointID)
		return len(last) == 1 && last[0]["status"] == status
	})
	return last[0]
}

// delivery list, get, retry (and --force), across dead, failed and
// succeeded deliveries.
func TestDeliveryCommands(t *testing.T) {
	t.Parallel()
	c := startCLI(t, oneRetryAnHourLater)
	rc := hookdtest.NewReceiver(t)
	var answer atomic.Int32
	answer.Store(400) // permanent failure: dead at once
	rc.SetRespond(func(int, hookdtest.Request) int { return int(answer.Load()) })
	id := c.createEndpoint("--url", rc.URL, "--event", "order.*")
	c.ok("event", "send", "order.created", "--id", "ord-1", "--data", `{"n":1}`)

	d := c.waitStatus(id, "dead")
	dlv, _ := d["id"].(string)
	if !strings.HasPrefix(dlv, "dlv_") || d["event_id"] != "ord-1" || d["event_type"] != "order.created" || d["endpoint_id"] != id || d["attempt_count"] != float64(1) {
		t.Fatalf("dead delivery %v", d)
	}

	rows := columns(c.ok("delivery", "list", id))
	if len(rows) != 2 || !reflect.DeepEqual(rows[0], []string{"ID", "EVENT_TYPE", "STATUS", "ATTEMPTS", "CREATED"}) ||
		!reflect.DeepEqual(rows[1][:4], []string{dlv, "order.created", "dead", "1"}) {
		t.Fatalf("list table %q", rows)
	}
	if got := c.deliveries(id, "--status", "succeeded"); len(got) != 0 {
		t.Fatalf("--status succeeded: %v", got)
	}
	if got := c.deliveries(id, "--event-type", "order.paid"); len(got) != 0 {
		t.Fatalf("--event-type order.paid: %v", got)
	}
	if got := c.deliveries(id, "--since", "1h", "--status", "dead"); len(got) != 1 {
		t.Fatalf("--since 1h: %v", got)
	}
	if got := c.deliveries(id, "--until", "1h"); len(got) != 0 {
		t.Fatalf("--until 1h (ago): %v", got)
	}
	if got := c.deliveries(id, "--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)); len(got) != 0 {
		t.Fatalf("--since in an hour: %v", got)
	}

	full := c.json("delivery", "get", dlv)
	attempts, _ := full["attempts"].([]any)
	if full["status"] != "dead" || len(attempts) == 0 {
		t.Fatalf("get: %v", full)
	}
	last := attempts[len(attempts)-1].(map[string]any)
	if last["status_code"] != float64(400) || last["outcome"] != "dead" {
		t.Fatalf("last attempt %v", last)
	}
	out := c.ok("delivery", "get", dlv)
	if field(t, out, "status") != "dead" || field(t, out, "last_status_code") != "400" || !strings.Contains(out, "ATTEMPT") {
		t.Fatalf("get table:\n%s", out)
	}

	// Retry once the receiver is fixed.
	// The answer is the delivery re-read after queueing it: "pending", or
	// already "succeeded" when the worker was quicker than the answer.
	answer.Store(200)
	if r := c.json("delivery", "retry", dlv); r["id"] != dlv || (r["status"] != "pending" && r["status"] != "succeeded") {
		t.Fatalf("retry: %v", r)
	}
	c.waitStatus(id, "succeeded")
	c.fails(1, []string{"hookd: 409 already_succeeded"}, "delivery", "retry", dlv)
	if out := c.ok("delivery", "retry", dlv, "--force"); field(t, out, "id") != dlv || !strings.Contains("pending succeeded", field(t, out, "status")) {
		t.Fatalf("retry --force:\n%s", out)
	}
	hookdtest.WaitFor(t, 15*time.Second, "the forced retry delivered", func() bool { return rc.CountByID()["ord-1"] == 3 })

	// A failed delivery waits for its next attempt.
	rc2 := hookdtest.NewReceiver(t)
	rc2.SetRespond(func(int, hookdtest.Request) int { return 503 })
	id2 := c.createEndpoint("--url", rc2.URL, "--event", "order.*")
	c.ok("event", "send", "order.paid", "--id", "ord-2")
	failed := c.waitStatus(id2, "failed")
	out = c.ok("delivery", "get", failed["id"].(string))
	if field(t, out, "status") != "failed" || field(t, out, "last_status_code") != "503" || field(t, out, "next_attempt_at") == "-" {
		t.Fatalf("failed delivery:\n%s", out)
	}

	c.fails(1, []string{"hookd: 404 not_found"}, "delivery", "get", "dlv_nosuchdelivery")
	c.fails(1, []string{"hookd: 400 invalid_field status: "}, "delivery", "list", id, "--status", "lost")
	c.fails(2, []string{"--since"}, "delivery", "list", id, "--since", "yesterday")
	c.fails(2, []string{"missing ENDPOINT_ID argument"}, "delivery", "list")
	c.fails(2, []string{"missing ID argument"}, "delivery", "retry")
}

// delivery list pages with --limit and --cursor.
func TestDeliveryListPages(t *testing.T) {
	t.Parallel()
	c := startCLI(t, app.Config{})
	rc := hookdtest.NewReceiver(t)
	id := c.createEndpoint("--url", rc.URL)
	for _, ev := range []string{"e-1", "e-2", "e-3"} {
		c.ok("event", "send", "a.b", "--id", ev)
	}
	hookdtest.WaitFor(t, 15*time.Second, "three deliveries succeeded", func() bool {
		return len(c.deliveries(id, "--status", "succeeded")) == 3
	})
	first := c.json("delivery", "list", id, "--limit", "2")
	cursor, _ := first["next_cursor"].(string)
	if len(first["data"].([]any)) != 2 || first["has_more"] != true || cursor == "" {
		t.Fatalf("first page %v", first)
	}
	second := c.json("delivery", "list", id, "--limit", "2", "--cursor", cursor)
	if len(second["data"].([]any)) != 1 || second["has_more"] != false {
		t.Fatalf("second page %v", second)
	}
	if r := c.run("delivery", "list", id, "--limit", "2"); r.code != 0 || !strings.Contains(r.err, "--cursor "+cursor) {
		t.Fatalf("table page: %s", r)
	}
	c.fails(1, []string{"hookd: 400 invalid_field cursor: "}, "delivery", "list", id, "--cursor", "nonsense")
}

// recover queues again the deliveries that did not succeed.
func TestRecoverCommand(t *testing.T) {
	t.Parallel()
	c := startCLI(t, oneRetryAnHourLater)
	rc := hookdtest.NewReceiver(t)
	var answer atomic.Int32
	answer.Store(400)
	rc.SetRespond(func(int, hookdtest.Request) int { return int(answer.Load()) })
	id := c.createEndpoint("--url", rc.URL)
	c.ok("event", "send", "a.b", "--id", "lost-1")
	c.waitStatus(id, "dead")

	answer.Store(200)
	if r := c.json("recover", id, "--since", "1h"); r["requeued"] != float64(1) {
		t.Fatalf("recover: %v", r)
	}
	c.waitStatus(id, "succeeded")
	if n := rc.CountByID()["lost-1"]; n != 2 {
		t.Fatalf("receiver got lost-1 %d times, want 2", n)
	}
	// Nothing left to recover; the table says so.
	if out := c.ok("recover", id, "--since", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "--until", "0s"); field(t, out, "requeued") != "0" {
		t.Fatalf("second recover:\n%s", out)
	}

	c.fails(2, []string{"--since is required"}, "recover", id)
	c.fails(2, []string{"--until"}, "recover", id, "--since", "1h", "--until", "later")
	c.fails(2, []string{"missing ENDPOINT_ID argument"}, "recover", "--since", "1h")
	c.fails(1, []string{"hookd: 400 invalid_field until: "}, "recover", id, "--since", "1h", "--until", "2h")
	c.fails(1, []string{"hookd: 404 not_found"}, "recover", "ep_00000000000000000000000000", "--since", "1h")
}

// backfill and rule test --since read the stored events: a new endpoint
// catches up on the event sent before it existed.
func TestBackfillCommand(t *testing.T) {
	t.Parallel()
	c := startCLI(t, app.Config{})
	c.ok("event", "send", "a.b", "--id", "old-1", "--data", `{"n":1}`)
	c.ok("event", "send", "a.c", "--id", "old-2", "--data", `{"n":2}`)
	if out := c.ok("rule", "test", "data.n == 1", "--since", "1h"); field(t, out, "matched") != "1" || !strings.Contains(field(t, out, "sample[0]"), "old-1 a.b") {
		t.Fatalf("rule test --since:\n%s", out)
	}
	rc := hookdtest.NewReceiver(t)
	id := c.createEndpoint("--url", rc.URL, "--event", "a.b")
	if r := c.json("backfill", id, "--since", "1h", "--dry-run"); r["matched"] != float64(1) || r["queued"] != float64(0) {
		t.Fatalf("backfill --dry-run: %v", r)
	}
	if out := c.ok("backfill", id, "--since", "1h"); field(t, out, "queued") != "1" {
		t.Fatalf("backfill:\n%s", out)
	}
	c.waitStatus(id, "succeeded")
	if n := rc.CountByID()["old-1"]; n != 1 || rc.Count() != 1 {
		t.Fatalf("receiver got %v, want old-1 once", rc.CountByID())
	}
	c.fails(2, []string{"--since is required"}, "backfill", id)
	c.fails(1, []string{"hookd: 400 invalid_field sample_size: "}, "backfill", id, "--since", "1h", "--sample-size", "1000")
}
