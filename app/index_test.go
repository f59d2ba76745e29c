package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

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
