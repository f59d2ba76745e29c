package worker

import (
	"cmp"
	"context"
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
	msg, batchID := composeBatch(w.names, ep.Endpoint, members)
	for try := 0; ; try++ {
		err := w.publishBatch(ctx, msg)
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
// given, and returns it with the batch's id.
func composeBatch(names topology.Names, ep *endpoint.Endpoint, members []member) (*nats.Msg, string) {
	cfg := endpoint.Batch{}
	if ep.Batch != nil {
		cfg = *ep.Batch
	}
	cfg = cfg.WithDefaults()
	parts := make([]delivery.BatchMember, len(members))
	for i, m := range members {
		parts[i] = delivery.BatchMember{DeliveryID: m.rec.DeliveryID, Seq: m.seq, Stored: m.stored, EventTime: m.rec.EventTime, Body: m.body}
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
	return msg, batchID
}

// publishBatch stores the batch. It writes no "pending" record: a batch
// waiting in the batches stream with no record is pending, as any
// delivery (delivery.Queued).
func (w *Worker) publishBatch(ctx context.Context, msg *nats.Msg) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := w.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	return nil
}

// recordBatched logs every member as gone into the batch, waiting until
// the records are stored (group-committed together): a member is
// acknowledged only after, so a lost acknowledgement is recognised (see
// admit).
func (w *Worker) recordBatched(ctx context.Context, batchID string, members []member) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	now := time.Now().UTC()
	commits := make([]*delivery.Commit, 0, len(members))
	for _, m := range members {
		rec := m.rec
		rec.Time, rec.Outcome, rec.BatchID = now, delivery.OutcomeBatched, batchID
		commits = append(commits, w.committer.Add(rec))
		w.recent.forget(rec.DeliveryID)
	}
	var errs []error
	for _, c := range commits {
		if _, err := c.Wait(ctx); err != nil {
			errs = append(errs, err)
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
