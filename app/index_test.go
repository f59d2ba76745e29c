package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hookd/hookd/internal/hookdtest"
)

// The event index keeps the newest IndexMaxEvents records: each is a
// subject of its own, and the server's memory for them must not grow with
// the traffic of a week. An older event is then "not found", said so.
func TestEventIndexKeepsTheNewest(t *testing.T) {
	cfg := fastConfig()
	cfg.Topology.IndexMaxEvents = 3
	rc := hookdtest.NewReceiver(t)
	h := hookdtest.Start(t, cfg)
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL})
	var ids []string
	for i := range 5 {
		// One at a time: routers route concurrently, and the index keeps
		// the newest records written.
		id := h.PublishEvent(t, "order.paid", map[string]int{"n": i})
		hookdtest.WaitFor(t, 10*time.Second, "the event indexed", func() bool {
			status, _ := h.Do(t, http.MethodGet, "/v1/events/"+id, nil)
			return status == http.StatusOK
		})
		ids = append(ids, id)
	}
	h.WaitIdle(t, ep.ID)
	if got := rc.Count(); got != 5 {
		t.Fatalf("receiver got %d deliveries, want 5", got)
	}
	for i, id := range ids {
		status, out := h.Do(t, http.MethodGet, "/v1/events/"+id, nil)
		if i < 2 {
			var body struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if status != http.StatusNotFound || json.Unmarshal(out, &body) != nil || !strings.Contains(body.Error.Message, "--index-max-events") {
				t.Errorf("event %d, beyond the index's bound: %d %s", i, status, out)
			}
			continue
		}
		if status != http.StatusOK {
			t.Errorf("event %d, among the newest 3: %d %s", i, status, out)
		}
	}
}

// An event index that does not answer (its stream's leader cut off, and
// NATS not yet aware: stood for here by a subscriber that takes the
// records and never acknowledges them) does not hold routing: with one
// route at a time, three events are delivered within seconds, where each
// waited the whole publish timeout (10 s) for its record. Once the index
// answers again, events are indexed again.
func TestSilentEventIndexDoesNotHoldRouting(t *testing.T) {
	cfg := fastConfig()
	cfg.Router.Concurrency = 1
	rc := hookdtest.NewReceiver(t)
	h := hookdtest.Start(t, cfg)
	h.CreateEndpoint(t, map[string]any{"url": rc.URL})
	h.PublishEvent(t, "order.paid", map[string]int{"n": 0})
	hookdtest.WaitFor(t, 10*time.Second, "first event delivered", func() bool { return rc.Count() == 1 })

	names := h.App.Names()
	if err := h.App.JetStream().DeleteStream(t.Context(), names.IndexStream()); err != nil {
		t.Fatal(err)
	}
	nc := h.App.JetStream().Conn()
	silent, err := nc.Subscribe(names.IndexSubjects(), func(*nats.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := 1; i <= 3; i++ {
		h.PublishEvent(t, "order.paid", map[string]int{"n": i})
	}
	hookdtest.WaitFor(t, 30*time.Second, "three events delivered", func() bool { return rc.Count() == 4 })
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("three events took %s to route with a silent index, want a few seconds", took)
	} else {
		t.Logf("three events routed in %s with a silent index", took)
	}

	if err := silent.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if err := h.App.Topology().EnsureCore(t.Context()); err != nil {
		t.Fatal(err)
	}
	id := h.PublishEvent(t, "order.paid", map[string]int{"n": 4})
	hookdtest.WaitFor(t, 30*time.Second, "an event indexed once the index answers", func() bool {
		status, _ := h.Do(t, http.MethodGet, "/v1/events/"+id, nil)
		return status == http.StatusOK
	})
}
