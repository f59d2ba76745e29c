package worker

import (
	"encoding/json"

	"github.com/nats-io/nats.go"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/topology"
)

// record publishes an attempt to the attempts stream without waiting: the
// record is history, and delivery must not slow down for it.
func (w *Worker) record(rec delivery.Attempt) {
	b, err := json.Marshal(rec)
	if err != nil {
		w.log.Error("encode attempt", "err", err)
		return
	}
	m := nats.NewMsg(topology.AttemptSubject(rec.EndpointID))
	m.Data = b
	if _, err := w.js.PublishMsgAsync(m); err != nil {
		w.log.Warn("record attempt", "endpoint", rec.EndpointID, "delivery", rec.DeliveryID, "err", err)
	}
	w.log.Debug("attempt", "endpoint", rec.EndpointID, "delivery", rec.DeliveryID,
		"attempt", rec.Number, "status", rec.StatusCode, "outcome", rec.Outcome, "err", rec.Error)
}
