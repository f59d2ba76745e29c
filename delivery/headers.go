package delivery

import (
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/topology"
)

// Subject is where a delivery to an endpoint is published: its lane's
// subject for a lane above 0, else the endpoint's delivery subject.
func Subject(names topology.Names, endpointID string, lane int) string {
	if lane > 0 {
		return names.LaneSubject(endpointID, strconv.Itoa(lane))
	}
	return names.DeliverySubject(endpointID)
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
