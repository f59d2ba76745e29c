package topology

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// A batched layout gets a batch stream with its own consumer, which caps
// the batches in flight; the collecting consumer keeps its own bound.
// Turning batching off keeps the batch stream (batches may wait in it);
// deleting the endpoint removes both streams.
func TestEnsureBatchedEndpoint(t *testing.T) {
	js := startJetStream(t)
	topo, err := New(js, Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const id = "ep_b"
	maxAckPending := func(stream string) int {
		t.Helper()
		c, err := js.Consumer(ctx, stream, WorkerConsumer)
		if err != nil {
			t.Fatalf("consumer of %s: %v", stream, err)
		}
		return c.CachedInfo().Config.MaxAckPending
	}
	if err := topo.EnsureEndpoint(ctx, id, EndpointLayout{MaxInFlight: 3, Batched: true}); err != nil {
		t.Fatal(err)
	}
	if got := streamConfig(t, js, unprefixed.BatchStream(id)).Subjects; len(got) != 1 || got[0] != unprefixed.BatchSubject(id) {
		t.Fatalf("batch stream subjects %v", got)
	}
	// Batch ids are remembered longer than any batch can be open, so a
	// re-collection after a crash is a duplicate whatever max_wait is.
	if got, want := streamConfig(t, js, unprefixed.BatchStream(id)).Duplicates, MaxBatchWait+2*topo.Config().DeliveryAckWait; got != want {
		t.Fatalf("batch stream duplicate window %s, want %s", got, want)
	}
	if got := maxAckPending(unprefixed.BatchStream(id)); got != 3 {
		t.Fatalf("batch consumer MaxAckPending %d, want max_in_flight 3", got)
	}
	if got := maxAckPending(unprefixed.EndpointStream(id)); got != collectMaxAckPending {
		t.Fatalf("collecting consumer MaxAckPending %d, want %d", got, collectMaxAckPending)
	}
	if _, err := topo.BatchConsumer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if got, ok := unprefixed.EndpointOfBatchStream(unprefixed.BatchStream(id)); !ok || got != id {
		t.Fatalf("EndpointOfBatchStream: %q %v", got, ok)
	}
	if _, ok := unprefixed.EndpointOfStream(unprefixed.BatchStream(id)); ok {
		t.Fatal("a batch stream taken for an endpoint stream")
	}

	if err := topo.EnsureEndpoint(ctx, id, EndpointLayout{MaxInFlight: 3}); err != nil {
		t.Fatal(err)
	}
	if got := maxAckPending(unprefixed.EndpointStream(id)); got != 3 {
		t.Fatalf("unbatched consumer MaxAckPending %d, want max_in_flight 3", got)
	}
	if _, err := topo.BatchConsumer(ctx, id); err != nil {
		t.Fatalf("turning batching off dropped the batch stream: %v", err)
	}

	if err := topo.DeleteEndpoint(ctx, id); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{unprefixed.EndpointStream(id), unprefixed.BatchStream(id)} {
		if _, err := js.Stream(ctx, name); !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Fatalf("stream %s after delete: %v", name, err)
		}
	}
	if _, err := topo.BatchConsumer(ctx, id); !errors.Is(err, ErrEndpointMissing) {
		t.Fatalf("BatchConsumer of a deleted endpoint: %v", err)
	}
}

// A batched endpoint's backlog counts the batches waiting as well as the
// deliveries not collected yet.
func TestBacklogCountsBatches(t *testing.T) {
	js := startJetStream(t)
	topo, err := New(js, Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := topo.EnsureCore(ctx); err != nil {
		t.Fatal(err)
	}
	const id = "ep_bl"
	if err := topo.EnsureEndpoint(ctx, id, EndpointLayout{Batched: true}); err != nil {
		t.Fatal(err)
	}
	for _, subject := range []string{unprefixed.DeliverySubject(id), unprefixed.BatchSubject(id), unprefixed.BatchSubject(id)} {
		if _, err := js.Publish(ctx, subject, []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	got, err := topo.Backlogs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got[id] != 3 {
		t.Fatalf("backlog %v, want 3 for %s (1 delivery, 2 batches)", got, id)
	}
}
