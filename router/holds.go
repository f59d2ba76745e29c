package router

import "sync"

// holds counts, per event, the naks that only held it (an endpoint it may
// go to being created, the endpoints view not confirmed yet): those are
// not failed routings, so they must not count toward MaxRouteAttempts and
// MaxHoldAttempts. JetStream's NumDelivered counts every delivery; settle
// subtracts the holds this process made. Holds another router made are not
// known here and count as attempts, as they would without this.
type holds struct {
	mu sync.Mutex
	n  map[holdKey]uint64
}

// holdKey is an event in one lane: its consumer and stream sequence.
type holdKey struct {
	consumer string
	seq      uint64
}

// maxHeldEvents bounds the events whose holds are counted. Beyond it the
// counts start over: an event then looks retried more often than it was,
// which at worst dead-letters it early (recoverable), as before holds
// were counted apart.
const maxHeldEvents = 1 << 16

// add counts one hold of k and returns how many it had before.
func (h *holds) add(k holdKey) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == nil || len(h.n) >= maxHeldEvents {
		h.n = make(map[holdKey]uint64)
	}
	n := h.n[k]
	h.n[k] = n + 1
	return n
}

// of returns how often k was held.
func (h *holds) of(k holdKey) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[k]
}

// forget drops k's count once the event is settled for good.
func (h *holds) forget(k holdKey) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.n, k)
}
