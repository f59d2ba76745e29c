package router

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// wakeEvery bounds how often a router rings one endpoint's doorbell: a
// worker woken keeps pulling far longer than this (worker.Config.IdleAfter),
// so a busy endpoint costs one small message per interval, not one per
// delivery.
const wakeEvery = 250 * time.Millisecond

// doorbell rings endpoints' wake subjects, at most once per wakeEvery for
// each endpoint and lane.
type doorbell struct {
	last sync.Map // bell -> *atomic.Int64, unix ns of the last ring
}

// bell is one endpoint lane's doorbell.
type bell struct {
	id   string
	lane int
}

// ring tells the workers that endpoint id has deliveries queued on lane
// (0 for an endpoint without lanes). The lane is the ring's body: workers
// consume an ordered endpoint's lanes only while they hold deliveries.
func (r *Router) ring(id string, lane int) {
	v, _ := r.bell.last.LoadOrStore(bell{id, lane}, new(atomic.Int64))
	last := v.(*atomic.Int64)
	now := time.Now().UnixNano()
	prev := last.Load()
	if now-prev < int64(wakeEvery) || !last.CompareAndSwap(prev, now) {
		return
	}
	if err := r.js.Conn().Publish(r.names.WakeSubject(id), WakeBody(lane)); err != nil {
		r.log.Debug("doorbell not rung", "endpoint", id, "err", err)
	}
}

// WakeBody is a doorbell's body for a lane: empty for lane 0.
func WakeBody(lane int) []byte {
	if lane <= 0 {
		return nil
	}
	return strconv.AppendInt(nil, int64(lane), 10)
}
