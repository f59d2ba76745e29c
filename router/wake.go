package router

import (
	"sync"
	"sync/atomic"
	"time"
)

// wakeEvery bounds how often a router rings one endpoint's doorbell: a
// worker woken keeps pulling far longer than this (worker.Config.IdleAfter),
// so a busy endpoint costs one small message per interval, not one per
// delivery.
const wakeEvery = 250 * time.Millisecond

// doorbell rings endpoints' wake subjects, at most once per wakeEvery each.
type doorbell struct {
	last sync.Map // endpoint id -> *atomic.Int64, unix ns of the last ring
}

// ring tells the workers that endpoint id has deliveries queued.
func (r *Router) ring(id string) {
	v, _ := r.bell.last.LoadOrStore(id, new(atomic.Int64))
	last := v.(*atomic.Int64)
	now := time.Now().UnixNano()
	prev := last.Load()
	if now-prev < int64(wakeEvery) || !last.CompareAndSwap(prev, now) {
		return
	}
	if err := r.js.Conn().Publish(r.names.WakeSubject(id), nil); err != nil {
		r.log.Debug("doorbell not rung", "endpoint", id, "err", err)
	}
}
