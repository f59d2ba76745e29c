package router

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/topology"
)

// settle acks a routed event and naks a failed one with a growing delay.
// An event that still cannot reach some endpoints after
// Config.MaxRouteAttempts is dead-lettered for those endpoints, so one
// broken endpoint stream cannot hold an event (and its re-routing to every
// other endpoint) forever. A full endpoint stream is not broken: it is
// backpressure, so an event that could not be published to one is held,
// retried every few seconds until the stream has room again (its workers
// drained it), for Config.MaxHoldAttempts before it is dead-lettered for
// that endpoint. Retries go only to the endpoints not reached yet.
func (r *Router) settle(ctx context.Context, m jetstream.Msg, err error) {
	if err == nil {
		if err := m.Ack(); err != nil {
			r.log.Warn("ack event", "err", err)
		}
		return
	}
	if errors.Is(err, ErrEndpointCreating) {
		// Not a failure: it ends within milliseconds, or after
		// Config.PendingHold (creating.holds).
		r.log.Debug("event held: an endpoint it may go to is being created", "subject", m.Subject(), "err", err)
		_ = m.NakWithDelay(creatingRetry)
		return
	}
	attempts := uint64(1)
	if meta, merr := m.Metadata(); merr == nil {
		attempts = meta.NumDelivered
	}
	var pe *PublishError
	if errors.As(err, &pe) && isStreamFull(pe) && attempts < uint64(r.cfg.MaxHoldAttempts) {
		delay := min(time.Second<<min(attempts-1, 4), 10*time.Second)
		r.log.Warn("endpoint stream full, routing held back", "subject", m.Subject(), "attempt", attempts, "retry_in", delay, "err", err)
		_ = m.NakWithDelay(delay)
		return
	}
	if attempts >= uint64(r.cfg.MaxRouteAttempts) && pe != nil {
		derr := r.deadLetter(context.WithoutCancel(ctx), m, pe)
		if derr == nil {
			r.m.DeadLettered(len(pe.Failed))
			r.log.Error("event dead-lettered for endpoints it could not reach", "subject", m.Subject(), "attempts", attempts, "err", err)
			_ = m.Ack()
			return
		}
		r.log.Error("routing dead letter failed", "err", derr)
	}
	delay := min(100*time.Millisecond<<min(attempts, 8), 10*time.Second)
	r.log.Warn("routing failed, will retry", "subject", m.Subject(), "attempt", attempts, "retry_in", delay, "err", err)
	_ = m.NakWithDelay(delay)
}

// isStreamFull reports whether some endpoint stream refused the event
// because it is full (topology.IsStreamFull). Then the event is held, not
// dead-lettered, even for the other endpoints that failed: it is
// dead-lettered for those at the first failure once the full streams have
// room, so nothing is lost either way.
func isStreamFull(pe *PublishError) bool {
	for _, err := range pe.Failed {
		if topology.IsStreamFull(err) {
			return true
		}
	}
	return false
}
