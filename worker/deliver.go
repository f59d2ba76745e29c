package worker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/internal/sender"
	"github.com/hookd/hookd/topology"
)

// deliver makes one attempt of msg and settles it: ack on success,
// NakWithDelay on a retryable failure, dead letter then ack otherwise. Its
// steps: preflight (may it be attempted now?), attempt, decide (pure: what
// follows), commit (the only step after the attempt that writes or settles).
func (w *Worker) deliver(endpointID string, msg jetstream.Msg) {
	// In-flight deliveries finish on shutdown rather than being cut off:
	// Config.Timeout bounds them.
	ctx := context.Background()
	a, held := w.preflight(ctx, endpointID, msg)
	if held != nil {
		w.settleAs(msg, *held, endpointID, a.rec.DeliveryID)
		return
	}
	req, err := w.request(a, msg.Data())
	if err == nil && !w.waitRate(ctx, endpointID, a.ep.RateLimit, msg) {
		// Not attempted: it counts no attempt.
		w.settleAs(msg, nakAfter(time.Second), endpointID, a.rec.DeliveryID)
		return
	}
	ctx, span := w.startDeliver(ctx, msg.Headers(), a.ep.Endpoint, &a.rec)
	defer func() { endDeliver(span, &a.rec, err) }()
	var resp sender.Response
	if err == nil {
		stop := w.heartbeat(msg)
		resp, err = w.sender.Send(ctx, req)
		stop()
	}
	// What follows the attempt is bounded once the worker stops.
	ctx, settled := w.settleContext(ctx)
	defer settled()
	a.took = resp.Duration
	a.rec.Time = time.Now().UTC().Add(-resp.Duration)
	a.rec.StatusCode, a.rec.DurationSeconds, a.rec.Response = resp.StatusCode, resp.Duration.Seconds(), sender.Snippet(resp.Body)
	if err != nil {
		a.rec.Error = err.Error()
	}
	d := decide(err, w.retryPolicy(a.ep.Endpoint), history{Attempt: a.rec.Number, Base: a.base})
	w.commit(ctx, msg, a, d)
}

// attempt is one delivery on its way through deliver.
type attempt struct {
	ep *endpoint.Compiled
	pl delivery.Payload
	// rec is the attempt's record, filled as it goes.
	rec delivery.Attempt
	// base is the attempts made before the delivery's current queueing.
	base int
	took time.Duration
}

// settlement is how a delivery message is settled without a record.
type settlement struct {
	op    string // "ack", "nak" or "term"
	delay time.Duration
}

func nakAfter(d time.Duration) settlement { return settlement{op: "nak", delay: d} }

var (
	ackIt  = settlement{op: "ack"}
	termIt = settlement{op: "term"}
)

func (w *Worker) settleAs(msg jetstream.Msg, s settlement, endpointID, deliveryID string) {
	if _, direct := msg.(*directMsg); s.op == "nak" && (direct || w.fromQueue(msg)) {
		// A delivery that waits leaves the shard (see shards.go), and so do
		// the endpoint's next ones while it is failing or held back; a
		// direct delivery that waits is stored there first.
		w.markHeld(endpointID)
		w.moveToHeld(msg, endpointID)
		return
	}
	op := msg.Ack
	switch s.op {
	case "term":
		op = msg.Term
	case "nak", "nakHere":
		op = func() error { return msg.NakWithDelay(s.delay) }
	}
	w.settle(op, s.op, endpointID, deliveryID)
}

