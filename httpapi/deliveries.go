package httpapi

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/rules"
)

// deliveryView is a delivery as the API shows it.
type deliveryView struct {
	ID             string     `json:"id"`
	EndpointID     string     `json:"endpoint_id"`
	EventID        string     `json:"event_id"`
	EventType      string     `json:"event_type"`
	Status         string     `json:"status"`
	AttemptCount   int        `json:"attempt_count"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	LastStatusCode int        `json:"last_status_code,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
	NextAttemptAt  *time.Time `json:"next_attempt_at,omitempty"`
	// BatchID is the batch a delivery with status batched went into.
	BatchID string `json:"batch_id,omitempty"`
	// BatchSize is how many deliveries a batch holds (batches only).
	BatchSize int `json:"batch_size,omitempty"`
	// Attempts is set by GET of one delivery (possibly empty), not in lists.
	Attempts *[]attemptView `json:"attempts,omitempty"`
}

type attemptView struct {
	Attempt         int       `json:"attempt"`
	Time            time.Time `json:"time"`
	StatusCode      int       `json:"status_code,omitempty"`
	Error           string    `json:"error,omitempty"`
	DurationSeconds float64   `json:"duration_seconds"`
	Response        string    `json:"response,omitempty"`
	Outcome         string    `json:"outcome"`
}

func summaryView(s delivery.Summary) deliveryView {
	l := s.Last
	v := deliveryView{ID: l.DeliveryID, EndpointID: l.EndpointID, EventID: l.EventID, EventType: l.EventType,
		Status: string(s.Status()), AttemptCount: l.Number, CreatedAt: l.EventTime, UpdatedAt: l.Time,
		LastStatusCode: l.StatusCode, LastError: l.Error, BatchID: l.BatchID, BatchSize: l.BatchSize}
	if next := s.NextAttemptAt(); !next.IsZero() {
		v.NextAttemptAt = &next
	}
	return v
}

type deliveryList struct {
	Data       []deliveryView `json:"data"`
	HasMore    bool           `json:"has_more"`
	NextCursor string         `json:"next_cursor"`
}

// deliveryQuery is a parsed ?status=&since=&until=&event_type=&limit=&cursor=.
type deliveryQuery struct {
	status       delivery.Status
	since, until time.Time
	eventType    *rules.Pattern
	limit        int
	after        *deliveryCursor
}

func parseTime(field, raw string) (time.Time, error) {
	if raw == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		return time.Time{}, fieldError(field, "must be an RFC 3339 time like 2026-06-01T00:00:00Z, not %q", raw)
	}
	return t, nil
}

func parseDeliveryQuery(r *http.Request) (deliveryQuery, error) {
	q := r.URL.Query()
	var out deliveryQuery
	var err error
	if s := q.Get("status"); s != "" {
		var ok bool
		if out.status, ok = delivery.ParseStatus(s); !ok {
			return out, fieldError("status", "must be pending, failed, succeeded, dead or batched, not %q", s)
		}
	}
	if out.since, err = parseTime("since", q.Get("since")); err != nil {
		return out, err
	}
	if out.until, err = parseTime("until", q.Get("until")); err != nil {
		return out, err
	}
	if t := q.Get("event_type"); t != "" {
		p, err := rules.ParsePattern(t)
		if err != nil {
			return out, fieldError("event_type", "%v", err)
		}
		out.eventType = &p
	}
	if out.limit, err = pageLimit(r); err != nil {
		return out, err
	}
	if c := q.Get("cursor"); c != "" {
		cur, err := parseDeliveryCursor(c)
		if err != nil {
			return out, err
		}
		out.after = &cur
	}
	return out, nil
}

func (q deliveryQuery) keep(s delivery.Summary) bool {
	t := s.Last.EventTime
	switch {
	case q.status != "" && s.Status() != q.status:
		return false
	case !q.since.IsZero() && t.Before(q.since):
		return false
	case !q.until.IsZero() && t.After(q.until):
		return false
	case q.eventType != nil && !q.eventType.Match(s.Last.EventType):
		return false
	case q.after != nil && !q.after.before(s):
		return false
	}
	return true
}

// deliveryCursor marks the last delivery of a page; lists run newest first.
type deliveryCursor struct {
	time time.Time
	id   string
}

