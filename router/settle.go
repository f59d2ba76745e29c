package router

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// settle acks a routed event and naks a failed one with a growing delay.
// An event that still cannot reach some endpoints after
// Config.MaxRouteAttempts is dead-lettered for those endpoints, so one
// broken endpoint stream cannot hold an event (and its re-routing to every
// other endpoint) forever.
func (r *Router) settle(ctx context.Context, m jetstream.Msg, err error) {
	if err == nil {
		if err := m.Ack(); err != nil {
			r.log.Warn("ack event", "err", err)
		}
		return
	}
	attempts := uint64(1)
	if meta, merr := m.Metadata(); merr == nil {
		attempts = meta.NumDelivered
	}
	var pe *PublishError
	if attempts >= uint64(r.cfg.MaxRouteAttempts) && errors.As(err, &pe) {
		derr := r.deadLetter(context.WithoutCancel(ctx), m, pe)
		if derr == nil {
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
