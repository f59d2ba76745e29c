package worker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/internal/kvjson"
)

// tokenBucket is an endpoint's rate limit state, shared by every worker
// through a key-value entry. Tokens may go negative: a delivery reserves its
// place and waits for it, so waiting deliveries never spin on the bucket.
type tokenBucket struct {
	Tokens float64   `json:"tokens"`
	At     time.Time `json:"at"`
}

// reserve takes a token from an endpoint's bucket (rate per second, burst
// 1) and returns how long to wait before sending. Concurrent workers
// serialise on the entry's revision.
func (w *Worker) reserve(ctx context.Context, endpointID string, rate float64) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		now := time.Now()
		b, rev, err := w.rate.Get(ctx, endpointID)
		if errors.Is(err, kvjson.ErrNotFound) {
			b, rev, err = &tokenBucket{Tokens: 1, At: now}, 0, nil
		}
		if err != nil {
			return 0, err
		}
		b.Tokens = min(1, b.Tokens+now.Sub(b.At).Seconds()*rate) - 1
		b.At = now
		err = w.rate.Put(ctx, endpointID, b, rev)
		if errors.Is(err, kvjson.ErrConflict) || errors.Is(err, kvjson.ErrExists) {
			// Another delivery took a token meanwhile: try again after a
			// short random pause, so a crowd of them does not collide again.
			time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
			continue
		}
		if err != nil {
			return 0, err
		}
		if b.Tokens >= 0 {
			return 0, nil
		}
		return time.Duration(-b.Tokens / rate * float64(time.Second)), nil
	}
	return 0, fmt.Errorf("rate limit: no token: %w", ctx.Err())
}

// waitRate holds a delivery until the endpoint's rate limit lets it go,
// heartbeating it meanwhile. false means no token could be had (the bucket
// is unreachable): the caller hands the delivery back rather than exceed
// the limit.
func (w *Worker) waitRate(ctx context.Context, endpointID string, rate float64, msg jetstream.Msg) bool {
	if rate <= 0 {
		return true
	}
	stop := w.heartbeat(msg)
	defer stop()
	// One reservation at a time per endpoint in this process: the bucket
	// then sees one contender per worker, not one per delivery.
	mu, _ := w.rateLocks.LoadOrStore(endpointID, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	wait, err := w.reserve(ctx, endpointID, rate)
	mu.(*sync.Mutex).Unlock()
	if err != nil {
		w.log.Warn("rate limit: delivery handed back", "endpoint", endpointID, "err", err)
		return false
	}
	if wait <= 0 {
		return true
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
