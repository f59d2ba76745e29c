package worker

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A worker pulls only from endpoints with work: thousands of mostly idle
// endpoints must cost neither a pull request each nor CPU. Routers ring an
// endpoint's doorbell (WakeSubject) when they queue deliveries; a periodic
// sweep of the endpoint streams catches what a doorbell missed (a worker
// restarting, an endpoint enabled again with held deliveries).
//
// sweepInterval is how often every endpoint stream is looked at.
const sweepInterval = 30 * time.Second

// activity is an endpoint consumer's last sign of work and idle check.
type activity struct {
	last    atomic.Int64 // unix ns of the last delivery handed out
	checked time.Time    // last idle check (reconcile goroutine only)
}

func (a *activity) touch() { a.last.Store(time.Now().UnixNano()) }

// idleSince reports whether nothing was handed out for d.
func (a *activity) idleFor(d time.Duration, now time.Time) bool {
	return now.Sub(time.Unix(0, a.last.Load())) >= d
}

// subscribeWakes listens to every endpoint's doorbell; a ring is queued
// for the Run loop. A full queue is not lost: the next sweep finds the work.
func (w *Worker) subscribeWakes() (*nats.Subscription, error) {
	return w.js.Conn().Subscribe(w.names.WakeSubject("*"), func(m *nats.Msg) {
		id, _ := w.names.EndpointOfWake(m.Subject)
		select {
		case w.wakes <- id:
		default:
			w.sweepSoon.Store(true)
		}
	})
}

// wake starts consuming an enabled endpoint this worker is not consuming.
func (w *Worker) wake(ctx context.Context, id string) {
	if w.consumers[id] != nil {
		return
	}
	ep := w.reg.Snapshot().Get(id)
	if ep == nil || ep.Disabled {
		return
	}
	ec, err := w.start(ctx, id, ep.Layout())
	if err != nil {
		w.log.Debug("cannot consume endpoint yet", "endpoint", id, "err", err)
		return
	}
	w.consumers[id] = ec
}

// sweep wakes every enabled endpoint whose stream holds deliveries.
func (w *Worker) sweep(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	streams := w.js.ListStreams(ctx, jetstream.WithStreamListSubject(w.names.DeliverySubject(">")))
	for info := range streams.Info() {
		if id, ok := w.names.EndpointOfStream(info.Config.Name); ok && info.State.Msgs > 0 {
			w.wake(ctx, id)
		}
	}
	if err := streams.Err(); err != nil {
		w.log.Warn("endpoint streams not listed", "err", err)
	}
	w.sweepBatches(ctx)
}

// sweepBatches wakes every enabled endpoint whose batch stream holds
// batches, and remembers it, so that batches left when batching was turned
// off are still delivered (EnsureEndpoint keeps their stream).
func (w *Worker) sweepBatches(ctx context.Context) {
	streams := w.js.ListStreams(ctx, jetstream.WithStreamListSubject(w.names.BatchSubject(">")))
	listed := map[string]bool{}
	for info := range streams.Info() {
		id, ok := w.names.EndpointOfBatchStream(info.Config.Name)
		if !ok {
			continue
		}
		listed[id] = true
		if info.State.Msgs == 0 {
			delete(w.batchBacklog, id)
			continue
		}
		w.batchBacklog[id] = true
		if ec := w.consumers[id]; ec != nil && !ec.batches {
			// Consumed without its batches: start anew with them.
			ec.drain(closedAfter(drainTimeout))
			delete(w.consumers, id)
		}
		w.wake(ctx, id)
	}
	if err := streams.Err(); err != nil {
		w.log.Warn("batch streams not listed", "err", err)
		return
	}
	// A deleted endpoint's batch stream is gone: forget it.
	for id := range w.batchBacklog {
		if !listed[id] {
			delete(w.batchBacklog, id)
		}
	}
}

// settled reports whether an idle endpoint has nothing left to deliver, not
// even a retry waiting for its time, so this worker can stop pulling.
func (w *Worker) settled(ctx context.Context, ec *endpointConsumer) bool {
	for _, c := range ec.consumers {
		info, err := c.Info(ctx)
		if err != nil || info.NumPending > 0 || info.NumAckPending > 0 || info.NumRedelivered > 0 {
			return false
		}
	}
	return true
}
