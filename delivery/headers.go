package delivery

import (
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/topology"
)

// Subject is where a delivery to an endpoint with layout l is published:
// an ordered endpoint's lane (lane 0 when it has no ordering key), else
// the endpoint's held subject.
func Subject(names topology.Names, l topology.EndpointLayout, endpointID string, lane int) string {
	if l.Ordered {
		return names.OrderedSubject(endpointID, lane)
	}
	return names.HeldSubject(endpointID)
}

// SetHeaders sets the headers a delivery of e to an endpoint carries
// through the endpoint's stream.
func SetHeaders(h nats.Header, e *event.Event, endpointID string) {
	h.Set(HeaderEventID, e.ID)
	h.Set(HeaderEventType, e.Type)
	h.Set(HeaderEndpointID, endpointID)
	h.Set(HeaderDeliveryID, ID(e.ID, endpointID))
	h.Set(HeaderEventSeq, strconv.FormatUint(e.Seq, 10))
	h.Set(HeaderEventTime, e.Time.Format(time.RFC3339Nano))
}
