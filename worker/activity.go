package worker

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/topology"
	"github.com/nats-io/nats.go"
)

// A worker pulls only from endpoints with work: thousands of mostly idle
// endpoints must cost neither a pull request each nor CPU. Routers ring an
// endpoint's doorbell (WakeSubject) when they queue deliveries; a periodic
// sweep of the endpoint streams catches what a doorbell missed (a worker
// restarting, an endpoint enabled again with held deliveries).
//
// sweepInterval is how often the delivery streams' backlogs are read.
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

// wakeUp is a doorbell rung for an endpoint's lane (0: the endpoint, or
// its lanes unknown).
type wakeUp struct {
	id   string
	lane int
}

// subscribeWakes listens to every endpoint's doorbell; a ring is queued
// for the Run loop. A full queue is not lost: the next sweep finds the work.
func (w *Worker) subscribeWakes() (*nats.Subscription, error) {
	return w.js.Conn().Subscribe(w.names.WakeSubject("*"), func(m *nats.Msg) {
		id, _ := w.names.EndpointOfWake(m.Subject)
		lane, _ := strconv.Atoi(string(m.Data))
		select {
		case w.wakes <- wakeUp{id, lane}:
		default:
			w.sweepSoon.Store(true)
		}
	})
}

// wake starts consuming an enabled endpoint this worker is not consuming,
// or the lane of an ordered endpoint it does not consume yet.
func (w *Worker) wake(ctx context.Context, id string, lane int) {
	ep := w.reg.Snapshot().Get(id)
	if ep == nil || ep.Disabled {
		return
	}
	l := ep.Layout()
	ec := w.consumers[id]
	if ec != nil && (!l.Ordered || l.Lanes == 0) {
		return
	}
	lanes, err := w.lanesFor(ctx, id, l, lane)
	if err != nil {
		w.log.Debug("lanes of endpoint not read", "endpoint", id, "err", err)
		return
	}
	if ec != nil {
		w.addLanes(ctx, ec, lanes)
		return
	}
	ec, err = w.start(ctx, id, l, lanes)
	if err != nil {
		// At the held stream's consumer bound (topology.Config.HeldMaxConsumers)
		// the endpoint waits for another to go idle: the sweep tries again.
		// Said once a minute at most: doorbells ring every 250 ms.
		if now := time.Now().UnixNano(); now-w.warnedWake.Load() >= int64(time.Minute) {
			w.warnedWake.Store(now)
			w.log.Warn("cannot consume endpoint yet", "endpoint", id, "err", err)
		} else {
			w.log.Debug("cannot consume endpoint yet", "endpoint", id, "err", err)
		}
		return
	}
	w.consumers[id] = ec
}

// lanesFor returns the lanes of an ordered endpoint to consume on a ring
// for lane: that lane, or when the ring did not say (a backfill, a
// sweep, a restart), every lane holding deliveries.
func (w *Worker) lanesFor(ctx context.Context, id string, l topology.EndpointLayout, lane int) ([]int, error) {
	switch {
	case !l.Ordered:
		return nil, nil
	case l.Lanes == 0:
		return []int{0}, nil
	case lane > 0 && lane <= l.Lanes:
		return []int{lane}, nil
	}
	b, err := w.topo.Backlog(ctx, id)
	if err != nil {
		return nil, err
	}
	var lanes []int
	for _, n := range b.Lanes {
		if n > 0 && n <= l.Lanes {
			lanes = append(lanes, n)
		}
	}
	return lanes, nil
}

// sweep wakes every enabled endpoint, and lane, that holds deliveries; it
// reads the delivery streams' per-subject counts, so it costs in
// proportion to the endpoints with a backlog, not to all endpoints.
func (w *Worker) sweep(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	n := w.names
	held, err := w.topo.SubjectCounts(ctx, n.HeldStream(), n.HeldSubject("*"))
	if err != nil {
		w.log.Warn("delivery backlogs not read", "err", err)
		return
	}
	for subject := range held {
		if id, ok := n.EndpointOfHeld(subject); ok {
			w.wake(ctx, id, 0)
			w.dropOrphans(ctx, id)
		}
	}
	ordered, err := w.topo.SubjectCounts(ctx, n.HeldStream(), n.OrderedSubjects())
	if err != nil {
		w.log.Warn("ordered backlogs not read", "err", err)
		return
	}
	for subject := range ordered {
		if id, lane, ok := n.EndpointOfOrdered(subject); ok {
			w.wake(ctx, id, lane)
			w.dropOrphans(ctx, id)
		}
	}
	w.sweepBatches(ctx)
}

// dropOrphans removes what waits for an endpoint that no longer exists: a
// router that matched it just before its deletion may have queued a
// delivery after DeleteEndpoint purged its subjects. The endpoints bucket,
// not this worker's view of it (which may lag behind a creation), decides.
func (w *Worker) dropOrphans(ctx context.Context, id string) {
	if w.reg.Snapshot().Get(id) != nil {
		return
	}
	if _, err := w.endpoints.Get(ctx, id); !errors.Is(err, endpoint.ErrNotFound) {
		return
	}
	if err := w.topo.DeleteEndpoint(ctx, id); err != nil {
		w.log.Warn("deliveries of a deleted endpoint not removed", "endpoint", id, "err", err)
		return
	}
	w.log.Info("removed deliveries queued for a deleted endpoint", "endpoint", id)
}

// sweepBatches wakes every enabled endpoint for which batches wait, and
// remembers it, so that batches left when batching was turned off are
// still delivered.
func (w *Worker) sweepBatches(ctx context.Context) {
	n := w.names
	counts, err := w.topo.SubjectCounts(ctx, n.BatchesStream(), n.BatchesSubject("*"))
	if err != nil {
		w.log.Warn("batch backlogs not read", "err", err)
		return
	}
	clear(w.batchBacklog)
	for subject := range counts {
		id, ok := n.EndpointOfBatches(subject)
		if !ok {
			continue
		}
		w.batchBacklog[id] = true
		w.dropOrphans(ctx, id)
		if ec := w.consumers[id]; ec != nil && !ec.batches {
			// Consumed without its batches: start anew with them.
			ec.drain(closedAfter(drainTimeout))
			delete(w.consumers, id)
		}
		w.wake(ctx, id, 0)
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
