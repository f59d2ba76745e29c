package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/rules"
	"github.com/hookd/hookd/topology"
)

// Handler routes one event message; a nil error acknowledges it, any other
// error naks it for a later retry.
type Handler func(ctx context.Context, m jetstream.Msg, ev *rules.Evaluator) error

// Middleware wraps a Handler, e.g. to observe or fault-inject routing.
type Middleware func(Handler) Handler

// PublishError lists the endpoints an event could not be published to.
type PublishError struct {
	Event  *event.Event
	Failed map[string]error // by endpoint id
}

func (e *PublishError) Error() string {
	parts := make([]string, 0, len(e.Failed))
	for id, err := range e.Failed {
		parts = append(parts, id+": "+err.Error())
	}
	return "publish to endpoint streams: " + strings.Join(parts, "; ")
}

// Decode reads an event from a message of the events stream. Its id is the
// Nats-Msg-Id header when the producer set one, else derived from the
// message's stream sequence.
func (r *Router) Decode(m jetstream.Msg) (*event.Event, error) {
	meta, err := m.Metadata()
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	e := &event.Event{
		ID:      m.Headers().Get(jetstream.MsgIDHeader),
		Type:    strings.TrimPrefix(m.Subject(), event.SubjectPrefix),
		Subject: m.Subject(),
		Time:    meta.Timestamp.UTC(),
		Data:    event.NormalizeData(m.Data()),
		Seq:     meta.Sequence.Stream,
	}
	if e.ID == "" {
		e.ID = event.SequenceID(r.seed, meta.Sequence.Stream)
	}
	if h := m.Headers(); len(h) > 0 {
		e.Headers = make(map[string]string, len(h))
		for k, v := range h {
			if len(v) > 0 {
				e.Headers[k] = v[0]
			}
		}
	}
	return e, nil
}

// route publishes the event to every matching endpoint's stream, with a
// pending record in the delivery log, and waits until every publish is
// acknowledged.
func (r *Router) route(ctx context.Context, m jetstream.Msg, ev *rules.Evaluator) error {
	e, err := r.Decode(m)
	if err != nil {
		return err
	}
	env := rules.Env{Type: e.Type, ID: e.ID, Subject: e.Subject, Time: e.Time, Headers: e.Headers}
	if err := json.Unmarshal(e.Data, &env.Data); err != nil {
		return fmt.Errorf("decode data: %w", err)
	}
	var body []byte
	var pending []pendingPublish
	for _, ep := range r.reg.Snapshot().All() {
		if ep.Broken != nil {
			r.log.Error("endpoint skipped: its rule does not compile", "endpoint", ep.ID, "event", e.ID, "err", ep.Broken)
			continue
		}
		ok, err := ep.Rule.Match(ev, &env)
		if err != nil {
			r.log.Debug("filter error, not matched", "endpoint", ep.ID, "event", e.ID, "err", err)
			continue
		}
		if !ok {
			continue
		}
		if body == nil {
			body = e.Envelope()
		}
		p := pendingPublish{endpointID: ep.ID}
		if p.delivery, err = r.js.PublishMsgAsync(deliveryMsg(e, ep, body)); err == nil {
			p.record, err = r.js.PublishMsgAsync(pendingRecord(e, ep))
		}
		if err != nil {
			p.err = err
		}
		pending = append(pending, p)
	}
	r.log.Debug("routed", "event", e.ID, "type", e.Type, "seq", e.Seq, "endpoints", len(pending))
	index, ierr := r.js.PublishMsgAsync(indexRecord(e, pending))
	err = r.await(ctx, e, pending)
	if ierr == nil {
		select {
		case <-index.Ok():
		case ierr = <-index.Err():
		case <-ctx.Done():
			ierr = ctx.Err()
		}
	}
	if ierr != nil {
		// The index only serves GET /v1/events/{id}: never hold delivery for it.
		r.log.Warn("event index not written", "event", e.ID, "err", ierr)
	}
	return err
}

// IndexRecord is what GET /v1/events/{id} reads: where the event is stored
// and which endpoints it was routed to.
type IndexRecord struct {
	EventID  string        `json:"event_id"`
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

func indexRecord(e *event.Event, pending []pendingPublish) *nats.Msg {
	rec := IndexRecord{EventID: e.ID, Type: e.Type, Seq: e.Seq, Time: e.Time, RoutedTo: make([]RoutedEntry, 0, len(pending))}
	for _, p := range pending {
		rec.RoutedTo = append(rec.RoutedTo, RoutedEntry{EndpointID: p.endpointID, DeliveryID: delivery.ID(e.ID, p.endpointID)})
	}
	m := nats.NewMsg(topology.IndexSubject(e.ID))
	m.Data, _ = json.Marshal(rec)
	return m
}

type pendingPublish struct {
	endpointID       string
	delivery, record jetstream.PubAckFuture
	err              error
}

// await waits for every publish; a publish to an endpoint deleted meanwhile
// is not a failure.
func (r *Router) await(ctx context.Context, e *event.Event, pending []pendingPublish) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.PublishTimeout)
	defer cancel()
	failed := map[string]error{}
	for _, p := range pending {
		err := p.err
		for _, f := range []jetstream.PubAckFuture{p.delivery, p.record} {
			if err != nil || f == nil {
				break
			}
			select {
			case <-f.Ok():
			case err = <-f.Err():
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		if err == nil {
			continue
		}
		if r.reg.Snapshot().Get(p.endpointID) == nil &&
			(errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders)) {
			continue // deleted while routing
		}
		failed[p.endpointID] = err
	}
	if len(failed) > 0 {
		return &PublishError{Event: e, Failed: failed}
	}
	return nil
}

func deliveryMsg(e *event.Event, ep *endpoint.Compiled, body []byte) *nats.Msg {
	m := nats.NewMsg(topology.DeliverySubject(ep.ID))
	m.Data = body
	m.Header.Set(jetstream.MsgIDHeader, delivery.MsgID(e.ID, ep.ID))
	delivery.SetHeaders(m.Header, e, ep.ID)
	return m
}

// pendingRecord is the delivery log's first record of a delivery. Its
// Nats-Msg-Id keeps a re-routed event from logging the delivery twice.
func pendingRecord(e *event.Event, ep *endpoint.Compiled) *nats.Msg {
	dlv := delivery.ID(e.ID, ep.ID)
	b, _ := json.Marshal(delivery.Attempt{
		DeliveryID: dlv, EventID: e.ID, EventType: e.Type, EndpointID: ep.ID,
		EventSeq: e.Seq, EventTime: e.Time, Time: time.Now().UTC(), Outcome: delivery.OutcomePending,
	})
	m := nats.NewMsg(topology.AttemptSubject(ep.ID, dlv))
	m.Data = b
	m.Header.Set(jetstream.MsgIDHeader, "queued."+dlv)
	return m
}