func (c deliveryCursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.time.UnixNano(), 10) + ":" + c.id))
}

// before reports whether s comes after the cursor in newest-first order.
func (c deliveryCursor) before(s delivery.Summary) bool {
	t := s.Last.EventTime
	return t.Before(c.time) || t.Equal(c.time) && s.Last.DeliveryID < c.id
}

func parseDeliveryCursor(raw string) (deliveryCursor, error) {
	bad := fieldError("cursor", "is not a cursor this API returned")
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return deliveryCursor{}, bad
	}
	ns, id, ok := strings.Cut(string(b), ":")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || !strings.HasPrefix(id, "dlv_") {
		return deliveryCursor{}, bad
	}
	return deliveryCursor{time: time.Unix(0, n), id: id}, nil
}

func sortNewestFirst(ss []delivery.Summary) {
	sort.Slice(ss, func(i, j int) bool {
		a, b := ss[i].Last, ss[j].Last
		if !a.EventTime.Equal(b.EventTime) {
			return a.EventTime.After(b.EventTime)
		}
		return a.DeliveryID > b.DeliveryID
	})
}

func (a *API) listDeliveries(w http.ResponseWriter, r *http.Request) {
	q, err := parseDeliveryQuery(r)
	if err != nil {
		writeError(w, err)
		return
	}
	ep, err := a.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	all, err := a.deliveries.Summaries(r.Context(), ep.ID)
	if err != nil {
		writeError(w, natsError("deliveries not read", err))
		return
	}
	sortNewestFirst(all)
	out := deliveryList{Data: []deliveryView{}}
	var last delivery.Summary
	for _, s := range all {
		if !q.keep(s) {
			continue
		}
		if len(out.Data) == q.limit {
			out.HasMore = true
			break
		}
		out.Data = append(out.Data, summaryView(s))
		last = s
	}
	if out.HasMore {
		out.NextCursor = deliveryCursor{time: last.Last.EventTime, id: last.Last.DeliveryID}.String()
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) history(r *http.Request) ([]delivery.Attempt, error) {
	id := r.PathValue("id")
	if !deliveryIDPattern.MatchString(id) {
		// Never let an id reach a subject filter as a wildcard.
		return nil, notFound("delivery", id)
	}
	hist, err := a.deliveries.History(r.Context(), id)
	if errors.Is(err, delivery.ErrNotFound) {
		return nil, notFound("delivery", id)
	}
	if err != nil {
		return nil, natsError("delivery not read", err)
	}
	if acc := accessOf(r); !acc.admin() {
		ep, err := a.store.Get(r.Context(), hist[0].EndpointID)
		if err != nil || !acc.canSee(ep.Tenant) {
			return nil, notFound("delivery", id)
		}
	}
	return hist, nil
}

func historyView(hist []delivery.Attempt) deliveryView {
	v := summaryView(delivery.Summary{Last: hist[len(hist)-1]})
	attempts := []attemptView{}
	for _, a := range hist {
		if a.Outcome == delivery.OutcomePending || a.Outcome == delivery.OutcomeBatched {
			continue // not attempts: queued, collected into a batch
		}
		attempts = append(attempts, attemptView{Attempt: a.Number, Time: a.Time, StatusCode: a.StatusCode,
			Error: a.Error, DurationSeconds: a.DurationSeconds, Response: a.Response, Outcome: string(a.Outcome)})
	}
	v.Attempts = &attempts
	return v
}

func (a *API) getDelivery(w http.ResponseWriter, r *http.Request) {
	hist, err := a.history(r)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, historyView(hist))
}

type retryInput struct {
	Force bool `json:"force"`
}

