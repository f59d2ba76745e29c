package worker

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/internal/transient"
)

// pausePrefix starts the rate bucket's keys that hold endpoint pauses;
// they expire with the bucket's one-minute TTL.
const pausePrefix = "pause."

// endpointPause is the shared record of a paused endpoint.
type endpointPause struct {
	Until time.Time `json:"until"`
}

// pause stops every worker sending to the endpoint for d: here at once,
// elsewhere when the shared record reaches them.
func (w *Worker) pause(ctx context.Context, endpointID string, d time.Duration) {
	until := time.Now().Add(d)
	if prev, ok := w.pauses.Load(endpointID); ok && !prev.(time.Time).Before(until) {
		return
	}
	w.pauses.Store(endpointID, until)
	w.log.Info("endpoint throttled us, paused", "endpoint", endpointID, "for", d)
	b, _ := json.Marshal(endpointPause{Until: until.UTC()})
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := w.rate.KV.Put(ctx, pausePrefix+endpointID, b); err != nil {
		w.log.Warn("pause not shared with other workers", "endpoint", endpointID, "err", err)
	}
}

// pausedFor returns how long the endpoint stays paused, 0 if it is not.
func (w *Worker) pausedFor(endpointID string, now time.Time) time.Duration {
	v, ok := w.pauses.Load(endpointID)
	if !ok {
		return 0
	}
	return max(v.(time.Time).Sub(now), 0)
}

// waitPause holds a delivery of the endpoint's own consumer while the
// endpoint is paused, in the consumer's callback, telling JetStream it is
// still worked on; it returns when the pause ends, or the worker stops
// consuming the endpoint (preflight then hands the delivery back). A
// blocked callback stops the consumer's pulls, so a paused endpoint costs
// nothing however large its backlog. Handing each delivery back with a
// delay instead (as preflight does for a pause that starts after this
// wait) made the consumer hand out, and the worker read the log of, every
// waiting delivery up to the consumer's MaxAckPending (20,000) once per
// pause: an endpoint answering 503 slowly with a 100,000 backlog kept
// 1.3 to 1.9 cores busy and took the other endpoints' p90 from 4 ms to
// 10 ms and more (BENCHMARKS.md, isolation). Only the endpoint's own
// consumer waits here: a shard's callback never waits for one endpoint.
func (w *Worker) waitPause(ec *endpointConsumer, msg jetstream.Msg) {
	for beat := false; ; beat = true {
		d := w.pausedFor(ec.id, time.Now())
		if d <= 0 {
			return
		}
		if beat {
			_ = msg.InProgress()
		}
		t := time.NewTimer(min(d, w.ackWait/3))
		select {
		case <-t.C:
		case <-w.quit:
			t.Stop()
			return
		case <-ec.draining:
			t.Stop()
			return
		}
	}
}

// watchPauses keeps this worker's view of other workers' pauses, until ctx
// is done.
func (w *Worker) watchPauses(ctx context.Context) {
	// Logged at a bounded rate, with backoff: the bucket is unreachable
	// for as long as JetStream is.
	rep := transient.Reporter{Log: w.log, Msg: "endpoint pauses not followed, retrying"}
	var b transient.Backoff
	for ctx.Err() == nil {
		err := w.followPauses(ctx, func() { b.Reset(); rep.Recovered() })
		if ctx.Err() != nil {
			return
		}
		rep.Failed(err)
		transient.Sleep(ctx, b.Next())
	}
}

// followPauses follows the pauses until ctx ends or the watch fails;
// following is called once the current ones are in.
func (w *Worker) followPauses(ctx context.Context, following func()) error {
	watcher, err := w.rate.KV.Watch(ctx, pausePrefix+"*")
	if err != nil {
		return err
	}
	defer func() { _ = watcher.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-watcher.Updates():
			if !ok {
				return errors.New("pause watcher closed")
			}
			if e == nil {
				following() // the initial values are in
				continue
			}
			if e.Operation() != jetstream.KeyValuePut {
				continue // expired
			}
			var p endpointPause
			if json.Unmarshal(e.Value(), &p) != nil {
				continue
			}
			id := e.Key()[len(pausePrefix):]
			if prev, ok := w.pauses.Load(id); !ok || prev.(time.Time).Before(p.Until) {
				w.pauses.Store(id, p.Until)
			}
		}
	}
}
