package delivery

import (
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/topology"
)

// Subject is where a delivery to an endpoint with layout l is published:
// an ordered endpoint's lane (lane 0 when it has no ordering key), a plain
// endpoint's queue subject unless held (a disabled endpoint: its
// deliveries wait for it in HeldStream, not in the shard consumers' way),
// else the endpoint's held subject.
func Subject(names topology.Names, l topology.EndpointLayout, endpointID string, lane int, held bool) string {
	switch {
	case l.Ordered:
		return names.OrderedSubject(endpointID, lane)
	case l.Plain() && !held:
		return names.QueueSubject(endpointID)
	}
	return names.HeldSubject(endpointID)
}

// HeaderMoved marks a delivery a worker moved out of QueueStream (a retry
// to wait for, or an endpoint that could not take it then): its attempts
// so far are in the delivery log, which the worker reads before
// attempting it, as for a redelivery.
const HeaderMoved = "Hookd-Moved"

// HeaderRouteRetry marks a delivery published by a router that routes its
// event again (the event was redelivered): the first routing may have
// delivered it directly (the fast path) before failing to finish, so the
// worker reads the delivery log before attempting it, as for a
// redelivery.
const HeaderRouteRetry = "Hookd-Route-Retry"

// SetHeaders sets the headers a delivery of e to an endpoint carries
// through the endpoint's stream.
func SetHeaders(h nats.Header, e *event.Event, endpointID string) {
	SetEventHeaders(h, e)
	SetEndpointHeaders(h, e, endpointID)
}

// SetEventHeaders sets the part of SetHeaders that depends on e alone. A
// router publishing e to several endpoints sets them once, in a header it
// copies into each delivery (the values are shared: a message's header is
// only read once made), then SetEndpointHeaders in each.
func SetEventHeaders(h nats.Header, e *event.Event) {
	// One backing array; each value capped at one, so an append copies.
	v := [...]string{e.ID, e.Type, strconv.FormatUint(e.Seq, 10), e.Time.Format(time.RFC3339Nano)}
	s := v[:]
	h[HeaderEventID], h[HeaderEventType], h[HeaderEventSeq], h[HeaderEventTime] = s[0:1:1], s[1:2:2], s[2:3:3], s[3:4:4]
}

// SetEndpointHeaders sets the part of SetHeaders that depends on the
// endpoint: the delivery of e to endpointID.
func SetEndpointHeaders(h nats.Header, e *event.Event, endpointID string) {
	v := [...]string{endpointID, ID(e, endpointID)}
	s := v[:]
	h[HeaderEndpointID], h[HeaderDeliveryID] = s[0:1:1], s[1:2:2]
}
