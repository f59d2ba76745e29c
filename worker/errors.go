package worker

import (
	"errors"
	"fmt"
)

// RetryableError is a failed attempt worth repeating: a timeout, a
// connection error, or a 3xx, 408, 429 or 5xx answer.
type RetryableError struct {
	StatusCode int
	Err        error
}

func (e *RetryableError) Error() string { return describe(e.StatusCode, e.Err) }
func (e *RetryableError) Unwrap() error { return e.Err }

// PermanentError is a failed attempt that repeating cannot fix: a 4xx answer
// other than 408 and 429.
type PermanentError struct {
	StatusCode int
	Err        error
}

func (e *PermanentError) Error() string { return describe(e.StatusCode, e.Err) }
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

// errEndpointGone: the endpoint was deleted while a delivery was pending.
var errEndpointGone = errors.New("endpoint deleted")