// preflight reads what the attempt needs and says whether it is made now:
// a non-nil settlement holds or ends the delivery instead, counting no
// attempt.
func (w *Worker) preflight(ctx context.Context, endpointID string, msg jetstream.Msg) (*attempt, *settlement) {
	a := &attempt{}
	hold := func(s settlement) (*attempt, *settlement) { return a, &s }
	meta, err := msg.Metadata()
	if err != nil {
		w.log.Error("delivery without metadata", "endpoint", endpointID, "err", err)
		return hold(termIt)
	}
	ep := w.reg.Snapshot().Get(endpointID)
	switch {
	case ep == nil && w.deleted(ctx, endpointID):
		return hold(termIt)
	case ep == nil:
		// Created, but this worker's view of the endpoints lags behind
		// the router's: the delivery waits for it here.
		return hold(settlement{op: "nakHere", delay: time.Second})
	case errors.Is(ep.Broken, endpoint.ErrSealed):
		// Without its secrets it cannot be signed: held until the master
		// key is right, not dead-lettered.
		w.log.Error("delivery held: the endpoint's secrets cannot be opened", "endpoint", endpointID, "err", ep.Broken)
		return hold(nakAfter(heldDelay))
	case ep.Disabled:
		// Held, not attempted: it counts no attempt.
		return hold(nakAfter(heldDelay))
	}
	a.ep = ep
	a.pl, err = delivery.ReadPayload(msg.Headers(), w.reg.Sealer())
	if err != nil {
		// Its rendered headers were sealed under another master key: held
		// until the key is right, like the endpoint's own secrets.
		w.log.Error("delivery held: its rendered headers cannot be opened", "endpoint", endpointID, "err", err)
		return hold(nakAfter(heldDelay))
	}
	a.rec = newRecord(endpointID, msg.Headers())
	a.base, _ = strconv.Atoi(msg.Headers().Get(delivery.HeaderAttemptBase))
	a.rec.Number, a.rec.Queue = a.base+1, a.base
	if w.supersededQueue(a.rec.DeliveryID, a.base) {
		// A manual retry queued it anew: that queueing carries on.
		return hold(ackIt)
	}
	if meta.NumDelivered > 1 || msg.Headers().Get(delivery.HeaderMoved) != "" || msg.Headers().Get(topology.MigratedHeader) != "" ||
		msg.Headers().Get(readLogHeader) != "" || msg.Headers().Get(delivery.HeaderRouteRetry) != "" {
		// A redelivery, a delivery moved out of the queue or by an
		// upgrade, one routed again (its first routing may have
		// delivered it directly), or one stored before its consumer was made (an earlier
		// consumer, removed, forgot its redeliveries and delayed naks, not
		// the delivery): the log, not
		// NumDelivered (which also counts hand-backs and held rounds),
		// says which attempt this is.
		if w.copyMayWait(ctx, endpointID, msg, meta) {
			// Its worker may have died after moving it: moved again (takeover.go).
			return hold(nakAfter(0))
		}
		last, err := w.lastRecord(ctx, endpointID, a.rec.DeliveryID, msg)
		if err != nil {
			w.log.Warn("delivery log unreadable, retrying", "endpoint", endpointID, "delivery", a.rec.DeliveryID, "err", err)
			return hold(nakAfter(time.Second))
		}
		if last != nil && (last.Outcome == delivery.OutcomeSucceeded || last.Queue > a.base) {
			// Delivered already (before a crash that lost the ack), or a
			// manual retry queued it anew: never send it twice.
			return hold(ackIt)
		}
		if last != nil && last.Outcome == delivery.OutcomeDead && last.Queue == a.base {
			// Dead before a crash that lost the ack (takeover.go).
			return hold(w.deadAgain(ctx, msg, a, *last))
		}
		if last != nil && last.Number >= a.base {
			a.rec.Number = last.Number + 1
		}
		if wait := retryWait(last, time.Now()); wait > 0 {
			// Moved by an upgrade while it waited for a retry: it still
			// waits, and the wait counts no attempt.
			return hold(nakAfter(wait))
		}
	}
	// A delivery that was not rendered is not sent, so no pause holds it:
	// it goes on to be dead-lettered.
	if a.pl.RenderError == "" {
		if d := w.pausedFor(endpointID, time.Now()); d > 0 {
			// The endpoint throttled us: not attempted, it counts no attempt.
			return hold(nakAfter(w.retryPolicy(ep.Endpoint).resumeAfter(d)))
		}
	}
	return a, nil
}

// commit carries out a decision: it is the only place after an attempt
// that disables or pauses the endpoint, writes the attempt record, raises
// operational events, dead-letters and settles.
func (w *Worker) commit(ctx context.Context, msg jetstream.Msg, a *attempt, d decision) {
	endpointID, rec := a.rec.EndpointID, &a.rec
	rec.Outcome = d.Outcome
	if d.Outcome == delivery.OutcomeRetrying {
		rec.NextAttemptInSeconds = d.Delay.Seconds()
	}
	if d.Disable != "" {
		w.disable(ctx, endpointID, d.Disable)
	}
	if d.Pause > 0 {
		w.pause(ctx, endpointID, d.Pause)
	}
	w.observe(ctx, rec, a.took, d.Delay)
	if w.record(ctx, msg, *rec) {
		// A manual retry queued the delivery anew while this attempt ran:
		// that queueing carries on, this one stops here.
		w.settleAs(msg, ackIt, endpointID, rec.DeliveryID)
		return
	}
	if d.Outcome == delivery.OutcomeSucceeded {
		w.noteSuccess(ctx, a.ep.Endpoint)
	} else if d.CountsFailure {
		w.noteFailure(ctx, a.ep.Endpoint, time.Now())
	}
	// A batch holding operational events raises none, as each of them
	// would not: a failing ops endpoint must not feed on its own failures.
	if d.Ops && msg.Headers().Get(delivery.HeaderBatchOps) == "" {
		w.deliveryOps(ctx, *rec, history{Attempt: rec.Number, Base: a.base}.failures())
	}
	switch d.Outcome {
	case delivery.OutcomeSucceeded:
		w.settleAs(msg, ackIt, endpointID, rec.DeliveryID)
	case delivery.OutcomeRetrying:
		w.settleAs(msg, nakAfter(d.Delay), endpointID, rec.DeliveryID)
	default:
		if err := w.deadLetter(ctx, msg, *rec); err != nil {
			// Never drop it: the whole delivery is tried again later.
			w.log.Error("dead letter failed", "endpoint", endpointID, "delivery", rec.DeliveryID, "err", err)
			w.settleAs(msg, nakAfter(5*time.Second), endpointID, rec.DeliveryID)
			return
		}
		w.fault(FaultDeadLettered, rec.DeliveryID)
		w.m.DeadLettered()
		w.settleAs(msg, ackIt, endpointID, rec.DeliveryID)
	}
}

