package httpapi

import (
	"net/http"
	"time"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/endpoint"
)

// Endpoint states as stats show them.
const (
	stateEnabled      = "enabled"
	stateDisabled     = "disabled"      // by a person
	stateAutoDisabled = "auto_disabled" // by hookd: 410 Gone or auto-disable
)

// statsView is an endpoint's health: its state, how its attempts went over
// a window of the delivery log, and what waits in its stream.
type statsView struct {
	EndpointID     string       `json:"endpoint_id"`
	State          string       `json:"state"`
	DisabledReason string       `json:"disabled_reason,omitempty"`
	Window         string       `json:"window"`
	Since          time.Time    `json:"since"`
	Attempts       int          `json:"attempts"`
	Succeeded      int          `json:"succeeded"`
	Failed         int          `json:"failed"`
	Dead           int          `json:"dead"`
	SuccessRate    *float64     `json:"success_rate"`
	RuleErrors     int          `json:"rule_errors"`
	CountingSince  *time.Time   `json:"counting_since,omitempty"`
	LastSuccessAt  *time.Time   `json:"last_success_at,omitempty"`
	LastFailure    *failureView `json:"last_failure,omitempty"`
	Backlog        backlogView  `json:"backlog"`
}

type failureView struct {
	Time       time.Time `json:"time"`
	DeliveryID string    `json:"delivery_id"`
	EventType  string    `json:"event_type"`
	Attempt    int       `json:"attempt"`
	StatusCode int       `json:"status_code,omitempty"`
	Error      string    `json:"error,omitempty"`
}

// backlogView counts the deliveries in the endpoint's stream (and the
// batches in its batch stream): Messages in
// all, Pending not yet handed to a worker, InFlight handed out and not yet
// settled (being attempted, or waiting for a retry or for the endpoint to
// be enabled again).
type backlogView struct {
	Messages uint64 `json:"messages"`
	Pending  uint64 `json:"pending"`
	InFlight uint64 `json:"in_flight"`
}

// Stats windows: the delivery log keeps a week.
const (
	defaultStatsWindow = 24 * time.Hour
	maxStatsWindow     = 7 * 24 * time.Hour
)

func stateOf(e *endpoint.Endpoint) string {
	switch {
	case !e.Disabled:
		return stateEnabled
	case e.DisabledReason != "":
		return stateAutoDisabled
	default:
		return stateDisabled
	}
}

func (a *API) endpointStats(w http.ResponseWriter, r *http.Request) {
	window := defaultStatsWindow
	if raw := r.URL.Query().Get("window"); raw != "" {
		d, err := time.ParseDuration(raw)
		if err != nil || d < time.Minute || d > maxStatsWindow {
			writeError(w, fieldError("window", "must be a duration from 1m to 168h, like 24h, not %q", raw))
			return
		}
		window = d
	}
	ep, err := a.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	since := time.Now().UTC().Add(-window)
	st, counting, err := a.stats(r, ep.ID, since)
	if err != nil {
		writeError(w, err)
		return
	}
	out := statsView{EndpointID: ep.ID, State: stateOf(ep), DisabledReason: ep.DisabledReason, Window: window.String(), Since: since,
		Attempts: st.Attempts, Succeeded: st.Succeeded, Failed: st.Failed, Dead: st.Dead, RuleErrors: st.RuleErrors}
	if counting.After(since) {
		out.CountingSince = &counting
	}
	if rate, ok := st.SuccessRate(); ok {
		out.SuccessRate = &rate
	}
	if !st.LastSuccess.IsZero() {
		out.LastSuccessAt = &st.LastSuccess
	}
	if f := st.LastFailure; f != nil {
		out.LastFailure = &failureView{Time: f.Time, DeliveryID: f.DeliveryID, EventType: f.EventType, Attempt: f.Number, StatusCode: f.StatusCode, Error: f.Error}
	}
	if out.Backlog, err = a.backlog(r, ep); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// stats reads the endpoint's counts since the given time from the kept
// counters (a handful of keys, however many attempts), and when counting
// began; without counters, from the delivery log.
func (a *API) stats(r *http.Request, endpointID string, since time.Time) (delivery.Stats, time.Time, error) {
	if a.counters == nil {
		st, err := a.deliveries.Stats(r.Context(), endpointID, since)
		if err != nil {
			return st, time.Time{}, natsError("delivery log not read", err)
		}
		return st, time.Time{}, nil
	}
	counting, err := a.counters.CountingSince(r.Context())
	if err != nil {
		return delivery.Stats{}, time.Time{}, natsError("endpoint stats not read", err)
	}
	st, err := a.counters.Stats(r.Context(), endpointID, since)
	if err != nil {
		return st, time.Time{}, natsError("endpoint stats not read", err)
	}
	return st, counting, nil
}

// backlog reads what waits for the endpoint in the delivery streams, and
// what of it workers hold.
func (a *API) backlog(r *http.Request, ep *endpoint.Endpoint) (backlogView, error) {
	b, err := a.topo.Backlog(r.Context(), ep.ID)
	if err != nil {
		return backlogView{}, natsError("endpoint backlog not read", err)
	}
	v := backlogView{Messages: b.Messages, InFlight: b.InFlight}
	v.Pending = v.Messages - min(v.InFlight, v.Messages)
	return v, nil
}
