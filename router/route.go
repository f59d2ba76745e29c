package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

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

// Decode reads an event from a message of the events stream. Its id is the
// Nats-Msg-Id header when the producer set one, else derived from the
// message's stream sequence.
func (r *Router) Decode(m jetstream.Msg) (*event.Event, error) {
	meta, err := m.Metadata()
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	typ, err := event.TypeFromSubject(m.Subject())
	if err != nil {
		return nil, err
	}
	e := &event.Event{
		ID:      m.Headers().Get(jetstream.MsgIDHeader),
		Type:    typ,
		Subject: m.Subject(),
		Time:    meta.Timestamp.UTC(),
		Data:    event.NormalizeData(m.Data()),
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

// route publishes the event to every matching endpoint's stream and waits
// until every publish is acknowledged.
func (r *Router) route(ctx context.Context, m jetstream.Msg, ev *rules.Evaluator) error {
	e, err := r.Decode(m)
	if err != nil {
		// Only a message published outside "events.<type>" gets here; it can
		// never be routed, so retrying it would only block others.
		r.log.Error("dropping undecodable event", "subject", m.Subject(), "err", err)
		return nil
	}
	env := rules.Env{Type: e.Type, ID: e.ID, Subject: e.Subject, Time: e.Time, Headers: e.Headers}
	if err := json.Unmarshal(e.Data, &env.Data); err != nil {
		return fmt.Errorf("decode data: %w", err)
	}
	var body []byte
	var pending []pendingPublish
	snap := r.reg.Snapshot()
	for _, ep := range snap.All() {
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
		f, err := r.js.PublishMsgAsync(deliveryMsg(e, ep, body))
		if err != nil {
			return fmt.Errorf("publish to endpoint %s: %w", ep.ID, err)
		}
		pending = append(pending, pendingPublish{endpointID: ep.ID, future: f})
	}
	return r.await(ctx, pending)
}

type pendingPublish struct {
	endpointID string
	future     jetstream.PubAckFuture
}

// await waits for every publish; a publish to an endpoint deleted meanwhile
// is not a failure.
func (r *Router) await(ctx context.Context, pending []pendingPublish) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.PublishTimeout)
	defer cancel()
	var errs []error
	for _, p := range pending {
		select {
		case <-p.future.Ok():
		case err := <-p.future.Err():
			if r.reg.Snapshot().Get(p.endpointID) == nil &&
				(errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders)) {
				continue
			}
			errs = append(errs, fmt.Errorf("endpoint %s: %w", p.endpointID, err))
		case <-ctx.Done():
			return fmt.Errorf("waiting for endpoint streams: %w", ctx.Err())
		}
	}
	return errors.Join(errs...)
}

func deliveryMsg(e *event.Event, ep *endpoint.Compiled, body []byte) *nats.Msg {
	m := nats.NewMsg(topology.DeliverySubject(ep.ID))
	m.Data = body
	m.Header.Set(jetstream.MsgIDHeader, delivery.MsgID(e.ID, ep.ID))
	m.Header.Set(delivery.HeaderEventID, e.ID)
	m.Header.Set(delivery.HeaderEventType, e.Type)
	m.Header.Set(delivery.HeaderEndpointID, ep.ID)
	m.Header.Set(delivery.HeaderDeliveryID, delivery.ID(e.ID, ep.ID))
	return m
}
