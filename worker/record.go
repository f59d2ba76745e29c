package worker

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/delivery"
)

// record appends an attempt to the delivery log and waits for it to be
// stored, so the log is complete before the delivery is settled and the
// next attempt can read its number from it. With expect set, the record is
// appended only if the log's newest record is still the one at that
// sequence; if a manual retry queued the delivery anew meanwhile, nothing
// is appended and superseded is true: that queueing owns the delivery now.
func (w *Worker) record(ctx context.Context, rec delivery.Attempt, expect uint64) (superseded bool) {
	w.log.Debug("attempt", "endpoint", rec.EndpointID, "delivery", rec.DeliveryID,
		"attempt", rec.Number, "status", rec.StatusCode, "outcome", rec.Outcome, "err", rec.Error)
	b, err := json.Marshal(rec)
	if err != nil {
		w.log.Error("encode attempt", "err", err)
		return false
	}
	m := nats.NewMsg(w.names.AttemptSubject(rec.EndpointID, rec.DeliveryID))
	m.Data = b
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var opts []jetstream.PublishOpt
	if expect > 0 {
		opts = append(opts, jetstream.WithExpectLastSequencePerSubject(expect))
	}
	_, err = w.js.PublishMsg(ctx, m, opts...)
	if expect > 0 && delivery.WrongLastSequence(err) {
		last, _, lerr := w.lastRecord(ctx, rec.EndpointID, rec.DeliveryID)
		if lerr == nil && last != nil && last.Queue > rec.Queue {
			w.log.Info("delivery queued anew meanwhile; this attempt is not logged", "endpoint", rec.EndpointID, "delivery", rec.DeliveryID, "attempt", rec.Number)
			return true
		}
		_, err = w.js.PublishMsg(ctx, m)
	}
	if err != nil {
		// The delivery itself is not held back for its history.
		w.log.Warn("attempt not recorded", "endpoint", rec.EndpointID, "delivery", rec.DeliveryID, "err", err)
	}
	return false
}

// lastRecord returns the newest log record of a delivery and its sequence,
// or nil if none.
func (w *Worker) lastRecord(ctx context.Context, endpointID, deliveryID string) (*delivery.Attempt, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	m, err := w.attemptsStream.GetLastMsgForSubject(ctx, w.names.AttemptSubject(endpointID, deliveryID))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	var rec delivery.Attempt
	if err := json.Unmarshal(m.Data, &rec); err != nil {
		return nil, 0, err
	}
	return &rec, m.Sequence, nil
}
