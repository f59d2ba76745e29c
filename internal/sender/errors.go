package sender

import (
	"fmt"
	"time"
)

// RetryableError is a failed attempt worth repeating: a timeout, a
// connection error, or a 3xx, 408, 429 or 5xx answer.
type RetryableError struct {
	StatusCode int
	Err        error
	// Throttled is set for 429, 502, 503 and 504: the receiver is
	// overloaded, so the whole endpoint is paused, not just this delivery.
	Throttled bool
	// After is the receiver's Retry-After (429, 502, 503, 504), 0 if none.
	After time.Duration
}

// Error says the status code and the cause, whichever are known.
func (e *RetryableError) Error() string { return describe(e.StatusCode, e.Err) }

// Unwrap returns the cause, nil for a plain status code.
func (e *RetryableError) Unwrap() error { return e.Err }

// PermanentError is a failed attempt that repeating cannot fix: a 4xx answer
// other than 408 and 429.
type PermanentError struct {
	StatusCode int
	Err        error
}

// Error says the status code and the cause, whichever are known.
func (e *PermanentError) Error() string { return describe(e.StatusCode, e.Err) }

// Unwrap returns the cause, nil for a plain status code.
func (e *PermanentError) Unwrap() error { return e.Err }

func describe(code int, err error) string {
	switch {
	case err != nil && code != 0:
		return fmt.Sprintf("HTTP %d: %v", code, err)
	case err != nil:
		return err.Error()
	default:
		return fmt.Sprintf("HTTP %d", code)
	}
}

// GoneError is a 410 answer: the receiver says the endpoint is gone for
// good, so hookd disables it and holds its deliveries.
type GoneError struct{}

// Error says the receiver gave the endpoint up.
func (e *GoneError) Error() string { return "HTTP 410: the endpoint is gone; it was disabled" }
