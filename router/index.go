package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

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
func indexRecord(names topology.Names, e *event.Event, targets []target, reached map[string]bool, ordered bool) *nats.Msg {
	rec := IndexRecord{EventID: e.ID, Tenant: e.Tenant, Type: e.Type, Seq: e.Seq, Time: e.Time, RoutedTo: make([]RoutedEntry, 0, len(targets)+len(reached))}
	for id := range reached {
		rec.RoutedTo = append(rec.RoutedTo, RoutedEntry{EndpointID: id, DeliveryID: delivery.ID(e, id)})
	}
	for _, t := range targets {
		if t.err == nil {
			rec.RoutedTo = append(rec.RoutedTo, RoutedEntry{EndpointID: t.ep.ID, DeliveryID: delivery.ID(e, t.ep.ID)})
		}
	}
	subject := names.IndexSubject(e.Tenant, e.ID)
	if ordered {
		subject = names.OrderedIndexSubject(e.Tenant, e.ID)
	}
	slices.SortFunc(rec.RoutedTo, func(a, b RoutedEntry) int { return strings.Compare(a.EndpointID, b.EndpointID) })
	m := nats.NewMsg(subject)
	m.Data, _ = json.Marshal(rec)
	return m
}

// addToIndex adds a backfilled delivery to the event's index record (the
// parallel lane's, which routing always writes), so GET /v1/events/{id}
// lists the endpoint. A failure is only logged by the caller: the index
// never holds delivery back.
func addToIndex(ctx context.Context, js jetstream.JetStream, names topology.Names, index jetstream.Stream, e *event.Event, endpointID string) error {
	subject := names.IndexSubject(e.Tenant, e.ID)
	rec := IndexRecord{EventID: e.ID, Tenant: e.Tenant, Type: e.Type, Seq: e.Seq, Time: e.Time}
	raw, err := index.GetLastMsgForSubject(ctx, subject)
	switch {
	case err == nil:
		if err := json.Unmarshal(raw.Data, &rec); err != nil {
			return fmt.Errorf("index record of %s: %w", e.ID, err)
		}
	case !errors.Is(err, jetstream.ErrMsgNotFound):
		return fmt.Errorf("index record of %s: %w", e.ID, err)
	}
	entry := RoutedEntry{EndpointID: endpointID, DeliveryID: delivery.ID(e, endpointID)}
	if slices.Contains(rec.RoutedTo, entry) {
		return nil
	}
	rec.RoutedTo = append(rec.RoutedTo, entry)
	slices.SortFunc(rec.RoutedTo, func(a, b RoutedEntry) int { return strings.Compare(a.EndpointID, b.EndpointID) })
	b, _ := json.Marshal(rec)
	if _, err := js.Publish(ctx, subject, b); err != nil {
		return fmt.Errorf("index record of %s: %w", e.ID, err)
	}
	return nil
}
