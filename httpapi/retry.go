package httpapi

import (
	"fmt"
	"time"

	"github.com/hookd/hookd/endpoint"
)

// retryView is an endpoint's retry policy as the API shows and takes it:
// an empty schedule and max_attempts 0 mean the server's defaults.
type retryView struct {
	Schedule    []string `json:"schedule"`
	MaxAttempts int      `json:"max_attempts"`
}

func retryOf(p endpoint.RetryPolicy) retryView {
	v := retryView{Schedule: make([]string, len(p.Schedule)), MaxAttempts: p.MaxAttempts}
	for i, d := range p.Schedule {
		v.Schedule[i] = d.String()
	}
	return v
}

func (v *retryView) policy() (endpoint.RetryPolicy, error) {
	p := endpoint.RetryPolicy{MaxAttempts: v.MaxAttempts}
	for i, s := range v.Schedule {
		d, err := time.ParseDuration(s)
		if err != nil {
			return p, fieldError(fmt.Sprintf("retry.schedule[%d]", i), "%q is not a duration like 5s or 2h", s)
		}
		p.Schedule = append(p.Schedule, d)
	}
	return p, nil
}
