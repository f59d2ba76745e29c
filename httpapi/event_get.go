package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/router"
	"github.com/hookd/hookd/tenant"
	"github.com/hookd/hookd/topology"
)

type eventView struct {
	ID        string               `json:"id"`
	Tenant    string               `json:"tenant"`
	Type      string               `json:"type"`
	Timestamp time.Time            `json:"timestamp"`
	Data      json.RawMessage      `json:"data"`
	RoutedTo  []router.RoutedEntry `json:"routed_to"`
}

// getEvent shows an event and the endpoints it was routed to. An event
// appears once a router has routed it.
func (a *API) getEvent(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ctx := r.Context()
	tenantID, err := accessOf(r).tenantFor(r.URL.Query().Get("tenant"))
	if err != nil {
		writeError(w, notFound("event", id))
		return
	}
	index, err := a.js.Stream(ctx, topology.IndexStream)
	if err != nil {
		writeError(w, natsError("event index not read", err))
		return
	}
	m, err := index.GetLastMsgForSubject(ctx, topology.IndexSubject(tenantID, id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		writeError(w, &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "event " + `"` + id + `"` + " not found (an event appears once it is routed)"})
		return
	}
	if err != nil {
		writeError(w, natsError("event index not read", err))
		return
	}
	var rec router.IndexRecord
	if err := json.Unmarshal(m.Data, &rec); err != nil || rec.EventID != id || !accessOf(r).canSee(rec.Tenant) {
		writeError(w, notFound("event", id))
		return
	}
	v := eventView{ID: rec.EventID, Tenant: tenant.Normalize(rec.Tenant), Type: rec.Type, Timestamp: rec.Time, RoutedTo: rec.RoutedTo}
	events, err := a.js.Stream(ctx, topology.EventsStream)
	if err != nil {
		writeError(w, natsError("event not read", err))
		return
	}
	raw, err := events.GetMsg(ctx, rec.Seq)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		v.Data = json.RawMessage("null") // expired: the routing record outlives it briefly
	case err != nil:
		writeError(w, natsError("event not read", err))
		return
	default:
		v.Data = event.NormalizeData(raw.Data)
	}
	if v.RoutedTo == nil {
		v.RoutedTo = []router.RoutedEntry{}
	}
	writeJSON(w, http.StatusOK, v)
}
