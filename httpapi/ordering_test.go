package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/internal/hookdtest"
)

// Ordering is chosen at creation, checked, laid out in JetStream, and
// cannot be changed afterwards.
func TestOrderingSettings(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true})
	bad := []struct{ body, field string }{
		{`{"url":"https://x.example/","ordering":"sorted"}`, "ordering"},
		{`{"url":"https://x.example/","ordering_key":"data.id"}`, "ordering_key"},
		{`{"url":"https://x.example/","ordering":"ordered","ordering_key":"data."}`, "ordering_key"},
		{`{"url":"https://x.example/","ordering":"ordered","max_in_flight":4}`, "max_in_flight"},
		{`{"url":"https://x.example/","ordering":"ordered","ordering_key":"data.id","max_in_flight":4}`, "max_in_flight"},
	}
	for _, c := range bad {
		status, out := h.Do(t, http.MethodPost, "/v1/endpoints", c.body)
		if status != http.StatusBadRequest || decodeError(t, out).Error.Field != c.field {
			t.Errorf("%s: %d %s, want 400 naming %s", c.body, status, out, c.field)
		}
	}

	keyed := h.CreateEndpoint(t, map[string]any{"url": "https://x.example/", "ordering": "ordered", "ordering_key": "data.order_id"})
	// Its lanes are consumed one delivery at a time each: see
	// topology.TestSharedDeliveryStreams and app.TestOrderingKeyKeepsEachKeyInOrder.
	if l := (&endpoint.Endpoint{Ordering: "ordered", OrderingKey: "data.order_id"}).Layout(); l.Lanes != endpoint.KeyLanes || !l.Ordered {
		t.Fatalf("keyed layout %+v", l)
	}

	for _, patch := range []struct{ body, field string }{
		{`{"ordering":"none"}`, "ordering"},
		{`{"ordering_key":"data.customer"}`, "ordering_key"},
	} {
		status, out := h.Do(t, http.MethodPatch, "/v1/endpoints/"+keyed.ID, patch.body)
		if status != http.StatusBadRequest || decodeError(t, out).Error.Field != patch.field {
			t.Errorf("PATCH %s: %d %s, want 400 naming %s", patch.body, status, out, patch.field)
		}
	}
	// Sending the same values back is no change.
	if status, out := h.Do(t, http.MethodPatch, "/v1/endpoints/"+keyed.ID, `{"ordering":"ordered","ordering_key":"data.order_id","name":"orders"}`); status != http.StatusOK {
		t.Fatalf("PATCH with unchanged ordering: %d %s", status, out)
	}
	plain := h.CreateEndpoint(t, map[string]any{"url": "https://y.example/"})
	if plain.Ordering != "none" {
		t.Fatalf("default ordering %q, want none", plain.Ordering)
	}
	if status, out := h.Do(t, http.MethodPatch, "/v1/endpoints/"+plain.ID, `{"ordering":"ordered"}`); status != http.StatusBadRequest {
		t.Fatalf("PATCH none to ordered: %d %s, want 400", status, out)
	}
}
