package worker

import (
	"math/rand/v2"
	"time"
)

// retryDelay is the wait before the next attempt: the schedule's step,
// jittered, unless the receiver asked for a time with Retry-After, which is
// honoured within [step, 2*step] so a receiver can slow hookd down but not
// stall a delivery for days or hurry it.
func retryDelay(step time.Duration, jitter float64, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(max(retryAfter, step), 2*step)
	}
	if jitter <= 0 {
		return step
	}
	f := 1 + jitter*(2*rand.Float64()-1)
	return time.Duration(float64(step) * f)
}
