package worker

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/internal/sender"
)

// The retry policy and what follows an attempt, in one place and free of
// NATS: deliver feeds decide the attempt's error, the endpoint's policy
// and the delivery's history, and commits what it returns.

// heldDelay is how long a delivery to a disabled endpoint waits before it
// is looked at again.
const heldDelay = 5 * time.Second

// maxPause caps how long one throttling answer with a Retry-After pauses a
// whole endpoint; the throttled delivery itself waits its own delay.
const maxPause = time.Minute

// breather is the longest pause a throttling answer without Retry-After
// causes: long enough to relieve an overloaded receiver, short enough that
// an occasional 503 costs little.
const breather = time.Second

// goneReason is why a 410 answer disables the endpoint.
const goneReason = "it answered 410 Gone"

// errNotRendered marks a delivery the router could not render in the
// endpoint's format: the endpoint's configuration failed, not the
// receiver, so it is dead at once and does not count towards disabling.
var errNotRendered = errors.New("not rendered in the endpoint's format")

// retryPolicy says when a failed delivery is tried again.
type retryPolicy struct {
	// Schedule is the delay before each retry; its length is the number of
	// retries (endpoint.Policy: the endpoint's, its profile's or
	// Config.RetrySchedule).
	Schedule []time.Duration
	// Jitter spreads each delay by up to this fraction either way (Config.Jitter).
	Jitter float64
	// Rand draws from [0, 1) for the jitter and pause spreading; nil:
	// math/rand/v2. Tests set it to pin the draws.
	Rand func() float64
}

// retryPolicy is the policy of ep as it is configured now.
func (w *Worker) retryPolicy(ep *endpoint.Endpoint) retryPolicy {
	return retryPolicy{Schedule: ep.Policy(w.cfg.RetrySchedule, w.cfg.Timeout).Schedule, Jitter: w.cfg.Jitter}
}

func (p retryPolicy) rand() float64 {
	if p.Rand != nil {
		return p.Rand()
	}
	return rand.Float64()
}

// retryDelay is the wait before the next attempt: the schedule's step,
// jittered, unless the receiver asked for a time with Retry-After, which is
// honoured within [step, 2*step] so a receiver can slow hookd down but not
// stall a delivery for days or hurry it.
func (p retryPolicy) retryDelay(step, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(max(retryAfter, step), 2*step)
	}
	if p.Jitter <= 0 {
		return step
	}
	f := 1 + p.Jitter*(2*p.rand()-1)
	return time.Duration(float64(step) * f)
}

// pauseFor is how long a throttling answer pauses the endpoint: the
// receiver's Retry-After, at most maxPause; without one, the schedule's
// first step, at most breather.
func (p retryPolicy) pauseFor(retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, maxPause)
	}
	if len(p.Schedule) > 0 {
		return min(p.Schedule[0], breather)
	}
	return breather
}

// resumeAfter spreads the deliveries held by a pause of d over a fifth of
// it beyond its end, so they do not all arrive at the endpoint at once.
func (p retryPolicy) resumeAfter(d time.Duration) time.Duration {
	return d + time.Duration(p.rand()*0.2*float64(d))
}

// history is what came before the attempt being decided.
type history struct {
	// Attempt is the attempt's number, counted over the delivery's life.
	Attempt int
	// Base is the number of attempts made before the delivery's current
	// queueing (a manual retry queues it anew, with a fresh schedule).
	Base int
}

// failures is the failed attempts of this queueing, the one decided included.
func (h history) failures() int { return h.Attempt - h.Base }

// decision is what follows an attempt; commit carries it out.
type decision struct {
	// Outcome is the attempt record's: succeeded, retrying or dead.
	Outcome delivery.Outcome
	// Delay is the wait before the next attempt when retrying.
	Delay time.Duration
	// Pause is how long every worker stops sending to the endpoint; 0: none.
	Pause time.Duration
	// Disable is why the endpoint is disabled; "": it is not.
	Disable string
	// CountsFailure says the attempt counts towards the endpoint's failing
	// and auto-disable thresholds.
	CountsFailure bool
	// Ops says the attempt raises its delivery operational events.
	Ops bool
}

// decide maps an attempt's error (nil, or from sender.Send, or
// errNotRendered wrapped in a *sender.PermanentError) to what follows:
//   - success: succeeded;
//   - 410 (*sender.GoneError): the endpoint is disabled and the delivery
//     held (retrying after heldDelay), no failure counted, no ops event;
//   - *sender.RetryableError with schedule left: retrying after the step,
//     jittered or Retry-After clamped; exhausted: dead;
//   - anything else (*sender.PermanentError: 4xx, SSRF refusal, bad
//     secret, not rendered): dead;
//   - a throttling answer (429, 502, 503, 504) also pauses the endpoint,
//     even on its last attempt.
func decide(err error, p retryPolicy, h history) decision {
	if err == nil {
		return decision{Outcome: delivery.OutcomeSucceeded, Ops: true}
	}
	var gone *sender.GoneError
	if errors.As(err, &gone) {
		// Held, not dead: the endpoint is disabled and its deliveries
		// wait for it to be enabled again.
		return decision{Outcome: delivery.OutcomeRetrying, Delay: heldDelay, Disable: goneReason}
	}
	d := decision{Outcome: delivery.OutcomeDead, Ops: true, CountsFailure: !errors.Is(err, errNotRendered)}
	var retry *sender.RetryableError
	if !errors.As(err, &retry) {
		return d
	}
	if n := h.failures(); n <= len(p.Schedule) {
		d.Outcome, d.Delay = delivery.OutcomeRetrying, p.retryDelay(p.Schedule[max(n, 1)-1], retry.After)
	}
	if retry.Throttled {
		d.Pause = p.pauseFor(retry.After)
	}
	return d
}
