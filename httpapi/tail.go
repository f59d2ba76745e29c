package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/tenant"
)

// logRecordView is one record of the delivery log: a delivery queued
// (outcome pending; attempt is the attempts made before) or one attempt.
type logRecordView struct {
	Seq             uint64    `json:"seq"`
	DeliveryID      string    `json:"delivery_id"`
	EndpointID      string    `json:"endpoint_id"`
	EventID         string    `json:"event_id"`
	EventType       string    `json:"event_type"`
	Attempt         int       `json:"attempt"`
	Time            time.Time `json:"time"`
	Outcome         string    `json:"outcome"`
	StatusCode      int       `json:"status_code,omitempty"`
	Error           string    `json:"error,omitempty"`
	DurationSeconds float64   `json:"duration_seconds"`
}

type logPage struct {
	Data      []logRecordView `json:"data"`
	NextAfter uint64          `json:"next_after"`
}

// deliveryLog answers the delivery log's records after a sequence: polled
// with the previous answer's next_after, it is a live tail. Polling rather
// than a stream of server-sent events, because EventSource cannot send an
// Authorization header and keys must not travel in URLs.
func (a *API) deliveryLog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var after uint64
	if raw := q.Get("after"); raw != "" {
		n, err := strconv.ParseUint(raw, 10, 64)
		if err != nil {
			writeError(w, fieldError("after", "must be a next_after this API returned, not %q", raw))
			return
		}
		after = n
	}
	limit, err := pageLimit(r)
	if err != nil {
		writeError(w, err)
		return
	}
	keep, err := a.logFilter(r, q.Get("endpoint_id"))
	if err != nil {
		writeError(w, err)
		return
	}
	recs, next, err := a.deliveries.Tail(r.Context(), after, limit, keep)
	if err != nil {
		writeError(w, natsError("delivery log not read", err))
		return
	}
	out := logPage{Data: make([]logRecordView, 0, len(recs)), NextAfter: next}
	for _, rec := range recs {
		out.Data = append(out.Data, logRecordView{Seq: rec.Seq, DeliveryID: rec.DeliveryID, EndpointID: rec.EndpointID,
			EventID: rec.EventID, EventType: rec.EventType, Attempt: rec.Number, Time: rec.Time, Outcome: string(rec.Outcome),
			StatusCode: rec.StatusCode, Error: rec.Error, DurationSeconds: rec.DurationSeconds})
	}
	writeJSON(w, http.StatusOK, out)
}

// logFilter keeps the records of one endpoint when asked, and for a tenant
// key only those of the tenant's endpoints.
func (a *API) logFilter(r *http.Request, endpointID string) (func(delivery.Attempt) bool, error) {
	acc := accessOf(r)
	if err := checkField("endpoint_id", endpointID, endpointRule); err != nil {
		return nil, err
	}
	if endpointID != "" {
		ep, err := a.store.Get(r.Context(), endpointID)
		if errors.Is(err, endpoint.ErrNotFound) || err == nil && !acc.canSee(ep.Tenant) {
			return nil, notFound("endpoint", endpointID)
		}
		if err != nil {
			return nil, natsError("endpoint not read", err)
		}
		return func(at delivery.Attempt) bool { return at.EndpointID == endpointID }, nil
	}
	if acc.admin() {
		return func(delivery.Attempt) bool { return true }, nil
	}
	eps, err := a.store.List(r.Context())
	if err != nil {
		return nil, natsError("endpoints not listed", err)
	}
	mine := map[string]bool{}
	for _, e := range eps {
		if tenant.Normalize(e.Tenant) == acc.key.Tenant {
			mine[e.ID] = true
		}
	}
	return func(at delivery.Attempt) bool { return mine[at.EndpointID] }, nil
}
