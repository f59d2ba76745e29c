package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/internal/jsmsg"
	"github.com/hookd/hookd/internal/transient"
	"github.com/hookd/hookd/topology"
)

// Plain endpoints' deliveries (topology.EndpointLayout.Plain) come through
// the shard consumers of the queue stream, which every worker consumes
// all the time: however many endpoints are busy, the server keeps a fixed
// number of consumers, and an idle worker holds one long-poll pull per
// shard. A shard's callback never waits for one endpoint: a delivery that
// cannot be attempted at once (this worker has EndpointConcurrency out to
// its endpoint; the endpoint is disabled, throttled or unopenable) and a
// retry waiting for its time are moved to the endpoint's held subject,
// where a consumer of the endpoint's own serves them (activity.go), and
// only then acknowledged in the queue. Waiting there, not in the shard,
// matters: a delayed nak keeps its place in the consumer's MaxAckPending,
// so retries left in a shard would stall every endpoint of the shard.

// moveTimeout bounds storing a moved delivery.
const moveTimeout = 10 * time.Second

// moveRetry is how long a delivery whose move failed (its held subject is
// full) waits in the queue before it is tried again.
const moveRetry = 5 * time.Second

// consumeShards starts consuming every shard consumer. A shard whose queue
// stream is missing (another process replacing the queue's layout; see
// topology.Config.QueueStreams) or that JetStream cannot serve for now (no
// quorum, a leader being elected) is left to reconcileShards.
func (w *Worker) consumeShards(ctx context.Context) error {
	defer w.countShardsDown()
	for shard := range topology.Shards {
		err := w.consumeShard(ctx, shard)
		switch {
		case err == nil:
		case errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrConsumerNotFound):
			w.log.Warn("shard not consumed yet", "shard", shard, "err", err)
		case transient.Temporary(err):
			w.shardsRep.Failed(err, "shard", shard)
		default:
			return err
		}
	}
	return nil
}

// countShardsDown counts the shards not consumed, for Ready.
func (w *Worker) countShardsDown() {
	down := 0
	for _, cc := range w.shards {
		if cc == nil {
			down++
			continue
		}
		select {
		case <-cc.Closed():
			down++
		default:
		}
	}
	w.shardsDown.Store(int32(down))
	if down == 0 {
		w.shardsRep.Recovered()
	}
}

// consumeShard consumes a shard's consumer on the queue stream the server
// says holds the shard (topology.ShardStream), not one this process's
// configuration names: processes started with different
// topology.Config.QueueStreams find the same stream.
func (w *Worker) consumeShard(ctx context.Context, shard int) error {
	stream, err := w.topo.ShardStream(ctx, shard)
	if err != nil {
		return err
	}
	cons, err := w.js.Consumer(ctx, stream, topology.ShardConsumer(shard))
	if err != nil {
		return fmt.Errorf("shard consumer %d: %w", shard, err)
	}
	cc, err := cons.Consume(w.dispatchShard, append(topology.ConsumeOptions(max(w.cfg.Concurrency/topology.Shards, 1)),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			w.log.Debug("consume shard", "shard", shard, "err", err)
		}))...)
	if err != nil {
		return fmt.Errorf("consume shard %d: %w", shard, err)
	}
	w.shards[shard] = cc
	return nil
}

// reconcileShards starts a shard's consumption that is not running: one
// that stopped on its own (its consumer deleted by hand, say, or with its
// queue stream when another process replaced the queue's layout:
// EnsureCore made it), or that could not start (JetStream unavailable for
// now). Failures are logged at a bounded rate: during an outage every
// round fails.
func (w *Worker) reconcileShards(ctx context.Context) {
	defer w.countShardsDown()
	if time.Now().Before(w.shardsRetryAt) {
		return // backing off: each try waits for JetStream's answer
	}
	failed := false
	defer func() {
		if failed {
			w.shardsRetryAt = time.Now().Add(w.shardsBackoff.Next())
		} else {
			w.shardsBackoff.Reset()
		}
	}()
	for shard, cc := range w.shards {
		if cc != nil {
			select {
			case <-cc.Closed():
			default:
				continue
			}
		}
		w.log.Debug("shard consumption stopped, restarting", "shard", shard)
		stream, err := w.topo.ShardStream(ctx, shard)
		if err == nil {
			_, err = w.js.CreateOrUpdateConsumer(ctx, stream, w.topo.ShardConsumerConfig(shard))
		}
		if err == nil {
			err = w.consumeShard(ctx, shard)
		}
		if err != nil {
			failed = true
			w.shardsRep.Failed(err, "shard", shard)
		}
	}
}

