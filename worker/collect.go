package worker

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/event"
)

// A batched endpoint's deliveries are collected, not sent: its collector
// gathers them into a batch until the batch holds max_events, would grow
// past what one message can carry, or max_wait has passed since its first
// delivery arrived here; then it stores the batch as one delivery in the
// batches stream (see batch.go) and only then acknowledges the
// members. Until then the members stay in the held stream,
// unacknowledged and kept alive with InProgress, so a batch being
// collected survives a crash or a restart: its members come back and are
// collected again.
//
// max_wait runs from when this worker got the batch's first delivery, not
// from the event's acceptance: after a restart or a disabled spell the
// backlog is collected into full batches instead of one batch per pull.
// Each worker process collects its own batches, so with several workers
// batches can be smaller than max_events.

// collectPrefetch is how many deliveries a collector's consumer buffers
// ahead of it; the collector only appends them, so the buffer drains fast.
const collectPrefetch = 256

// batchHeadroom is kept free of a batch body in a message, for headers.
const batchHeadroom = 8 << 10

// collector gathers one batched endpoint's deliveries into batches.
type collector struct {
	w  *Worker
	ec *endpointConsumer

	mu      sync.Mutex
	open    *openBatch // nil when no batch is being collected
	stopped bool
}

// openBatch is a batch being collected.
type openBatch struct {
	members []member
	bytes   int
	// done is closed when the batch is closed or handed back: its
	// watcher stops.
	done chan struct{}
}

// member is a delivery collected into a batch.
type member struct {
	msg jetstream.Msg
	seq uint64 // in the held stream: with the delivery id, the batch id's input
	// stored is when the message was stored: a batch id holds its
	// newest member's.
	stored time.Time
	body   []byte // as a JSON value
	rec    delivery.Attempt
}

// add is the consumer callback of a batched endpoint's deliveries.
func (c *collector) add(msg jetstream.Msg) {
	w, id := c.w, c.ec.id
	if w.isStopping() {
		_ = msg.Nak() // another worker takes it now, not after the ack wait
		return
	}
	c.ec.activity.touch()
	ep := w.reg.Snapshot().Get(id)
	if ep == nil {
		w.settle(msg.Term, "term", id, "") // deleted: its deliveries go with it
		return
	}
	if ep.Batch == nil {
		// Batching was just turned off: reconcile restarts this consumer
		// unbatched, which sends it.
		w.settle(func() error { return msg.NakWithDelay(time.Second) }, "nak", id, "")
		return
	}
	if msg.Headers().Get(delivery.HeaderRenderError) != "" {
		// Not rendered in the endpoint's format: it cannot join a batch.
		// The single-delivery path dead-letters it with the error.
		w.dispatch(c.ec, msg) // in flight like any delivery: shutdown waits for it
		return
	}
	m, ok := w.admit(id, msg)
	if !ok {
		return
	}
	cfg := ep.Batch.WithDefaults()
	if delivery.BatchSize(cfg.Field, 1, len(m.body)) > w.maxBatchBytes() {
		// Too large for any batch (a body that grows when quoted as a JSON
		// string): it would be retried forever. Marked as a rendering
		// failure, the single-delivery path dead-letters it with the
		// reason.
		msg.Headers().Set(delivery.HeaderRenderError, fmt.Sprintf("batch: this delivery alone (%d bytes in the batch) exceeds the largest batch, %d bytes", len(m.body), w.maxBatchBytes()))
		w.dispatch(c.ec, msg) // in flight like any delivery: shutdown waits for it
		return
	}
	var full []*openBatch
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		_ = msg.Nak()
		return
	}
	if b := c.open; b != nil && delivery.BatchSize(cfg.Field, len(b.members)+1, b.bytes+len(m.body)) > w.maxBatchBytes() {
		full = append(full, c.take())
	}
	if c.open == nil {
		c.open = &openBatch{done: make(chan struct{})}
		go c.watch(c.open, cfg.MaxWait)
	}
	c.open.members = append(c.open.members, m)
	c.open.bytes += len(m.body)
	if len(c.open.members) >= cfg.MaxEvents {
		full = append(full, c.take())
	}
	c.mu.Unlock()
	for _, b := range full {
		c.flush(b)
	}
}

