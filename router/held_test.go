package router

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/internal/natstest"
	"github.com/hookd/hookd/topology"
)

// A held mark ends with its age: the bucket's TTL removes the key without
// a delete marker, so watchers never hear of the expiry, and a router that
// believed the bucket would keep the endpoint held for its lifetime.
func TestHeldMarkEndsWithItsAge(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	js := natstest.Start(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "held", History: 1, TTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var h heldMarks
	go h.follow(ctx, func(context.Context) (jetstream.KeyValue, error) { return kv, nil }, log)
	if _, err := kv.Put(ctx, "ep_1", nil); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); !h.has("ep_1"); time.Sleep(5 * time.Millisecond) { // polling
		if time.Now().After(deadline) {
			t.Fatal("the mark was never seen")
		}
	}
	// As if put HeldMarkTTL ago.
	h.m.Store("ep_1", time.Now().Add(-topology.HeldMarkTTL))
	if h.has("ep_1") {
		t.Fatal("a mark older than HeldMarkTTL still holds the endpoint")
	}
	h.m.Store("ep_2", time.Now().Add(-topology.HeldMarkTTL))
	h.prune()
	if _, ok := h.m.Load("ep_2"); ok {
		t.Fatal("an expired mark is kept")
	}
}
