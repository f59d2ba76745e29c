package router

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/topology"
)

// IndexRecord is what GET /v1/events/{id} reads: where the event is stored
// and which endpoints it was routed to.
type IndexRecord struct {
	EventID  string        `json:"event_id"`
	Tenant   string        `json:"tenant"`
	Type     string        `json:"type"`
	Seq      uint64        `json:"seq"`
	Time     time.Time     `json:"time"`
	RoutedTo []RoutedEntry `json:"routed_to"`
}

// RoutedEntry is one endpoint an event was routed to.
type RoutedEntry struct {
	EndpointID string `json:"endpoint_id"`
	DeliveryID string `json:"delivery_id"`
}

// indexRecord lists the targets reached now and those an earlier routing
// of the event reached.
func indexRecord(e *event.Event, targets []target, reached map[string]bool, ordered bool) *nats.Msg {
	rec := IndexRecord{EventID: e.ID, Tenant: e.Tenant, Type: e.Type, Seq: e.Seq, Time: e.Time, RoutedTo: make([]RoutedEntry, 0, len(targets)+len(reached))}
	for id := range reached {
		rec.RoutedTo = append(rec.RoutedTo, RoutedEntry{EndpointID: id, DeliveryID: delivery.ID(e.ID, id)})
	}
	for _, t := range targets {
		if t.err == nil {
			rec.RoutedTo = append(rec.RoutedTo, RoutedEntry{EndpointID: t.ep.ID, DeliveryID: delivery.ID(e.ID, t.ep.ID)})
		}
	}
	subject := topology.IndexSubject(e.Tenant, e.ID)
	if ordered {
		subject = topology.OrderedIndexSubject(e.Tenant, e.ID)
	}
	slices.SortFunc(rec.RoutedTo, func(a, b RoutedEntry) int { return strings.Compare(a.EndpointID, b.EndpointID) })
	m := nats.NewMsg(subject)
	m.Data, _ = json.Marshal(rec)
	return m
}
