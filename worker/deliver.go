package worker

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/signing"
	"github.com/hookd/hookd/topology"
)

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
	attempt := int(meta.NumDelivered)
	h := msg.Headers()
	rec := delivery.Attempt{
		DeliveryID: h.Get(delivery.HeaderDeliveryID),
		EventID:    h.Get(delivery.HeaderEventID),
		EventType:  h.Get(delivery.HeaderEventType),
		EndpointID: endpointID,
		Number:     attempt,
		Time:       time.Now().UTC(),
	}
	resp, sendErr := w.send(ctx, endpointID, rec.EventID, msg)
	rec.StatusCode, rec.DurationSeconds = resp.StatusCode, resp.Duration.Seconds()
	rec.Response = snippet(resp.Body)
	if sendErr != nil {
		rec.Error = sendErr.Error()
	}

	var retry *RetryableError
	switch {
	case sendErr == nil:
		rec.Outcome = delivery.OutcomeSucceeded
		w.record(rec)
		w.settle(msg.Ack, "ack", rec)
	case errors.As(sendErr, &retry) && attempt <= len(w.cfg.RetrySchedule):
		delay := w.cfg.RetrySchedule[attempt-1]
		rec.Outcome, rec.NextAttemptInSeconds = delivery.OutcomeRetrying, delay.Seconds()
		w.record(rec)
		w.settle(func() error { return msg.NakWithDelay(delay) }, "nak", rec)
	case errors.Is(sendErr, errEndpointGone):
		// The endpoint's stream is being removed with it.
		w.settle(msg.Term, "term", rec)
	default: // *PermanentError, or retries exhausted
		rec.Outcome = delivery.OutcomeDead
		w.record(rec)
		if err := w.deadLetter(ctx, msg, rec); err != nil {
			// Never drop it: try the whole delivery again later.
			w.log.Error("dead letter failed", "endpoint", endpointID, "delivery", rec.DeliveryID, "err", err)
			w.settle(func() error { return msg.NakWithDelay(5 * time.Second) }, "nak", rec)
			return
		}
		w.settle(msg.Ack, "ack", rec)
	}
}

// send makes the HTTP attempt with the endpoint's current configuration,
// heartbeating the message so a slow receiver never gets it twice at once.
func (w *Worker) send(ctx context.Context, endpointID, eventID string, msg jetstream.Msg) (Response, error) {
	ep := w.reg.Snapshot().Get(endpointID)
	if ep == nil {
		return Response{}, errEndpointGone
	}
	key, err := signing.ParseKey(ep.Secret)
	if err != nil {
		return Response{}, &PermanentError{Err: err}
	}
	stop := w.heartbeat(msg)
	defer stop()
	return w.sender.Send(ctx, Request{
		URL:       ep.URL,
		MessageID: eventID,
		Body:      msg.Data(),
		Keys:      []signing.Key{key},
		Timeout:   w.cfg.Timeout,
	})
}

// heartbeat tells JetStream the delivery is still in progress every third
// of the ack wait, until stop is called.
func (w *Worker) heartbeat(msg jetstream.Msg) (stop func()) {
	every := w.topo.Config().DeliveryAckWait / 3
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	}()
	return func() { close(done) }
}

func (w *Worker) settle(op func() error, name string, rec delivery.Attempt) {
	if err := op(); err != nil {
		// JetStream redelivers after the ack wait: at least once, never lost.
		w.log.Warn(name+" failed", "endpoint", rec.EndpointID, "delivery", rec.DeliveryID, "err", err)
	}
}

// deadLetter copies the delivery to the dead-letter stream with its last
// error; the caller then removes it from the endpoint stream.
func (w *Worker) deadLetter(ctx context.Context, msg jetstream.Msg, rec delivery.Attempt) error {
	dead := nats.NewMsg(topology.DeadSubject(rec.EndpointID))
	dead.Data = msg.Data()
	for k, v := range msg.Headers() {
		if k != jetstream.MsgIDHeader {
			dead.Header[k] = v
		}
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