// take closes the open batch and returns it; c.mu must be held.
func (c *collector) take() *openBatch {
	b := c.open
	c.open = nil
	close(b.done)
	return b
}

// watch keeps a batch's members alive while it is open and closes it at
// max_wait, whether or not more deliveries arrive.
func (c *collector) watch(b *openBatch, wait time.Duration) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	beat := time.NewTicker(c.w.ackWait / 3)
	defer beat.Stop()
	for {
		select {
		case <-b.done:
			return
		case <-beat.C:
			c.mu.Lock()
			ms := slices.Clone(b.members)
			c.mu.Unlock()
			for _, m := range ms {
				_ = m.msg.InProgress()
			}
		case <-deadline.C:
			c.mu.Lock()
			if c.open != b {
				c.mu.Unlock()
				return // closed by count or handed back meanwhile
			}
			c.take()
			c.mu.Unlock()
			c.flush(b)
			return
		}
	}
}

// flush stores a closed batch in the background, or hands its members
// back when the worker is stopping. Never in the consumer's callback: the
// deliveries the client buffered meanwhile could outlive their ack wait
// (only those in a batch are kept alive) and be collected twice. Memory is
// bounded by the collecting consumer's MaxAckPending instead.
func (c *collector) flush(b *openBatch) {
	if !c.w.begin() {
		nakAll(b.members)
		return
	}
	go func() {
		defer c.w.inflight.Done()
		c.w.storeBatch(c.ec.id, b.members)
	}()
}

// stop hands the open batch's members back, so that they are collected
// again (here after a restart, or by another worker) instead of waiting
// for their ack wait. Later deliveries are handed back too.
func (c *collector) stop() {
	c.mu.Lock()
	c.stopped = true
	var b *openBatch
	if c.open != nil {
		b = c.take()
	}
	c.mu.Unlock()
	if b != nil {
		nakAll(b.members)
	}
}

func nakAll(ms []member) {
	for _, m := range ms {
		_ = m.msg.Nak()
	}
}

// admit reads a delivery to collect. A redelivered one whose log says it
// went into a batch already (its acknowledgement was lost in a crash), or
// was sent before batching was turned on, is acknowledged and dropped: no
// delivery goes into two batches.
func (w *Worker) admit(endpointID string, msg jetstream.Msg) (member, bool) {
	meta, err := msg.Metadata()
	if err != nil {
		w.log.Error("delivery without metadata", "endpoint", endpointID, "err", err)
		_ = msg.Term()
		return member{}, false
	}
	rec := newRecord(endpointID, msg.Headers())
	base, _ := strconv.Atoi(msg.Headers().Get(delivery.HeaderAttemptBase))
	rec.Number, rec.Queue = base, base
	if w.supersededQueue(rec.DeliveryID, base) {
		w.settle(msg.Ack, "ack", endpointID, rec.DeliveryID) // a manual retry queued it anew
		return member{}, false
	}
	if meta.NumDelivered > 1 {
		last, err := w.lastRecord(context.Background(), endpointID, rec.DeliveryID, msg)
		if err != nil {
			w.log.Warn("delivery log unreadable, retrying", "endpoint", endpointID, "delivery", rec.DeliveryID, "err", err)
			w.settle(func() error { return msg.NakWithDelay(time.Second) }, "nak", endpointID, rec.DeliveryID)
			return member{}, false
		}
		if last != nil && (last.Outcome == delivery.OutcomeBatched || last.Outcome == delivery.OutcomeSucceeded || last.Queue > base) {
			w.settle(msg.Ack, "ack", endpointID, rec.DeliveryID)
			return member{}, false
		}
		if last != nil && last.Number > base {
			rec.Number = last.Number // attempts made before batching was turned on
		}
	}
	return member{msg: msg, seq: meta.Sequence.Stream, stored: meta.Timestamp, body: event.NormalizeData(msg.Data()), rec: rec}, true
}

// maxBatchBytes is the largest batch body a message can carry.
func (w *Worker) maxBatchBytes() int {
	if n := int(w.js.Conn().MaxPayload()); n > 2*batchHeadroom {
		return n - batchHeadroom
	}
	return 1<<20 - batchHeadroom // the server's default
}
