package router

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/internal/transient"
	"github.com/hookd/hookd/topology"
)

// heldMarks follows the held marks bucket (topology.HeldBucket): plain
// endpoints a worker found busy (as many deliveries out to it as a worker
// allows) or failing. Their new deliveries go to their held subject, served
// by a consumer of their own, instead of through the shard consumers,
// where each would be moved there one by one. A mark expires unless a
// worker renews it; without the bucket (being created, unreachable) every
// plain endpoint routes to the queue, and workers move what must wait.
type heldMarks struct {
	m sync.Map // endpoint id -> time.Time the mark was put
}

// has reports whether an endpoint is marked held. A mark is judged by its
// age, not by the bucket's expiry: a key-value TTL removes the key without
// telling watchers.
func (h *heldMarks) has(id string) bool {
	at, ok := h.m.Load(id)
	if !ok {
		return false
	}
	if time.Since(at.(time.Time)) >= topology.HeldMarkTTL {
		h.m.CompareAndDelete(id, at)
		return false
	}
	return true
}

// prune forgets expired marks of endpoints no event went to since.
func (h *heldMarks) prune() {
	h.m.Range(func(id, at any) bool {
		if time.Since(at.(time.Time)) >= topology.HeldMarkTTL {
			h.m.CompareAndDelete(id, at)
		}
		return true
	})
}

// follow keeps the marks until ctx is done, watching anew after a failure
// (with backoff, logged at a bounded rate: the bucket is unreachable for
// as long as JetStream is).
func (h *heldMarks) follow(ctx context.Context, open func(context.Context) (jetstream.KeyValue, error), log *slog.Logger) {
	rep := transient.Reporter{Log: log, Msg: "held marks not followed, retrying"}
	var b transient.Backoff
	for ctx.Err() == nil {
		err := h.watch(ctx, open, func() { b.Reset(); rep.Recovered() })
		if ctx.Err() != nil {
			return
		}
		rep.Failed(err)
		transient.Sleep(ctx, b.Next())
	}
}

func (h *heldMarks) watch(ctx context.Context, open func(context.Context) (jetstream.KeyValue, error), following func()) error {
	kv, err := open(ctx)
	if err != nil {
		return err
	}
	watcher, err := kv.WatchAll(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = watcher.Stop() }()
	prune := time.NewTicker(topology.HeldMarkTTL)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-prune.C:
			h.prune()
		case e, ok := <-watcher.Updates():
			if !ok {
				return errors.New("held marks watcher closed")
			}
			if e == nil {
				following() // the initial values are in
				continue
			}
			if e.Operation() == jetstream.KeyValuePut {
				h.m.Store(e.Key(), e.Created())
			} else {
				h.m.Delete(e.Key()) // expired, or removed
			}
		}
	}
}
