package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/topology"
)

// A full events stream (nothing drains it: no router) refuses events with
// 503 "backpressure" and Retry-After, conforming to openapi.json, and never
// answers 202 after the first refusal; every 202 is a stored event.
func TestPublishEventStreamFull(t *testing.T) {
	const limit = 20
	c := newConformance(t, app.Config{NoRouter: true, NoWorker: true, Topology: topology.Config{EventsMaxMsgs: limit}})
	accepted, refused := 0, 0
	for i := range limit + 15 {
		a := apiCall{method: "POST", path: "/v1/events", want: 202,
			body: fmt.Sprintf(`{"type":"order.created","id":"evt-%d","data":{"n":%d}}`, i, i)}
		resp, out := c.exchange(t, a, http.StatusAccepted, http.StatusServiceUnavailable)
		switch resp.StatusCode {
		case http.StatusAccepted:
			if refused > 0 {
				t.Fatalf("event %d accepted after %d refusals: %s", i, refused, out)
			}
			accepted++
		case http.StatusServiceUnavailable:
			refused++
			wantError(t, out, "backpressure", "")
			if ra := resp.Header.Get("Retry-After"); ra != "5" {
				t.Errorf("Retry-After %q, want 5", ra)
			}
		}
	}
	if accepted != limit || refused != 15 {
		t.Errorf("%d accepted and %d refused, want %d and 15", accepted, refused, limit)
	}

	s, err := c.h.App.JetStream().Stream(context.Background(), c.h.App.Names().EventsStream())
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != uint64(accepted) {
		t.Errorf("events stream holds %d events, %d were accepted", info.State.Msgs, accepted)
	}

	// Re-sending a stored event is still a 202, a duplicate (JetStream
	// de-duplicates before it checks the limits).
	out := c.call(t, apiCall{method: "POST", path: "/v1/events", want: 202, body: `{"type":"order.created","id":"evt-0","data":{"n":0}}`})
	if want := `"duplicate":true`; !bytes.Contains(out, []byte(want)) {
		t.Errorf("re-sent stored event: %s, want %s", out, want)
	}
}
