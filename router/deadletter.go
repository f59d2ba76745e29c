package router

import (
	"context"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/delivery"
)

// deadLetter records the event, for every endpoint it could not be
// published to, in the dead-letter stream, so an operator can see and
// replay it.
func (r *Router) deadLetter(ctx context.Context, m jetstream.Msg, pe *PublishError) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.PublishTimeout)
	defer cancel()
	body := pe.Event.Envelope()
	for id, cause := range pe.Failed {
		dead := nats.NewMsg(r.names.DeadSubject(id))
		dead.Data = body
		delivery.SetHeaders(dead.Header, pe.Event, id)
		msg := "routing failed: " + cause.Error()
		if len(msg) > 1024 {
			msg = msg[:1024]
		}
		dead.Header.Set(delivery.HeaderError, msg)
		dead.Header.Set(delivery.HeaderAttempts, "0")
		dlv := delivery.ID(pe.Event, id)
		if _, err := r.js.PublishMsg(ctx, dead, jetstream.WithMsgID(dlv+".unroutable."+strconv.FormatInt(time.Now().Unix()/60, 10))); err != nil {
			return err
		}
		// It must say "dead" in the log, so retry and recover see it.
		rec := delivery.Attempt{DeliveryID: dlv, EventID: pe.Event.ID, EventType: pe.Event.Type, EndpointID: id,
			EventSeq: pe.Event.Seq, EventTime: pe.Event.Time, Time: time.Now().UTC(), Error: msg, Outcome: delivery.OutcomeDead}
		if _, err := delivery.AppendRecord(ctx, r.js, r.names, rec); err != nil {
			return err
		}
		if r.cfg.Attempts != nil {
			r.cfg.Attempts.RecordAttempt(rec)
		}
	}
	return nil
}