// retryDelivery queues a failed or dead delivery again now; a succeeded one
// only with force. A pending one is already queued.
func (a *API) retryDelivery(w http.ResponseWriter, r *http.Request) {
	var in retryInput
	if r.ContentLength != 0 {
		if err := decodeBody(w, r, maxSmallBody, &in); err != nil {
			writeError(w, err)
			return
		}
	}
	hist, err := a.history(r)
	if err != nil {
		writeError(w, err)
		return
	}
	last := delivery.Summary{Last: hist[len(hist)-1]}
	if isBatch(last.Last) {
		writeError(w, errBatchNotRequeueable)
		return
	}
	switch last.Status() {
	case delivery.StatusPending:
		writeError(w, &apiError{Status: http.StatusConflict, Code: "already_queued", Message: "the delivery is already queued"})
		return
	case delivery.StatusSucceeded:
		if !in.Force {
			writeError(w, &apiError{Status: http.StatusConflict, Code: "already_succeeded", Message: `the delivery succeeded: send {"force":true} to deliver it again`})
			return
		}
	case delivery.StatusBatched:
		if !in.Force {
			writeError(w, &apiError{Status: http.StatusConflict, Code: "already_batched",
				Message: `the delivery went into batch ` + last.Last.BatchID + `: send {"force":true} to collect it into a new batch`})
			return
		}
	}
	pending, err := a.requeue(r, last.Last)
	if err != nil {
		writeError(w, err)
		return
	}
	// The answer is the state just written, whatever a fast worker did since.
	writeJSON(w, http.StatusAccepted, historyView(append(hist, pending)))
}

func (a *API) requeue(r *http.Request, last delivery.Attempt) (delivery.Attempt, error) {
	ep, err := a.store.Get(r.Context(), last.EndpointID)
	if err != nil {
		return delivery.Attempt{}, notFound("endpoint", last.EndpointID)
	}
	pending, err := delivery.Requeue(r.Context(), a.topo, last, ep.Layout(), renderFor(ep), a.store.Sealer())
	if errors.Is(err, delivery.ErrEventExpired) {
		return delivery.Attempt{}, &apiError{Status: http.StatusConflict, Code: "event_expired", Message: err.Error() + ": events are kept 7 days"}
	}
	if err != nil {
		return delivery.Attempt{}, natsError("delivery not queued", err)
	}
	a.log.Info("delivery requeued", "delivery", last.DeliveryID, "endpoint", last.EndpointID)
	return pending, nil
}

type recoverInput struct {
	Since string `json:"since"`
	Until string `json:"until"`
}

// recoverEndpoint queues again every failed or dead delivery of the
// endpoint whose event was accepted in [since, until], and every delivery
// that went into a batch now dead.
func (a *API) recoverEndpoint(w http.ResponseWriter, r *http.Request) {
	var in recoverInput
	if err := decodeBody(w, r, maxSmallBody, &in); err != nil {
		writeError(w, err)
		return
	}
	win, err := parseWindow(in.Since, in.Until)
	if err != nil {
		writeError(w, err)
		return
	}
	since, until := win.Since, win.Until
	ep, err := a.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	all, err := a.deliveries.Summaries(r.Context(), ep.ID)
	if err != nil {
		writeError(w, natsError("deliveries not read", err))
		return
	}
	deadBatches := map[string]bool{}
	for _, s := range all {
		if isBatch(s.Last) && s.Status() == delivery.StatusDead {
			deadBatches[s.Last.DeliveryID] = true
		}
	}
	n := 0
	for _, s := range all {
		t := s.Last.EventTime
		st := s.Status()
		// A dead batch is recovered through its members: collected again,
		// into a new batch.
		again := st == delivery.StatusFailed || st == delivery.StatusDead || st == delivery.StatusBatched && deadBatches[s.Last.BatchID]
		if !again || isBatch(s.Last) || t.Before(since) || t.After(until) {
			continue
		}
		if _, err := a.requeue(r, s.Last); err != nil {
			var ae *apiError
			if errors.As(err, &ae) && ae.Code == "event_expired" {
				continue // nothing left to send
			}
			if errors.As(err, &ae) {
				ae.Message = fmt.Sprintf("requeued %d, then stopped: %s", n, ae.Message)
			}
			writeError(w, err)
			return
		}
		n++
	}
	a.log.Info("endpoint recovered", "endpoint", ep.ID, "requeued", n)
	writeJSON(w, http.StatusAccepted, map[string]int{"requeued": n})
}

// isBatch reports whether a log record is a batch's: a batch has no event
// of its own to render it from again.
func isBatch(a delivery.Attempt) bool {
	return a.EventType == delivery.BatchEventType && a.EventSeq == 0
}

var errBatchNotRequeueable = &apiError{Status: http.StatusConflict, Code: "batch_not_requeueable",
	Message: "a batch is retried whole by its endpoint's schedule and cannot be queued again: POST /v1/endpoints/{id}/recover collects the events of dead batches into new batches"}
