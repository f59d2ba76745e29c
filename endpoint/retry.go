package endpoint

import (
	"fmt"
	"time"
)

// Limits on a retry policy.
const (
	maxRetrySteps   = 30
	maxRetryStep    = 72 * time.Hour
	maxAttemptsCap  = 50
	minRetryStepLen = 10 * time.Millisecond
)

// RetryPolicy overrides the server's retry schedule for one endpoint. The
// zero value means the server's default.
type RetryPolicy struct {
	// Schedule is the delay before each retry. Optional: default the
	// server's --retry-schedule.
	Schedule []time.Duration `json:"schedule,omitempty"`
	// MaxAttempts caps the attempts, the first included: the schedule is cut
	// short, or its last step repeated, to fit. Optional: 0 means one
	// attempt more than the schedule has steps.
	MaxAttempts int `json:"max_attempts,omitempty"`
}

// Effective returns the delays before each retry for this policy, given
// the server's default schedule.
func (p RetryPolicy) Effective(def []time.Duration) []time.Duration {
	s := def
	if len(p.Schedule) > 0 {
		s = p.Schedule
	}
	if p.MaxAttempts <= 0 {
		return s
	}
	retries := p.MaxAttempts - 1
	if retries <= len(s) {
		return s[:retries]
	}
	out := append([]time.Duration(nil), s...)
	last := 5 * time.Second
	if len(s) > 0 {
		last = s[len(s)-1]
	}
	for len(out) < retries {
		out = append(out, last)
	}
	return out
}

func (p RetryPolicy) validate() error {
	if len(p.Schedule) > maxRetrySteps {
		return fieldErr("retry.schedule", "more than %d steps", maxRetrySteps)
	}
	for i, d := range p.Schedule {
		if d < minRetryStepLen || d > maxRetryStep {
			return fieldErr(fmt.Sprintf("retry.schedule[%d]", i), "must be from %s to %s", minRetryStepLen, maxRetryStep)
		}
	}
	if p.MaxAttempts < 0 || p.MaxAttempts > maxAttemptsCap {
		return fieldErr("retry.max_attempts", "must be from 0 (the schedule decides) to %d", maxAttemptsCap)
	}
	return nil
}