// request builds the attempt for the endpoint's current configuration:
// every secret still in its grace period signs, its headers go along. A
// delivery the router could not render is not sent: retrying the same
// rendering cannot help, so it is dead-lettered with the error; a manual
// retry renders it again.
func (w *Worker) request(a *attempt, body []byte) (sender.Request, error) {
	if a.pl.RenderError != "" {
		return sender.Request{}, &sender.PermanentError{Err: fmt.Errorf("%w: %s", errNotRendered, a.pl.RenderError)}
	}
	req, err := sender.BuildRequest(a.ep, a.rec.EventID, body, w.cfg.Timeout, time.Now())
	req.ContentType, req.Rendered = a.pl.ContentType, a.pl.Headers
	return req, err
}

func newRecord(endpointID string, h nats.Header) delivery.Attempt {
	rec := delivery.Attempt{
		DeliveryID: h.Get(delivery.HeaderDeliveryID),
		EventID:    h.Get(delivery.HeaderEventID),
		EventType:  h.Get(delivery.HeaderEventType),
		EndpointID: endpointID,
	}
	rec.EventSeq, _ = strconv.ParseUint(h.Get(delivery.HeaderEventSeq), 10, 64)
	rec.Lane, _ = strconv.Atoi(h.Get(delivery.HeaderLane))
	rec.EventTime, _ = time.Parse(time.RFC3339Nano, h.Get(delivery.HeaderEventTime))
	rec.BatchSize, _ = strconv.Atoi(h.Get(delivery.HeaderBatchSize))
	return rec
}

// heartbeat tells JetStream the delivery is still in progress every third
// of the ack wait, until stop is called. A timer, not a goroutine: most
// deliveries end long before the first beat.
func (w *Worker) heartbeat(msg jetstream.Msg) (stop func()) {
	var mu sync.Mutex
	stopped := false
	var t *time.Timer
	mu.Lock() // t is set before the first beat can read it
	defer mu.Unlock()
	t = time.AfterFunc(w.ackWait/3, func() {
		_ = msg.InProgress()
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			t.Reset(w.ackWait / 3)
		}
	})
	return func() {
		mu.Lock()
		stopped = true
		mu.Unlock()
		t.Stop()
	}
}

func (w *Worker) settle(op func() error, name, endpointID, deliveryID string) {
	if err := op(); err != nil {
		// JetStream redelivers after the ack wait: at least once, never lost.
		w.log.Warn(name+" failed", "endpoint", endpointID, "delivery", deliveryID, "err", err)
	}
}

// deadLetter copies the delivery to the dead-letter stream with its last
// error; the caller then removes it from the endpoint stream.
func (w *Worker) deadLetter(ctx context.Context, msg jetstream.Msg, rec delivery.Attempt) error {
	dead := nats.NewMsg(w.names.DeadSubject(rec.EndpointID))
	dead.Data = msg.Data()
	for k, v := range msg.Headers() {
		if k != jetstream.MsgIDHeader && k != readLogHeader {
			dead.Header[k] = v
		}
	}
	if len(rec.Error) > 1024 {
		rec.Error = rec.Error[:1024]
	}
	dead.Header.Set(delivery.HeaderError, rec.Error)
	dead.Header.Set(delivery.HeaderAttempts, strconv.Itoa(rec.Number))
	if rec.StatusCode != 0 {
		dead.Header.Set(delivery.HeaderStatusCode, strconv.Itoa(rec.StatusCode))
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// The attempt number makes a dead letter re-sent after a crash a
	// duplicate, while a later retry's dead letter is kept.
	_, err := w.js.PublishMsg(ctx, dead, jetstream.WithMsgID(rec.DeliveryID+".dead."+strconv.Itoa(rec.Number)))
	return err
}

// retryWait is how long a delivery whose newest log record is last still
// waits for its next attempt (0: none).
func retryWait(last *delivery.Attempt, now time.Time) time.Duration {
	if last == nil || last.Outcome != delivery.OutcomeRetrying || last.NextAttemptInSeconds <= 0 {
		return 0
	}
	due := last.Time.Add(time.Duration(last.DurationSeconds*float64(time.Second)) + time.Duration(last.NextAttemptInSeconds*float64(time.Second)))
	return max(due.Sub(now), 0)
}

// readLogHeader marks, in this process only, a delivery whose attempts
// must be read from the log (see consume).
const readLogHeader = "Hookd-Read-Log"

// deleted reports whether an endpoint is gone from the endpoints bucket,
// which decides over this worker's view of it (that may lag behind a
// creation). Unsure (the bucket unreadable) is not deleted.
func (w *Worker) deleted(ctx context.Context, endpointID string) bool {
	if w.endpoints == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := w.endpoints.Get(ctx, endpointID)
	return errors.Is(err, endpoint.ErrNotFound)
}
