package httpapi

import (
	"context"
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
	asked := r.URL.Query().Get("tenant")
	if err := checkField("tenant", asked, tenantRule); err != nil {
		writeError(w, err)
		return
	}
	tenantID, err := accessOf(r).tenantFor(asked)
	if err != nil {
		writeError(w, notFound("event", id))
		return
	}
	index, err := a.js.Stream(ctx, a.topo.Names().IndexStream())
	if err != nil {
		writeError(w, natsError("event index not read", err))
		return
	}
	rec, err := readIndex(ctx, a.topo.Names(), index, tenantID, id)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		writeError(w, &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "event " + `"` + id + `"` + " not found (an event appears once it is routed, and is found until it is older than --events-max-age or --index-max-events newer ones were routed)"})
		return
	}
	if err != nil {
		writeError(w, natsError("event index not read", err))
		return
	}
	if rec.EventID != id || !accessOf(r).canSee(rec.Tenant) {
		writeError(w, notFound("event", id))
		return
	}
	v := eventView{ID: rec.EventID, Tenant: tenant.Normalize(rec.Tenant), Type: rec.Type, Timestamp: rec.Time, RoutedTo: rec.RoutedTo}
	events, err := a.js.Stream(ctx, a.topo.Names().EventsStream())
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
		v.Data = event.DataOf(raw.Header, raw.Data)
	}
	if v.RoutedTo == nil {
		v.RoutedTo = []router.RoutedEntry{}
	}
	writeJSON(w, http.StatusOK, v)
}

// readIndex reads what both routing lanes recorded of an event and merges
// it. It fails with jetstream.ErrMsgNotFound if neither routed it yet.
func readIndex(ctx context.Context, names topology.Names, index jetstream.Stream, tenantID, id string) (router.IndexRecord, error) {
	var merged router.IndexRecord
	found := false
	for _, subject := range []string{names.IndexSubject(tenantID, id), names.OrderedIndexSubject(tenantID, id)} {
		m, err := index.GetLastMsgForSubject(ctx, subject)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return router.IndexRecord{}, err
		}
		var rec router.IndexRecord
		if err := json.Unmarshal(m.Data, &rec); err != nil {
			continue
		}
		if !found {
			merged, found = rec, true
			continue
		}
		merged.RoutedTo = append(merged.RoutedTo, rec.RoutedTo...)
	}
	if !found {
		return router.IndexRecord{}, jetstream.ErrMsgNotFound
	}
	return merged, nil
}
