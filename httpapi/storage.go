package httpapi

import (
	"context"
	"net/http"
)

// StorageState tells whether hookd's storage takes writes (see
// embedded.Storage).
type StorageState interface {
	// Err is nil while storage takes writes, else why not.
	Err() error
	// Refused is closed once storage refuses writes.
	Refused() <-chan struct{}
}

// storageRetryAfter is the Retry-After, in seconds, of a 503
// "storage_full". A full disk lasts until an operator frees space or
// stored events age out, not a second; hookd takes events again within
// seconds of that by itself, so clients are told to come back, but not
// soon.
const storageRetryAfter = 30

// storageFull is the answer to a write refused because storage is full.
func storageFull(what string, err error) *apiError {
	return &apiError{Status: http.StatusServiceUnavailable, Code: "storage_full", RetryAfter: storageRetryAfter,
		Message: what + ": " + err.Error() + "; hookd takes writes again by itself once there is room"}
}

// storageErr is why storage refuses writes, nil while it takes them (and
// when hookd cannot tell: a NATS server of its own).
func (a *API) storageErr() error {
	if a.storage == nil {
		return nil
	}
	return a.storage.Err()
}

// whileStorageTakes returns a context that ends when storage begins to
// refuse writes: a publish to a stream that failed a write gets no
// acknowledgement, and would wait out its whole timeout.
func (a *API) whileStorageTakes(ctx context.Context) (context.Context, context.CancelFunc) {
	if a.storage == nil {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	refused := a.storage.Refused()
	go func() {
		select {
		case <-refused:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
