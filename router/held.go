package router

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// heldMarks follows the held marks bucket (topology.HeldBucket): plain
// endpoints a worker found busy (as many deliveries out to it as a worker
// allows) or failing. Their new deliveries go to their held subject, served
// by a consumer of their own, instead of through the shard consumers,
// where each would be moved there one by one. A mark expires unless a
// worker renews it; without the bucket (being created, unreachable) every
// plain endpoint routes to the queue, and workers move what must wait.
type heldMarks struct {
	m sync.Map // endpoint id -> struct{}
}

// has reports whether an endpoint is marked held.
func (h *heldMarks) has(id string) bool {
	_, ok := h.m.Load(id)
	return ok
}

// follow keeps the marks until ctx is done, watching anew after a failure.
func (h *heldMarks) follow(ctx context.Context, open func(context.Context) (jetstream.KeyValue, error), log interface {
	Warn(string, ...any)
}) {
	for ctx.Err() == nil {
		err := h.watch(ctx, open)
		if ctx.Err() != nil {
			return
		}
		log.Warn("held marks not followed, retrying", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (h *heldMarks) watch(ctx context.Context, open func(context.Context) (jetstream.KeyValue, error)) error {
	kv, err := open(ctx)
	if err != nil {
		return err
	}
	watcher, err := kv.WatchAll(ctx)
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
				return errors.New("held marks watcher closed")
			}
			if e == nil {
				continue // the initial values are in
			}
			if e.Operation() == jetstream.KeyValuePut {
				h.m.Store(e.Key(), struct{}{})
			} else {
				h.m.Delete(e.Key()) // expired, or removed
			}
		}
	}
}
