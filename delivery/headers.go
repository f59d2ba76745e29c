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

// SetHeaders sets the headers a delivery of e to an endpoint carries
// through the endpoint's stream.
func SetHeaders(h nats.Header, e *event.Event, endpointID string) {
	h.Set(HeaderEventID, e.ID)
	h.Set(HeaderEventType, e.Type)
	h.Set(HeaderEndpointID, endpointID)
	h.Set(HeaderDeliveryID, ID(e, endpointID))
	h.Set(HeaderEventSeq, strconv.FormatUint(e.Seq, 10))
	h.Set(HeaderEventTime, e.Time.Format(time.RFC3339Nano))
}
