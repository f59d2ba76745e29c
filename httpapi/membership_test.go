package httpapi_test

import (
	"encoding/json"
	"testing"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/internal/hookdtest"
)

// storedRoutedFrom reads an endpoint's routed_from_seq as stored.
func storedRoutedFrom(t *testing.T, h *hookdtest.Hookd, id string) uint64 {
	t.Helper()
	var doc struct {
		RoutedFromSeq uint64 `json:"routed_from_seq"`
	}
	if err := json.Unmarshal([]byte(h.StoredEndpoint(t, id)), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.RoutedFromSeq
}

// eventsLastSeq is the events stream's last sequence.
func eventsLastSeq(t *testing.T, h *hookdtest.Hookd) uint64 {
	t.Helper()
	s, err := h.App.JetStream().Stream(t.Context(), h.App.Names().EventsStream())
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo().State.LastSeq
}

// POST /v1/endpoints and every item of POST /v1/endpoints/bulk store where
// the endpoint's events begin: the first event stored after its creation
// (the events stream's last sequence, read once the endpoint is stored,
// plus one), so routers route it nothing accepted before.
func TestCreationStoresWhereTheEndpointsEventsBegin(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true})
	for range 3 {
		h.PublishEvent(t, "order.paid", map[string]int{"n": 1})
	}
	before := eventsLastSeq(t, h)
	ep := h.CreateEndpoint(t, map[string]any{"url": "https://example.com/hook"})
	if got := storedRoutedFrom(t, h, ep.ID); got != before+1 {
		t.Fatalf("created endpoint routed_from_seq %d, want %d (events stream at %d)", got, before+1, before)
	}

	for range 2 {
		h.PublishEvent(t, "order.paid", map[string]int{"n": 1})
	}
	before = eventsLastSeq(t, h)
	a := bulkCreate(t, h, "", `{"url":"https://example.com/a"}`, `{"url":"https://example.com/b"}`, `{"url":"ftp://bad"}`, `{"url":"https://example.com/c"}`)
	if a.Created != 3 {
		t.Fatalf("bulk: %+v", a)
	}
	for _, it := range a.Items {
		if it.Endpoint == nil {
			continue
		}
		if got := storedRoutedFrom(t, h, it.Endpoint.ID); got != before+1 {
			t.Errorf("bulk item %d: routed_from_seq %d, want %d", it.Index, got, before+1)
		}
	}
}
