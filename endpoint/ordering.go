package endpoint

import (
	"github.com/hookd/hookd/rules"
	"github.com/hookd/hookd/topology"
)

// Orderings an endpoint can ask for.
const (
	// OrderingNone (also "") delivers in parallel: the fastest, and what
	// most receivers need.
	OrderingNone = "none"
	// OrderingOrdered delivers in the order the events were accepted, one
	// at a time; a failing delivery holds back the ones after it until it
	// succeeds or is dead-lettered. With an ordering key, only deliveries
	// with the same key wait for each other.
	OrderingOrdered = "ordered"
)

// KeyLanes is how many lanes an ordered endpoint with an ordering key
// spreads its keys over: up to this many deliveries (of different keys) are
// in flight at once, and each lane is delivered in order.
const KeyLanes = 16

// Ordered reports whether deliveries must arrive in acceptance order.
func (e *Endpoint) Ordered() bool { return e.Ordering == OrderingOrdered }

// Layout is how the endpoint's deliveries are stored and consumed.
func (e *Endpoint) Layout() topology.EndpointLayout {
	l := topology.EndpointLayout{MaxInFlight: e.MaxInFlight, Ordered: e.Ordered(), Batched: e.Batched(), RateLimited: e.RateLimit > 0}
	if l.Ordered && e.OrderingKey != "" {
		l.Lanes = KeyLanes
	}
	return l
}

func (e *Endpoint) validateOrdering() error {
	switch e.Ordering {
	case "", OrderingNone, OrderingOrdered:
	default:
		return fieldErr("ordering", "must be none or ordered, not %q", e.Ordering)
	}
	if e.OrderingKey == "" {
		if e.Ordered() && e.MaxInFlight > 0 {
			return fieldErr("max_in_flight", "an ordered endpoint has one delivery in flight: leave max_in_flight unset")
		}
		return nil
	}
	if !e.Ordered() {
		return fieldErr("ordering_key", "needs ordering \"ordered\"")
	}
	if e.MaxInFlight > 0 {
		return fieldErr("max_in_flight", "an ordered endpoint with a key has one delivery in flight per lane (%d lanes): leave max_in_flight unset", KeyLanes)
	}
	if _, err := rules.CompileKey(e.OrderingKey); err != nil {
		return &FieldError{Field: "ordering_key", Message: err.Error()}
	}
	return nil
}
