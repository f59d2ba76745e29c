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
)

// heldDelay is how long a delivery to a disabled endpoint waits before it
// is looked at again.
const heldDelay = 5 * time.Second

// deliver makes one attempt of msg and settles it: ack on success,
// NakWithDelay on a retryable failure, dead letter then ack otherwise.
func (w *Worker) deliver(endpointID string, msg jetstream.Msg) {
	// In-flight deliveries finish on shutdown rather than being cut off:
	// Config.Timeout bounds them.
	ctx := context.Background()
	meta, err := msg.Metadata()
	if err != nil {
		w.log.Error("delivery without metadata", "endpoint", endpointID, "err", err)
		_ = msg.Term()
		return
	}
	ep := w.reg.Snapshot().Get(endpointID)
	switch {
	case ep == nil:
		// Deleted: its stream goes with it.
		w.settle(msg.Term, "term", endpointID, "")
		return
	case errors.Is(ep.Broken, endpoint.ErrSealed):
		// Without its secrets it cannot be signed: held until the master
		// key is right, not dead-lettered.
		w.log.Error("delivery held: the endpoint's secrets cannot be opened", "endpoint", endpointID, "err", ep.Broken)
		w.settle(func() error { return msg.NakWithDelay(heldDelay) }, "nak", endpointID, "")
		return
	case ep.Disabled:
		// Held, not attempted: it counts no attempt.
		w.settle(func() error { return msg.NakWithDelay(heldDelay) }, "nak", endpointID, "")
		return
	}
	pl, err := delivery.ReadPayload(msg.Headers(), w.reg.Sealer())
	if err != nil {
		// Its rendered headers were sealed under another master key: held
		// until the key is right, like the endpoint's own secrets.
		w.log.Error("delivery held: its rendered headers cannot be opened", "endpoint", endpointID, "err", err)
		w.settle(func() error { return msg.NakWithDelay(heldDelay) }, "nak", endpointID, "")
		return
	}
	rec := newRecord(endpointID, msg.Headers())
	base, _ := strconv.Atoi(msg.Headers().Get(delivery.HeaderAttemptBase))
	rec.Number, rec.Queue = base+1, base
	logSeq, _ := strconv.ParseUint(msg.Headers().Get(delivery.HeaderLogSeq), 10, 64)
	if meta.NumDelivered > 1 {
		// A redelivery: the log, not NumDelivered (which also counts
		// hand-backs and held rounds), says which attempt this is.
		last, seq, err := w.lastRecord(ctx, endpointID, rec.DeliveryID)
		if err != nil {
			w.log.Warn("delivery log unreadable, retrying", "endpoint", endpointID, "delivery", rec.DeliveryID, "err", err)
			w.settle(func() error { return msg.NakWithDelay(time.Second) }, "nak", endpointID, rec.DeliveryID)
			return
		}
		if last != nil && (last.Outcome == delivery.OutcomeSucceeded || last.Queue > base) {
			// Delivered already (before a crash that lost the ack), or a
			// manual retry queued it anew: never send it twice.
			w.settle(msg.Ack, "ack", endpointID, rec.DeliveryID)
			return
		}
		if last != nil && last.Number >= base {
			rec.Number = last.Number + 1
		}
		logSeq = seq
	}

	var resp sender.Response
	var req sender.Request
	var sendErr error
	if pl.RenderError != "" {
		// The endpoint's format failed on this event: nothing to send, and
		// retrying the same rendering cannot help. Dead-lettered with the
		// error; a manual retry renders it again.
		sendErr = &sender.PermanentError{Err: fmt.Errorf("not rendered in the endpoint's format: %s", pl.RenderError)}
	} else if d := w.pausedFor(endpointID, time.Now()); d > 0 {
		// The endpoint throttled us: not attempted, it counts no attempt.
		w.settle(func() error { return msg.NakWithDelay(resumeAfter(d)) }, "nak", endpointID, rec.DeliveryID)
		return
	} else {
		req, sendErr = w.request(ep.Endpoint, rec.EventID, msg.Data(), pl)
	}
	if sendErr == nil && !w.waitRate(ctx, endpointID, ep.RateLimit, msg) {
		// Not attempted: it counts no attempt.
		w.settle(func() error { return msg.NakWithDelay(time.Second) }, "nak", endpointID, rec.DeliveryID)
		return
	}
	ctx, span := w.startDeliver(ctx, msg.Headers(), ep.Endpoint, &rec)
	defer func() { endDeliver(span, &rec, sendErr) }()
	if sendErr == nil {
		stop := w.heartbeat(msg)
		resp, sendErr = w.sender.Send(ctx, req)
		stop()
	}
	// What follows the attempt is bounded once the worker stops.
	ctx, settled := w.settleContext(ctx)
	defer settled()
	rec.Time = time.Now().UTC().Add(-resp.Duration)
	rec.StatusCode, rec.DurationSeconds, rec.Response = resp.StatusCode, resp.Duration.Seconds(), sender.Snippet(resp.Body)
	if sendErr != nil {
		rec.Error = sendErr.Error()
	}

	schedule := ep.Policy(w.cfg.RetrySchedule, w.cfg.Timeout).Schedule
	failures := rec.Number - base // failed attempts of this queueing, this one included
	var retry *sender.RetryableError
	var gone *sender.GoneError
	var delay time.Duration
	switch {
	case sendErr == nil:
		rec.Outcome = delivery.OutcomeSucceeded
	case errors.As(sendErr, &gone):
		// Held, not dead: the endpoint is disabled and its deliveries wait
		// for it to be enabled again.
		w.disable(ctx, endpointID, "it answered 410 Gone")
		delay = heldDelay
		rec.Outcome, rec.NextAttemptInSeconds = delivery.OutcomeRetrying, delay.Seconds()
	case errors.As(sendErr, &retry) && failures <= len(schedule):
		delay = retryDelay(schedule[failures-1], w.cfg.Jitter, retry.After)
		rec.Outcome, rec.NextAttemptInSeconds = delivery.OutcomeRetrying, delay.Seconds()
	default: // *PermanentError, or retries exhausted
		rec.Outcome = delivery.OutcomeDead
	}
	if errors.As(sendErr, &retry) && retry.Throttled {
		w.pause(ctx, endpointID, pauseFor(retry, schedule))
	}
	w.observe(ctx, &rec, resp.Duration, delay)
	if w.record(ctx, rec, logSeq) {
		// A manual retry queued the delivery anew while this attempt ran:
		// that queueing carries on, this one stops here.
		w.settle(msg.Ack, "ack", endpointID, rec.DeliveryID)
		return
	}
	// A batch holding operational events raises none, as each of them
	// would not: a failing ops endpoint must not feed on its own failures.
	opsQuiet := msg.Headers().Get(delivery.HeaderBatchOps) != ""
	if rec.Outcome == delivery.OutcomeSucceeded {
		w.noteSuccess(ctx, ep.Endpoint)
		if !opsQuiet {
			w.deliveryOps(ctx, rec, failures)
		}
	} else if gone == nil {
		if pl.RenderError == "" {
			// A rendering failure is the endpoint's configuration, not
			// the receiver failing: it does not count towards disabling.
			w.noteFailure(ctx, ep.Endpoint, time.Now())
		}
		if !opsQuiet {
			w.deliveryOps(ctx, rec, failures)
		}
	}
	switch rec.Outcome {
	case delivery.OutcomeSucceeded:
		w.settle(msg.Ack, "ack", endpointID, rec.DeliveryID)
	case delivery.OutcomeRetrying:
		w.settle(func() error { return msg.NakWithDelay(delay) }, "nak", endpointID, rec.DeliveryID)
	default:
		if err := w.deadLetter(ctx, msg, rec); err != nil {
			// Never drop it: the whole delivery is tried again later.
			w.log.Error("dead letter failed", "endpoint", endpointID, "delivery", rec.DeliveryID, "err", err)
			w.settle(func() error { return msg.NakWithDelay(5 * time.Second) }, "nak", endpointID, rec.DeliveryID)
			return
		}
		w.m.DeadLettered()
		w.settle(msg.Ack, "ack", endpointID, rec.DeliveryID)
	}
}

// request builds the attempt for an endpoint's current configuration:
// every secret still in its grace period signs, its headers go along.
func (w *Worker) request(ep *endpoint.Endpoint, messageID string, body []byte, pl delivery.Payload) (sender.Request, error) {
	req, err := sender.BuildRequest(ep, messageID, body, w.cfg.Timeout, time.Now())
	req.ContentType, req.Rendered = pl.ContentType, pl.Headers
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
		if k != jetstream.MsgIDHeader {
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
