package worker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/ops"
	"github.com/hookd/hookd/topology"
)

// maxStoreBackoff bounds the wait between attempts to store a batch.
const maxStoreBackoff = 30 * time.Second

// storeBatch stores a closed batch in the batches stream (topology.BatchesStream), where it
// is delivered like any delivery, then logs each member as batched and
// acknowledges it.
//
// The order is what keeps an event out of two delivered batches: the
// members stay unacknowledged until the batch is stored, and the batch id
// hashes the member set, so storing the same members again (a retry here,
// or a collection after a crash) is dropped by the batches stream as a
// duplicate. A redelivered member whose log says "batched" is never
// collected again (see admit). One window remains: a crash after the batch
// is stored and before a member's "batched" record is, with that member
// then collected with other members (new events, or another worker's
// share), puts it in a second batch: at least once, as every delivery.
func (w *Worker) storeBatch(endpointID string, members []member) {
	ctx := context.Background()
	// Its own copy: the batch's watcher may still be cloning the members
	// for a heartbeat as the batch closes, and the sort below reorders.
	members = slices.Clone(members)
	// Acceptance order (the events stream's): routers queue in parallel,
	// so the order of the endpoint's subject can differ.
	slices.SortFunc(members, func(a, b member) int {
		return cmp.Or(cmp.Compare(a.rec.EventSeq, b.rec.EventSeq), cmp.Compare(a.seq, b.seq))
	})
	stop := w.heartbeatAll(members)
	defer stop()
	ep := w.reg.Snapshot().Get(endpointID)
	if ep == nil {
		for _, m := range members {
			w.settle(m.msg.Term, "term", endpointID, m.rec.DeliveryID) // deleted
		}
		return
	}
	msg, pending := composeBatch(w.names, ep.Endpoint, members)
	batchID := pending.DeliveryID
	for try := 0; ; try++ {
		err := w.publishBatch(ctx, msg, pending)
		if err == nil {
			break
		}
		w.log.Warn("batch not stored, retrying", "endpoint", endpointID, "batch", batchID, "members", len(members), "err", err)
		select {
		case <-time.After(min(time.Second<<min(try, 5), maxStoreBackoff)):
		case <-w.quit:
			nakAll(members) // collected again after the restart
			return
		}
		if w.reg.Snapshot().Get(endpointID) == nil {
			for _, m := range members {
				w.settle(m.msg.Term, "term", endpointID, m.rec.DeliveryID)
			}
			return
		}
	}
	w.recordBatched(ctx, batchID, members)
	for _, m := range members {
		w.settle(m.msg.Ack, "ack", endpointID, m.rec.DeliveryID)
	}
	w.log.Debug("batch stored", "endpoint", endpointID, "batch", batchID, "members", len(members))
}

// composeBatch makes the batch message of members, listed in the order
// given, and the batch's "pending" log record.
func composeBatch(names topology.Names, ep *endpoint.Endpoint, members []member) (*nats.Msg, delivery.Attempt) {
	cfg := endpoint.Batch{}
	if ep.Batch != nil {
		cfg = *ep.Batch
	}
	cfg = cfg.WithDefaults()
	parts := make([]delivery.BatchMember, len(members))
	for i, m := range members {
		parts[i] = delivery.BatchMember{DeliveryID: m.rec.DeliveryID, Seq: m.seq, EventTime: m.rec.EventTime, Body: m.body}
	}
	batchID := delivery.BatchID(ep.ID, parts)
	body, _, end := delivery.BatchBody(ep.ID, cfg.Field, parts)
	msg := nats.NewMsg(names.BatchesSubject(ep.ID))
	msg.Data = body
	// A batch is a delivery of its own: its id is the webhook-id, and its
	// time is its newest member's.
	msg.Header.Set(jetstream.MsgIDHeader, batchID)
	msg.Header.Set(delivery.HeaderEventID, batchID)
	msg.Header.Set(delivery.HeaderEventType, delivery.BatchEventType)
	msg.Header.Set(delivery.HeaderEndpointID, ep.ID)
	msg.Header.Set(delivery.HeaderDeliveryID, batchID)
	msg.Header.Set(delivery.HeaderEventTime, end.Format(time.RFC3339Nano))
	msg.Header.Set(delivery.HeaderBatchSize, strconv.Itoa(len(members)))
	if slices.ContainsFunc(members, func(m member) bool { return ops.IsOps(m.rec.EventType) }) {
		msg.Header.Set(delivery.HeaderBatchOps, "true")
	}
	// The batch joins its oldest member's trace, so its deliver span (and
	// the receiver's) has a parent the producer knows.
	if len(members) > 0 {
		for k, v := range members[0].msg.Headers() {
			if strings.EqualFold(k, "traceparent") || strings.EqualFold(k, "tracestate") {
				msg.Header[k] = v
			}
		}
	}
	pending := delivery.Attempt{DeliveryID: batchID, EventID: batchID, EventType: delivery.BatchEventType, EndpointID: ep.ID,
		EventTime: end, Time: time.Now().UTC(), Outcome: delivery.OutcomePending, BatchSize: len(members)}
	return msg, pending
}

// publishBatch stores the batch and its "pending" log record at once, as
// routers do a delivery: the record only into an empty log, so it never
// lands after a fast worker's first attempt.
func (w *Worker) publishBatch(ctx context.Context, msg *nats.Msg, pending delivery.Attempt) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rec := nats.NewMsg(w.names.AttemptSubject(pending.EndpointID, pending.DeliveryID))
	rec.Data, _ = json.Marshal(pending)
	rec.Header.Set(jetstream.MsgIDHeader, "queued."+pending.DeliveryID)
	rec.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
	recAck, err := w.js.PublishMsgAsync(rec)
	if err != nil {
		return fmt.Errorf("batch log: %w", err)
	}
	if _, err := w.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	select {
	case <-recAck.Ok():
	case err = <-recAck.Err():
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil && !delivery.WrongLastSequence(err) {
		// The batch is stored: it is not held back for its history.
		w.log.Warn("batch's pending record not written", "endpoint", pending.EndpointID, "batch", pending.DeliveryID, "err", err)
	}
	return nil
}

// recordBatched logs every member as gone into the batch, waiting until
// the records are stored: a member is acknowledged only after, so a lost
// acknowledgement is recognised (see admit).
func (w *Worker) recordBatched(ctx context.Context, batchID string, members []member) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	now := time.Now().UTC()
	acks := make([]jetstream.PubAckFuture, 0, len(members))
	var errs []error
	for _, m := range members {
		rec := m.rec
		rec.Time, rec.Outcome, rec.BatchID = now, delivery.OutcomeBatched, batchID
		msg := nats.NewMsg(w.names.AttemptSubject(rec.EndpointID, rec.DeliveryID))
		msg.Data, _ = json.Marshal(rec)
		f, err := w.js.PublishMsgAsync(msg)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		acks = append(acks, f)
	}
	for _, f := range acks {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			errs = append(errs, err)
		case <-ctx.Done():
			errs = append(errs, ctx.Err())
		}
	}
	if err := errors.Join(errs...); err != nil {
		// The batch is stored: its members must not wait for their history.
		w.log.Warn("batched records not all written", "batch", batchID, "missing", len(errs), "err", err)
	}
}

// heartbeatAll tells JetStream every third of the ack wait that a closed
// batch's members are still being worked on, until stop is called.
func (w *Worker) heartbeatAll(members []member) (stop func()) {
	msgs := make([]jetstream.Msg, len(members))
	for i, m := range members {
		msgs[i] = m.msg
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(w.ackWait / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				for _, m := range msgs {
					_ = m.InProgress()
				}
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}
