package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/internal/kvjson"
	"github.com/hookd/hookd/ops"
)

// health is an endpoint's run of failures, shared by all workers.
type health struct {
	FailingSince time.Time `json:"failing_since"`
	Consecutive  int       `json:"consecutive"`
}

// noteFailure counts a failed attempt and disables the endpoint once it has
// only failed for Config.AutoDisableAfter (or Config.AutoDisableFailures
// attempts in a row).
func (w *Worker) noteFailure(ctx context.Context, ep *endpoint.Endpoint, now time.Time) {
	w.healthy.Delete(ep.ID)
	var h *health
	for range 3 { // concurrent workers: retry a lost compare-and-set
		cur, rev, err := w.health.Get(ctx, ep.ID)
		if errors.Is(err, kvjson.ErrNotFound) {
			cur, rev, err = &health{}, 0, nil
		}
		if err != nil {
			w.log.Warn("endpoint health not read", "endpoint", ep.ID, "err", err)
			return
		}
		if cur.Consecutive == 0 {
			cur.FailingSince = now
		}
		cur.Consecutive++
		err = w.health.Put(ctx, ep.ID, cur, rev)
		if errors.Is(err, kvjson.ErrConflict) || errors.Is(err, kvjson.ErrExists) {
			continue
		}
		if err != nil {
			w.log.Warn("endpoint health not written", "endpoint", ep.ID, "err", err)
			return
		}
		h = cur
		break
	}
	if h == nil || ep.Disabled {
		return
	}
	failingFor := now.Sub(h.FailingSince)
	switch {
	case w.cfg.AutoDisableAfter > 0 && failingFor >= w.cfg.AutoDisableAfter:
		w.disable(ctx, ep.ID, fmt.Sprintf("only failures for %s (%d attempts)", failingFor.Round(time.Millisecond), h.Consecutive))
	case w.cfg.AutoDisableFailures > 0 && h.Consecutive >= w.cfg.AutoDisableFailures:
		w.disable(ctx, ep.ID, fmt.Sprintf("%d failed attempts in a row", h.Consecutive))
	}
}

// noteSuccess ends an endpoint's run of failures, announcing its recovery.
// An endpoint known healthy costs nothing.
func (w *Worker) noteSuccess(ctx context.Context, ep *endpoint.Endpoint) {
	if _, ok := w.healthy.Load(ep.ID); ok {
		return
	}
	h, _, err := w.health.Get(ctx, ep.ID)
	if err == nil && h.Consecutive > 0 {
		if err := w.health.Delete(ctx, ep.ID); err == nil {
			w.emit(ctx, ops.EndpointRecovered, ep.ID+"."+h.FailingSince.Format(time.RFC3339Nano), map[string]any{
				"endpoint_id": ep.ID, "failing_since": h.FailingSince, "failed_attempts": h.Consecutive,
			})
		}
	}
	w.healthy.Store(ep.ID, true)
}

// disable turns an endpoint off (410 Gone, or auto-disable); its
// deliveries are held until it is enabled again, and it starts afresh.
func (w *Worker) disable(ctx context.Context, endpointID, reason string) {
	_, err := w.endpoints.Update(ctx, endpointID, func(e *endpoint.Endpoint) error {
		e.Disabled = true
		return nil
	})
	if err != nil {
		w.log.Error("endpoint not disabled", "endpoint", endpointID, "reason", reason, "err", err)
		return
	}
	_ = w.health.Delete(ctx, endpointID)
	w.log.Warn("endpoint disabled: its deliveries are held until it is enabled", "endpoint", endpointID, "reason", reason)
	w.emit(ctx, ops.EndpointDisabled, endpointID+"."+time.Now().UTC().Format(time.RFC3339), map[string]any{
		"endpoint_id": endpointID, "reason": reason,
	})
}

// emit publishes an operational event, logging a failure.
func (w *Worker) emit(ctx context.Context, name, id string, data any) {
	if err := w.cfg.Ops.Publish(ctx, name, id, data); err != nil {
		w.log.Warn("operational event not published", "event", name, "err", err)
	}
}

// deliveryOps announces a delivery failing for a while or exhausted; never
// for deliveries of operational events themselves.
func (w *Worker) deliveryOps(ctx context.Context, rec delivery.Attempt, failures int) {
	if ops.IsOps(rec.EventType) {
		return
	}
	data := map[string]any{
		"delivery_id": rec.DeliveryID, "endpoint_id": rec.EndpointID, "event_id": rec.EventID,
		"event_type": rec.EventType, "attempts": rec.Number, "last_error": rec.Error, "last_status_code": rec.StatusCode,
	}
	switch {
	case rec.Outcome == delivery.OutcomeDead:
		w.emit(ctx, ops.DeliveryExhausted, rec.DeliveryID+"."+fmt.Sprint(rec.Number), data)
	case rec.Outcome == delivery.OutcomeRetrying && failures == w.cfg.FailingAfter:
		w.emit(ctx, ops.DeliveryFailing, rec.DeliveryID+"."+fmt.Sprint(rec.Number), data)
	}
}
