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
// that endpoint. Retries go only to the endpoints not reached yet. Naks
// that only held the event back (holds) are not attempts.
func (r *Router) settle(ctx context.Context, m jetstream.Msg, err error) settlement {
	var key holdKey
	attempts := uint64(1)
	if meta, merr := m.Metadata(); merr == nil {
		key = holdKey{consumer: meta.Consumer, seq: meta.Sequence.Stream}
		attempts = meta.NumDelivered
	}
	if err == nil {
		r.holds.forget(key)
		if err := m.Ack(); err != nil {
			r.log.Warn("ack event", "err", err)
		}
		return settleAcked
	}
	if errors.Is(err, ErrEndpointCreating) || errors.Is(err, errMembership) {
		// Not a failure: it ends within milliseconds, or after
		// Config.PendingHold (creating.holds), and is not counted as an
		// attempt.
		n := r.holds.add(key)
		delay := creatingRetry
		if errors.Is(err, errMembership) {
			// The view could not be confirmed: JetStream is unavailable
			// or slow, so back off as a failed routing would.
			delay = min(creatingRetry<<min(n, 7), 10*time.Second)
		}
		r.log.Debug("event held: an endpoint it may go to is being created, or the endpoints view is not confirmed", "subject", m.Subject(), "retry_in", delay, "err", err)
		_ = m.NakWithDelay(delay)
		return settleHeldBack
	}
	if h := r.holds.of(key); h < attempts {
		attempts -= h
	} else {
		attempts = 1
	}
	var pe *PublishError
	if errors.As(err, &pe) && isStreamFull(pe) && attempts < uint64(r.cfg.MaxHoldAttempts) {
		delay := min(time.Second<<min(attempts-1, 4), 10*time.Second)
		r.log.Warn("endpoint stream full, routing held back", "subject", m.Subject(), "attempt", attempts, "retry_in", delay, "err", err)
		_ = m.NakWithDelay(delay)
		return settleFull
	}
	if attempts >= uint64(r.cfg.MaxRouteAttempts) && pe != nil {
		derr := r.deadLetter(context.WithoutCancel(ctx), m, pe)
		if derr == nil {
			r.m.DeadLettered(len(pe.Failed))
			r.log.Error("event dead-lettered for endpoints it could not reach", "subject", m.Subject(), "attempts", attempts, "err", err)
			r.holds.forget(key)
			_ = m.Ack()
			return settleDeadLettered
		}
		r.log.Error("routing dead letter failed", "err", derr)
	}
	delay := min(100*time.Millisecond<<min(attempts, 8), 10*time.Second)
	r.log.Warn("routing failed, will retry", "subject", m.Subject(), "attempt", attempts, "retry_in", delay, "err", err)
	_ = m.NakWithDelay(delay)
	return settleRetry
}

// settlement is what settle did with an event.
type settlement int

const (
	settleAcked        settlement = iota // routed
	settleHeldBack                       // waits for an endpoint's creation or a confirmed view; not an attempt
	settleFull                           // an endpoint's backlog is full: retried until it has room
	settleDeadLettered                   // dead-lettered for the endpoints it could not reach
	settleRetry                          // routing failed: retried
)

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
