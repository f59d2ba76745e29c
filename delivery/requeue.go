package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/payload"
	"github.com/hookd/hookd/tenant"
	"github.com/hookd/hookd/topology"
	"github.com/hookd/hookd/tracing"
)

// ErrEventExpired reports a delivery whose event is no longer in the
// events stream, so it cannot be rendered again.
var ErrEventExpired = errors.New("event no longer stored")

// Render renders a delivery's event in its endpoint's format, as the
// endpoint is configured now.
type Render func(e *event.Event) (payload.Rendered, error)

// Requeue queues a delivery again as a new queueing, rendered from its
// event by render (templated header values sealed with s), after the
// attempts last says were made, to where an endpoint with layout l takes
// its deliveries. Queueing the same delivery twice at the same attempt
// count is one queueing (Nats-Msg-Id).
func Requeue(ctx context.Context, topo *topology.Topology, last Attempt, l topology.EndpointLayout, render Render, s Sealer) (Attempt, error) {
	js, names := topo.JetStream(), topo.Names()
	events, err := js.Stream(ctx, names.EventsStream())
	if err != nil {
		return Attempt{}, fmt.Errorf("requeue: %w", err)
	}
	raw, err := events.GetMsg(ctx, last.EventSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) || last.EventSeq == 0 {
		return Attempt{}, fmt.Errorf("%w: %s", ErrEventExpired, last.EventID)
	}
	if err != nil {
		return Attempt{}, fmt.Errorf("requeue: %w", err)
	}
	tenantID, _, _ := names.ParseEventSubject(raw.Subject)
	if tenantID == "" {
		tenantID = raw.Header.Get(event.TenantHeader)
	}
	id := raw.Header.Get(jetstream.MsgIDHeader)
	ce, ceErr := event.ReadCloudEvent(raw.Header, raw.Data)
	if ceErr == nil && ce != nil && ce.ID != "" {
		id = ce.ID // a CloudEvent's id is its event id
	}
	if id != "" && id != last.EventID && id != event.MsgIDScope(tenantID)+last.EventID {
		// The sequence now holds another event: ours is gone.
		return Attempt{}, fmt.Errorf("%w: %s", ErrEventExpired, last.EventID)
	}
	e := &event.Event{ID: last.EventID, Type: last.EventType, Subject: names.Unprefixed(raw.Subject), Time: last.EventTime, Data: event.DataOf(raw.Header, raw.Data),
		Raw: raw.Data, Seq: last.EventSeq, Tenant: tenant.Normalize(tenantID), Accepted: raw.Time.UTC()}
	if len(raw.Header) > 0 {
		e.Headers = make(map[string]string, len(raw.Header))
		for k, v := range raw.Header {
			if len(v) > 0 {
				e.Headers[k] = v[0]
			}
		}
	}
	_, isJSON := event.Normalize(e.Raw)
	e.NotJSON = !isJSON
	if ceErr == nil && ce != nil {
		// As routing decoded it: a structured CloudEvent's data, not the
		// whole envelope, is the body; its source and time come along.
		e.SetCloudEvent(ce)
		e.ID = last.EventID
	}
	if !l.Ordered || l.Lanes == 0 {
		last.Lane = 0 // the endpoint's lanes changed since: it has one
	} else if last.Lane == 0 || last.Lane > l.Lanes {
		last.Lane = 1
	}
	base := last.Number
	pending := Attempt{
		DeliveryID: last.DeliveryID, EventID: e.ID, EventType: e.Type, EndpointID: last.EndpointID,
		EventSeq: e.Seq, EventTime: e.Time, Number: base, Queue: base, Lane: last.Lane, Time: time.Now().UTC(), Outcome: OutcomePending,
	}
	// A disabled endpoint's goes to the queue too: a worker moves it.
	m := nats.NewMsg(Subject(names, l, last.EndpointID, last.Lane, false))
	p, rerr := render(e)
	SetPayload(m, e, p, rerr, s)
	SetHeaders(m.Header, e, last.EndpointID)
	// Its id as it is known, made by this release's ID or an earlier one.
	m.Header.Set(HeaderDeliveryID, last.DeliveryID)
	if last.Lane > 0 {
		m.Header.Set(HeaderLane, strconv.Itoa(last.Lane))
	}
	// The producer's trace context, as the router would have carried it.
	tracing.Inject(tracing.Extract(context.Background(), raw.Header), m.Header)
	m.Header.Set(HeaderAttemptBase, strconv.Itoa(base))
	msgID := MsgID(e.ID, last.EndpointID) + ".retry." + strconv.Itoa(base)
	if last.BatchID != "" {
		// Going into a batch made no attempt: the batch tells this
		// queueing from one after the next batch.
		msgID += "." + last.BatchID
	}
	// The delivery first: nothing says it is queued anew before it is,
	// so the queueing it replaces carries on if this one fails (both may
	// send once in between: at least once, never lost).
	if _, err := js.PublishMsg(ctx, m, jetstream.WithMsgID(msgID)); err != nil {
		return Attempt{}, fmt.Errorf("requeue: %w", err)
	}
	// Workers drop the older queueing (its retry waiting, or its attempt
	// in flight), and History reads past its final record.
	if kv, err := topo.Requeued(ctx); err == nil {
		b, _ := json.Marshal(Requeued{Queue: base, Time: pending.Time})
		_, err = kv.Put(ctx, last.DeliveryID, b)
		if err != nil {
			slog.Warn("requeue not remembered: the queueing it replaces may send once more", "delivery", last.DeliveryID, "err", err)
		}
	}
	// Its one record: the state until the new queueing's first attempt,
	// which it never overrides (fold).
	if _, err := AppendRecord(ctx, js, names, pending); err != nil {
		slog.Warn("requeue not logged: the delivery is queued", "delivery", last.DeliveryID, "err", err)
	}
	// Wake the workers: they may not be pulling from an idle endpoint.
	var lane []byte
	if last.Lane > 0 {
		lane = strconv.AppendInt(nil, int64(last.Lane), 10)
	}
	_ = js.Conn().Publish(names.WakeSubject(last.EndpointID), lane)
	return pending, nil
}

// AppendRecord writes one record to the log stream at once, as a message
// of its own, and returns its sequence: for the rare writers with no
// Committer (a manual queueing, a router's dead letter).
func AppendRecord(ctx context.Context, js jetstream.JetStream, names topology.Names, a Attempt) (uint64, error) {
	m := nats.NewMsg(names.LogSubject(a.EndpointID))
	m.Data, _ = json.Marshal(a)
	m.Data = append(m.Data, '\n')
	ack, err := js.PublishMsg(ctx, m)
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}
