package worker

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/topology"
)

// record appends an attempt to the delivery log and waits for it to be
// stored, so the log is complete before the delivery is settled and the
// next attempt can read its number from it.
func (w *Worker) record(ctx context.Context, rec delivery.Attempt) {
	w.log.Debug("attempt", "endpoint", rec.EndpointID, "delivery", rec.DeliveryID,
		"attempt", rec.Number, "status", rec.StatusCode, "outcome", rec.Outcome, "err", rec.Error)
	b, err := json.Marshal(rec)
	if err != nil {
		w.log.Error("encode attempt", "err", err)
		return
	}
	m := nats.NewMsg(topology.AttemptSubject(rec.EndpointID, rec.DeliveryID))
	m.Data = b
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := w.js.PublishMsg(ctx, m); err != nil {
		// The delivery itself is not held back for its history.
		w.log.Warn("attempt not recorded", "endpoint", rec.EndpointID, "delivery", rec.DeliveryID, "err", err)
	}
}

// lastRecord returns the newest log record of a delivery, or nil if none.
func (w *Worker) lastRecord(ctx context.Context, endpointID, deliveryID string) (*delivery.Attempt, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	m, err := w.attemptsStream.GetLastMsgForSubject(ctx, topology.AttemptSubject(endpointID, deliveryID))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rec delivery.Attempt
	if err := json.Unmarshal(m.Data, &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}
