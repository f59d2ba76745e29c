package app_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/internal/hookdtest"
)

// An event whose data is valid JSON that Go cannot hold in memory (a number
// out of float64's range), or nests deeper than event.MaxDepth, is routed
// with data null for filters and delivered as sent, not retried forever.
func TestUndecodableDataIsRoutedNotStuck(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	h := hookdtest.Start(t, fastConfig())
	h.CreateEndpoint(t, map[string]any{"url": rc.URL, "events": []string{"huge.*"}})
	filtered := hookdtest.NewReceiver(t)
	h.CreateEndpoint(t, map[string]any{"url": filtered.URL, "events": []string{"huge.*"}, "filter": "data.amount > 1"})
	if _, err := h.App.JetStream().Publish(t.Context(), "events.huge.number", []byte(`{"amount":1e999}`)); err != nil {
		t.Fatal(err)
	}
	hookdtest.WaitFor(t, 10*time.Second, "the delivery", func() bool { return rc.Count() == 1 })
	// Nested deeper than filters look: routed with data null too.
	deep := `{"amount":2,"x":` + strings.Repeat("[", event.MaxDepth+1) + strings.Repeat("]", event.MaxDepth+1) + `}`
	if _, err := h.App.JetStream().Publish(t.Context(), "events.huge.deep", []byte(deep)); err != nil {
		t.Fatal(err)
	}
	hookdtest.WaitFor(t, 10*time.Second, "the deep event's delivery", func() bool { return rc.Count() == 2 })
	h.WaitIdle(t)
	if body := string(rc.Requests()[0].Body); !strings.Contains(body, `"data":{"amount":1e999}`) {
		t.Fatalf("delivered %s, want the data as sent", body)
	}
	if n := filtered.Count(); n != 0 {
		t.Fatalf("a filter on the undecodable data matched %d times", n)
	}
}

// A body that is not JSON, invalid UTF-8 included, is routed with data
// null for filters and delivered (standard format) as a JSON string in a
// valid JSON envelope.
func TestNonJSONBodyIsRoutedWithDataNull(t *testing.T) {
	h := hookdtest.Start(t, fastConfig())
	all := hookdtest.NewReceiver(t)
	null := hookdtest.NewReceiver(t)
	notNull := hookdtest.NewReceiver(t)
	h.CreateEndpoint(t, map[string]any{"url": all.URL, "events": []string{"text.*"}})
	h.CreateEndpoint(t, map[string]any{"url": null.URL, "events": []string{"text.*"}, "filter": "data == nil"})
	h.CreateEndpoint(t, map[string]any{"url": notNull.URL, "events": []string{"text.*"}, "filter": "data != nil"})
	body := []byte("plain \xff\xfe text, not JSON")
	if _, err := h.App.JetStream().Publish(t.Context(), "events.text.note", body); err != nil {
		t.Fatal(err)
	}
	hookdtest.WaitFor(t, 10*time.Second, "the deliveries", func() bool { return all.Count() == 1 && null.Count() == 1 })
	h.WaitIdle(t)
	if n := notNull.Count(); n != 0 {
		t.Fatalf("a filter on data != nil matched a non-JSON body %d times", n)
	}
	var env struct {
		Data string `json:"data"`
	}
	got := all.Requests()[0].Body
	if err := json.Unmarshal(got, &env); err != nil || !strings.HasPrefix(env.Data, "plain ") || !strings.HasSuffix(env.Data, " text, not JSON") {
		t.Fatalf("delivered %q (%v): want a JSON envelope with the body as a string", got, err)
	}
}
