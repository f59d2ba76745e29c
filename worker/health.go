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
	"github.com/hookd/hookd/tenant"
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
			w.emit(ctx, ep.Tenant, ops.EndpointRecovered, ep.ID+"."+h.FailingSince.Format(time.RFC3339Nano), ops.EndpointData{
				Tenant: tenant.Normalize(ep.Tenant), EndpointID: ep.ID, FailingSince: &h.FailingSince, FailedAttempts: h.Consecutive,
			})
		}
	}
	w.healthy.Store(ep.ID, true)
}

// disable turns an endpoint off (410 Gone, or auto-disable); its
// deliveries are held until it is enabled again, and it starts afresh.
func (w *Worker) disable(ctx context.Context, endpointID, reason string) {
	_, err := w.endpoints.Update(ctx, endpointID, func(e *endpoint.Endpoint) error {
		e.Disabled, e.DisabledReason = true, reason
		return nil
	})
	if err != nil {
		w.log.Error("endpoint not disabled", "endpoint", endpointID, "reason", reason, "err", err)
		return
	}
	_ = w.health.Delete(ctx, endpointID)
	w.log.Warn("endpoint disabled: its deliveries are held until it is enabled", "endpoint", endpointID, "reason", reason)
	tenantID := w.tenantOf(endpointID)
	w.emit(ctx, tenantID, ops.EndpointDisabled, endpointID+"."+time.Now().UTC().Format(time.RFC3339), ops.EndpointData{
		Tenant: tenant.Normalize(tenantID), EndpointID: endpointID, Reason: reason,
	})
}

// emit publishes an operational event to a tenant, logging a failure.
func (w *Worker) emit(ctx context.Context, tenantID, name, id string, data any) {
	if err := w.cfg.Ops.Publish(ctx, tenantID, name, id, data); err != nil {
		w.log.Warn("operational event not published", "event", name, "err", err)
	}
}

// tenantOf returns the tenant of an endpoint, "" if it is unknown.
func (w *Worker) tenantOf(endpointID string) string {
	if ep := w.reg.Snapshot().Get(endpointID); ep != nil {
		return ep.Tenant
	}
	return ""
}

// deliveryOps announces a delivery failing for a while, exhausted, or
// (when configured) succeeded; never for deliveries of operational events
// themselves.
func (w *Worker) deliveryOps(ctx context.Context, rec delivery.Attempt, failures int) {
	if ops.IsOps(rec.EventType) && rec.EventType != delivery.BatchEventType {
		return
	}
	tenantID := w.tenantOf(rec.EndpointID)
	data := ops.DeliveryData{
		Tenant: tenant.Normalize(tenantID), DeliveryID: rec.DeliveryID, EndpointID: rec.EndpointID, EventID: rec.EventID,
		EventType: rec.EventType, Attempts: rec.Number, LastError: rec.Error, LastStatusCode: rec.StatusCode,
		DurationSeconds: rec.DurationSeconds,
	}
	id := rec.DeliveryID + "." + fmt.Sprint(rec.Number)
	switch {
	case rec.Outcome == delivery.OutcomeSucceeded && w.cfg.OpsDeliverySucceeded:
		w.emit(ctx, tenantID, ops.DeliverySucceeded, id, data)
	case rec.Outcome == delivery.OutcomeDead:
		w.emit(ctx, tenantID, ops.DeliveryExhausted, id, data)
	case rec.Outcome == delivery.OutcomeRetrying && failures == w.cfg.FailingAfter:
		w.emit(ctx, tenantID, ops.DeliveryFailing, id, data)
	}
}