// dispatchShard runs in a shard consumer's callback: it blocks only for a
// free slot of the worker's Concurrency (backpressure for the whole
// worker), never for one endpoint.
func (w *Worker) dispatchShard(msg jetstream.Msg) {
	if !w.begin() {
		_ = msg.Nak() // another worker takes it now
		return
	}
	msg = jsmsg.WithMetadata(msg) // read once: preflight, the log and a move ask
	id, ok := w.names.EndpointOfQueue(msg.Subject())
	if !ok {
		w.settle(msg.Term, "term", msg.Subject(), "")
		w.inflight.Done()
		return
	}
	sem := w.endpointSem(id)
	select {
	case sem <- struct{}{}:
	default:
		// Busy: this worker has EndpointConcurrency out to the endpoint.
		// Its deliveries go to its held subject from now on (markHeld),
		// and this one moves there.
		w.movers <- struct{}{}
		go func() {
			defer func() { <-w.movers; w.inflight.Done() }()
			w.markHeld(id)
			w.moveToHeld(msg, id)
		}()
		return
	}
	w.acquire(w.global, msg)
	go func() {
		defer func() {
			<-w.global
			<-sem
			w.inflight.Done()
		}()
		w.deliver(id, msg)
	}()
}

// endpointSem is the semaphore of deliveries in flight to an endpoint from
// this worker, shared by its shard and held deliveries.
func (w *Worker) endpointSem(id string) chan struct{} {
	if sem, ok := w.sems.Load(id); ok {
		return sem.(chan struct{})
	}
	sem, _ := w.sems.LoadOrStore(id, make(chan struct{}, w.cfg.EndpointConcurrency))
	return sem.(chan struct{})
}

// fromQueue reports whether msg came through a shard consumer.
func (w *Worker) fromQueue(msg jetstream.Msg) bool {
	_, ok := w.names.EndpointOfQueue(msg.Subject())
	return ok
}

// moveToHeld copies a delivery out of the queue stream to its endpoint's
// held subject, then acknowledges it in the queue: the original stays
// until the copy is stored, so a crash in between sends it again through
// the queue, and the copy's Nats-Msg-Id (topology.QueueMoveID: the
// original's queue stream, sequence and time) drops the second copy
// within the duplicate window. The copy is marked
// (delivery.HeaderMoved) so the worker taking it reads its attempts from
// the delivery log. A copy that cannot be stored (the held subject is
// full) leaves the original in the queue for moveRetry.
func (w *Worker) moveToHeld(msg jetstream.Msg, endpointID string) {
	meta, err := msg.Metadata()
	if err != nil {
		w.settle(msg.Term, "term", endpointID, "")
		return
	}
	cp := nats.NewMsg(w.names.HeldSubject(endpointID))
	cp.Data = msg.Data()
	for k, v := range msg.Headers() {
		cp.Header[k] = v
	}
	cp.Header.Del(readLogHeader) // this process's mark, not the delivery's: the move is read from the log anyway
	if _, direct := msg.(*directMsg); !direct {
		// A direct delivery keeps the id its router gave it: routed again
		// after a crash, it is not stored twice.
		cp.Header.Set(jetstream.MsgIDHeader, topology.QueueMoveID(meta.Stream, meta.Sequence.Stream, meta.Timestamp))
	}
	cp.Header.Set(delivery.HeaderMoved, "1")
	cp.Header.Del(headerLast)
	if last := w.lastHeader(msg); last != "" {
		cp.Header.Set(headerLast, last)
	}
	ctx, cancel := context.WithTimeout(context.Background(), moveTimeout)
	defer cancel()
	ack, err := w.js.PublishMsg(ctx, cp)
	if err != nil {
		w.log.Warn("delivery not moved to its endpoint's held subject, retrying", "endpoint", endpointID,
			"delivery", msg.Headers().Get(delivery.HeaderDeliveryID), "err", err)
		w.settle(func() error { return msg.NakWithDelay(moveRetry) }, "nak", endpointID, "")
		return
	}
	w.fault(FaultMoved, msg.Headers().Get(delivery.HeaderDeliveryID))
	// The copy's first hand-out reads its record from here, not the log.
	w.recent.moved(msg.Headers().Get(delivery.HeaderDeliveryID), ack.Stream, ack.Sequence)
	w.settle(msg.Ack, "ack", endpointID, msg.Headers().Get(delivery.HeaderDeliveryID))
	// Every worker may serve it: ring the endpoint's doorbell.
	if err := w.js.Conn().Publish(w.names.WakeSubject(endpointID), nil); err != nil {
		w.log.Debug("doorbell not rung", "endpoint", endpointID, "err", err)
	}
}

// markHeldEvery bounds how often one worker renews an endpoint's held
// mark: well within its expiry (topology.HeldMarkTTL).
const markHeldEvery = topology.HeldMarkTTL / 3

// markHeld marks a plain endpoint held for topology.HeldMarkTTL, so routers
// send its deliveries to its held subject while it is busy or failing:
// served by a consumer of its own, which waits for the endpoint's
// semaphore, they are not moved one by one. Renewed at most every
// markHeldEvery by this worker; the mark expires by itself once no
// worker finds the endpoint busy or failing.
func (w *Worker) markHeld(id string) {
	now := time.Now()
	if last, ok := w.marked.Load(id); ok && now.Sub(last.(time.Time)) < markHeldEvery {
		return
	}
	w.marked.Store(id, now)
	if w.heldMarks == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := w.heldMarks.Put(ctx, id, nil); err != nil {
		w.log.Debug("held mark not set", "endpoint", id, "err", err)
	}
}
