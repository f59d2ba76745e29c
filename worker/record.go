package worker

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/internal/transient"
	"github.com/hookd/hookd/topology"
)

// Records go to the delivery log through the process's Committer
// (group commit: one message per endpoint and millisecond or so), and a
// delivery is settled only once its record is stored. A manual retry
// supersedes the queueing it replaces at read time (the log's readers
// fold records by queueing); the worker also drops such an older
// queueing as soon as it learns of the newer one, from the requeued
// bucket it watches (requeued).

// record appends an attempt to the delivery log and waits for it to be
// stored, so the log is complete before the delivery is settled. If a
// manual retry queued the delivery anew meanwhile, nothing is appended and
// superseded is true: that queueing owns the delivery now.
func (w *Worker) record(ctx context.Context, msg jetstream.Msg, rec delivery.Attempt) (superseded bool) {
	w.log.Debug("attempt", "endpoint", rec.EndpointID, "delivery", rec.DeliveryID,
		"attempt", rec.Number, "status", rec.StatusCode, "outcome", rec.Outcome, "err", rec.Error)
	if w.supersededQueue(rec.DeliveryID, rec.Queue) {
		w.log.Info("delivery queued anew meanwhile; this attempt is not logged", "endpoint", rec.EndpointID, "delivery", rec.DeliveryID, "attempt", rec.Number)
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := w.committer.Add(rec).Wait(ctx); err != nil {
		// The delivery itself is not held back for its history: the
		// committer keeps the record and writes it later. The attempt was
		// made all the same, so the next one here is numbered after it.
		w.log.Warn("attempt not recorded yet, to be written later", "endpoint", rec.EndpointID, "delivery", rec.DeliveryID, "err", err)
		w.recent.remember(msg, rec)
		return false
	}
	w.recent.remember(msg, rec)
	w.fault(FaultRecorded, rec.DeliveryID)
	return false
}

// lastRecord returns the current log record of the delivery msg carries,
// or nil if none: from what this worker recorded itself when msg is
// handed out again right after (the common case: a retry on the
// endpoint's own consumer, or the copy it moved), else read from the log
// from the time msg was stored.
func (w *Worker) lastRecord(ctx context.Context, endpointID, deliveryID string, msg jetstream.Msg) (*delivery.Attempt, error) {
	meta, err := msg.Metadata()
	if err == nil {
		if rec, ok := w.recent.lookup(deliveryID, meta); ok {
			return &rec, nil
		}
		if v := msg.Headers().Get(headerLast); v != "" && meta.NumDelivered == 1 {
			// A copy's first hand-out: the mover said what the log holds.
			if v == lastNone {
				return nil, nil
			}
			var rec delivery.Attempt
			if json.Unmarshal([]byte(v), &rec) == nil {
				rec.DeliveryID = deliveryID
				w.recent.rememberAt(meta, rec)
				return &rec, nil
			}
		}
	}
	from := time.Time{}
	if meta != nil && msg.Headers().Get(delivery.HeaderRouteRetry) == "" {
		// Its records are younger than it, but for a delivery routed
		// again, whose first routing may have recorded it directly: its
		// event's acceptance bounds those.
		from = meta.Timestamp.Add(-delivery.ClockMargin)
	}
	if _, accepted, ok := delivery.ParseID(deliveryID); ok && from.Before(accepted.Add(-delivery.ClockMargin)) {
		from = accepted.Add(-delivery.ClockMargin)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	last, err := w.views.last(ctx, w.dlog, endpointID, deliveryID, from)
	if err == nil && last == nil {
		last, err = w.dlog.Legacy(ctx, endpointID, deliveryID)
	}
	if err == nil && last != nil && meta != nil {
		w.recent.rememberAt(meta, *last) // its next hand-out here reads no log
	}
	return last, err
}

// headerLast, on a copy a worker moved out of the queue, carries what the
// delivery log holds of it, as the mover knew for certain: lastNone (no
// record: its first hand-out, nobody attempted it) or its last record
// (the one the mover just stored), so that the copy's first hand-out
// reads no log. Absent: the log is read.
const (
	headerLast = "Hookd-Last-Record"
	lastNone   = "none"
)

// lastHeader is headerLast's value for the delivery in msg, "" if not
// known for certain.
func (w *Worker) lastHeader(msg jetstream.Msg) string {
	meta, err := msg.Metadata()
	if err != nil {
		return ""
	}
	dlv := msg.Headers().Get(delivery.HeaderDeliveryID)
	if rec, ok := w.recent.current(dlv, meta); ok {
		b, _ := json.Marshal(delivery.Attempt{Number: rec.Number, Queue: rec.Queue, Outcome: rec.Outcome, Time: rec.Time,
			DurationSeconds: rec.DurationSeconds, NextAttemptInSeconds: rec.NextAttemptInSeconds})
		return string(b)
	}
	h := msg.Headers()
	if meta.NumDelivered == 1 && h.Get(delivery.HeaderMoved) == "" && h.Get(topology.MigratedHeader) == "" && h.Get(readLogHeader) == "" && h.Get(delivery.HeaderRouteRetry) == "" {
		return lastNone
	}
	return ""
}

// supersededQueue reports whether a newer manual queueing of a delivery
// than queue is known.
func (w *Worker) supersededQueue(deliveryID string, queue int) bool {
	q, ok := w.requeued.Load(deliveryID)
	return ok && q.(int) > queue
}

// watchRequeued keeps w.requeued up to date with the requeued bucket
// until ctx ends: a manual queueing is known here within the watch's
// delay, in which a superseded attempt may still be made (and is ignored
// by the log's readers): at least once, never lost.
func (w *Worker) watchRequeued(ctx context.Context) {
	var kv jetstream.KeyValue
	err := transient.Retry(ctx, &transient.Reporter{Log: w.log, Msg: "manual queueings bucket not opened, retrying"}, func(ctx context.Context) error {
		var err error
		kv, err = w.topo.Requeued(ctx)
		return err
	})
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		w.log.Warn("manual queueings not followed: a superseded retry may be sent once more", "err", err)
		return
	}
	for ctx.Err() == nil {
		watch, err := kv.WatchAll(ctx)
		if err != nil {
			w.log.Debug("requeued watch", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
				continue
			}
		}
		for e := range watch.Updates() {
			if e == nil {
				continue // the current values are in
			}
			if e.Operation() != jetstream.KeyValuePut {
				w.requeued.Delete(e.Key())
				continue
			}
			var r delivery.Requeued
			if json.Unmarshal(e.Value(), &r) == nil {
				w.requeued.Store(e.Key(), r.Queue)
			}
		}
		_ = watch.Stop()
	}
}

// recentRecords remembers the last record this worker stored for each
// delivery still in progress, with the message it was made for, so that
// when the same message comes back to this worker right after (its
// NumDelivered one more), the log need not be read. Bounded: when full it
// starts over (a miss only costs a log read).
type recentRecords struct {
	m sync.Map // delivery id -> recentRecord
	n atomic.Int64
}

type recentRecord struct {
	stream    string
	seq       uint64
	delivered uint64
	rec       delivery.Attempt
}

// maxRecent bounds recentRecords.
const maxRecent = 100_000

func (r *recentRecords) remember(msg jetstream.Msg, rec delivery.Attempt) {
	if meta, err := msg.Metadata(); err == nil {
		r.rememberAt(meta, rec)
	}
}

// rememberAt remembers rec as the last record of its delivery, whose
// message meta describes as handed out now.
func (r *recentRecords) rememberAt(meta *jetstream.MsgMetadata, rec delivery.Attempt) {
	switch rec.Outcome {
	case delivery.OutcomeSucceeded, delivery.OutcomeDead, delivery.OutcomeBatched:
		r.forget(rec.DeliveryID)
		return
	}
	if r.n.Load() >= maxRecent {
		r.m.Clear()
		r.n.Store(0)
	}
	if _, loaded := r.m.Swap(rec.DeliveryID, recentRecord{stream: meta.Stream, seq: meta.Sequence.Stream, delivered: meta.NumDelivered, rec: rec}); !loaded {
		r.n.Add(1)
	}
}

// moved notes that a delivery's message was copied to stream at seq
// (moveToHeld): the copy's first hand-out is the next one.
func (r *recentRecords) moved(deliveryID, stream string, seq uint64) {
	if v, ok := r.m.Load(deliveryID); ok {
		rr := v.(recentRecord)
		rr.stream, rr.seq, rr.delivered = stream, seq, 0
		r.m.Store(deliveryID, rr)
	}
}

func (r *recentRecords) forget(deliveryID string) {
	if _, ok := r.m.LoadAndDelete(deliveryID); ok {
		r.n.Add(-1)
	}
}

// current returns the remembered record of a delivery if it was made for
// meta's message as handed out now.
func (r *recentRecords) current(deliveryID string, meta *jetstream.MsgMetadata) (delivery.Attempt, bool) {
	v, ok := r.m.Load(deliveryID)
	if !ok {
		return delivery.Attempt{}, false
	}
	rr := v.(recentRecord)
	if rr.stream != meta.Stream || rr.seq != meta.Sequence.Stream || meta.NumDelivered != rr.delivered {
		return delivery.Attempt{}, false
	}
	return rr.rec, true
}

// lookup returns the remembered record of a delivery if meta's message is
// the one it was made for, handed out once since (by no other worker).
func (r *recentRecords) lookup(deliveryID string, meta *jetstream.MsgMetadata) (delivery.Attempt, bool) {
	v, ok := r.m.Load(deliveryID)
	if !ok {
		return delivery.Attempt{}, false
	}
	rr := v.(recentRecord)
	if rr.stream != meta.Stream || rr.seq != meta.Sequence.Stream || meta.NumDelivered != rr.delivered+1 {
		return delivery.Attempt{}, false
	}
	return rr.rec, true
}

// logViews keeps, per endpoint whose log this worker had to read, the
// state of each of its deliveries folded from the log, read on from where
// the last read stopped: a backlog read from the log one delivery at a
// time (an endpoint enabled again, say) costs one pass over the log,
// not one per delivery. A view unused for viewIdle is dropped.
type logViews struct {
	m sync.Map // endpoint id -> *logView
}

type logView struct {
	mu      sync.Mutex
	from    time.Time
	lastSeq uint64
	state   map[string]delivery.Attempt
	used    time.Time
}

// viewIdle is how long an unused view is kept; maxViewDeliveries bounds
// one view (beyond it, it starts over).
const (
	viewIdle          = time.Minute
	maxViewDeliveries = 200_000
)

func (v *logViews) last(ctx context.Context, dlog *delivery.Log, endpointID, deliveryID string, from time.Time) (*delivery.Attempt, error) {
	now := time.Now()
	v.m.Range(func(k, x any) bool {
		if vw := x.(*logView); vw.mu.TryLock() {
			if now.Sub(vw.used) > viewIdle {
				v.m.Delete(k)
			}
			vw.mu.Unlock()
		}
		return true
	})
	x, _ := v.m.LoadOrStore(endpointID, &logView{})
	vw := x.(*logView)
	vw.mu.Lock()
	defer vw.mu.Unlock()
	vw.used = now
	if vw.state == nil || from.Before(vw.from) || len(vw.state) > maxViewDeliveries {
		vw.state, vw.from, vw.lastSeq = map[string]delivery.Attempt{}, from, 0
	} else if last, err := dlog.LastSeq(ctx, endpointID); err == nil && last <= vw.lastSeq {
		// Nothing stored since the view was read (one direct get instead
		// of a consumer per delivery: an endpoint enabled again hands out
		// its whole backlog, each delivery asking).
		if a, ok := vw.state[deliveryID]; ok {
			return &a, nil
		}
		return nil, nil
	}
	err := dlog.Follow(ctx, endpointID, vw.from, vw.lastSeq, func(a delivery.Attempt, seq uint64) bool {
		vw.lastSeq = seq
		if a.EndpointID != endpointID {
			return true
		}
		cur, ok := vw.state[a.DeliveryID]
		var curp *delivery.Attempt
		if ok {
			curp = &cur
		}
		if delivery.Fold(curp, a) {
			vw.state[a.DeliveryID] = a
		}
		return true
	})
	if err != nil {
		vw.state = nil // read again in full next time
		return nil, err
	}
	if a, ok := vw.state[deliveryID]; ok {
		return &a, nil
	}
	return nil, nil
}
