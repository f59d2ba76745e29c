package topology

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// Creating an endpoint creates nothing in the server: its deliveries wait
// on subjects of the shared held stream, capped per subject, and its
// consumers are made when it has work. Each layout gets the consumers it
// needs; deleting the endpoint removes its deliveries and consumers and
// leaves other endpoints' alone.
func TestSharedDeliveryStreams(t *testing.T) {
	js := startJetStream(t)
	const limit = 3
	topo, err := New(js, Config{EndpointMaxMsgs: limit})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := topo.EnsureCore(ctx); err != nil {
		t.Fatal(err)
	}
	n := unprefixed
	held := streamConfig(t, js, n.HeldStream())
	if held.Retention != jetstream.WorkQueuePolicy || held.MaxMsgsPerSubject != limit || !held.DiscardNewPerSubject ||
		held.Discard != jetstream.DiscardNew || held.MaxConsumers != DefaultHeldMaxConsumers {
		t.Fatalf("held stream %+v", held)
	}
	queue := streamConfig(t, js, n.QueueStream(0, 1))
	if queue.Retention != jetstream.WorkQueuePolicy || queue.MaxMsgsPerSubject != limit || !queue.DiscardNewPerSubject ||
		len(queue.Subjects) != 1 || queue.Subjects[0] != n.ShardSubjects(-1) {
		t.Fatalf("queue stream %+v", queue)
	}
	for shard := range Shards {
		c, err := js.Consumer(ctx, n.QueueStream(0, 1), ShardConsumer(shard))
		if err != nil {
			t.Fatalf("shard %d: %v", shard, err)
		}
		if cfg := c.CachedInfo().Config; cfg.FilterSubject != n.ShardSubjects(shard) || cfg.MaxAckPending != shardMaxAckPending {
			t.Fatalf("shard %d consumer %+v", shard, cfg)
		}
	}
	// Endpoints spread over the shards.
	seen := map[int]bool{}
	for i := range 64 {
		seen[Shard(fmt.Sprintf("ep_%d", i))] = true
	}
	if len(seen) != Shards {
		t.Fatalf("64 endpoints hashed to shards %v", seen)
	}
	if !(EndpointLayout{}).Plain() || (EndpointLayout{MaxInFlight: 1}).Plain() || (EndpointLayout{RateLimited: true}).Plain() ||
		(EndpointLayout{Ordered: true}).Plain() || (EndpointLayout{Batched: true}).Plain() {
		t.Fatal("Plain")
	}
	batches := streamConfig(t, js, n.BatchesStream())
	if batches.Duplicates != BatchDuplicateWindow(topo.Config().DeliveryAckWait) || batches.MaxMsgsPerSubject != limit {
		t.Fatalf("batches stream %+v", batches)
	}

	// The per-endpoint cap refuses the publisher, as backpressure, and only
	// for the full endpoint.
	for i := range limit + 1 {
		_, err := js.Publish(ctx, n.HeldSubject("full"), []byte("{}"))
		if i < limit && err != nil {
			t.Fatal(err)
		}
		if i == limit && !IsStreamFull(err) {
			t.Fatalf("publish over the endpoint's cap: %v, want a full stream", err)
		}
	}
	if _, err := js.Publish(ctx, n.HeldSubject("other"), []byte("{}")); err != nil {
		t.Fatalf("another endpoint refused: %v", err)
	}
	if _, err := js.Publish(ctx, n.QueueSubject("full"), []byte("{}")); err != nil {
		t.Fatalf("the queue subject of an endpoint with a full held subject refused: %v", err)
	}
	for _, lane := range []int{0, 3} {
		if _, err := js.Publish(ctx, n.OrderedSubject("ord", lane), []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := js.Publish(ctx, n.BatchesSubject("full"), []byte("{}")); err != nil {
		t.Fatal(err)
	}

	got, err := topo.Backlogs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got["full"] != limit+2 || got["other"] != 1 || got["ord"] != 2 || len(got) != 3 {
		t.Fatalf("backlogs %v", got)
	}
	b, err := topo.Backlog(ctx, "ord")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(b.Lanes)
	if b.Messages != 2 || !slices.Equal(b.Lanes, []int{0, 3}) {
		t.Fatalf("ordered backlog %+v", b)
	}

	// Consumers by layout.
	type want struct {
		durable, filter string
		maxAckPending   int
	}
	for _, tc := range []struct {
		name  string
		l     EndpointLayout
		lanes []int
		want  []want
	}{
		{"plain", EndpointLayout{}, nil, []want{{HeldConsumer("e"), n.HeldSubject("e"), defaultMaxAckPending}}},
		{"max in flight", EndpointLayout{MaxInFlight: 7}, nil, []want{{HeldConsumer("e"), n.HeldSubject("e"), 7}}},
		{"batched", EndpointLayout{Batched: true, MaxInFlight: 2}, nil, []want{{HeldConsumer("e"), n.HeldSubject("e"), collectMaxAckPending}}},
		{"ordered", EndpointLayout{Ordered: true}, []int{0}, []want{{OrderedConsumer("e", 0), n.OrderedSubject("e", 0), 1}}},
		{"lanes", EndpointLayout{Ordered: true, Lanes: 16}, []int{2, 16}, []want{
			{OrderedConsumer("e", 2), n.OrderedSubject("e", 2), 1}, {OrderedConsumer("e", 16), n.OrderedSubject("e", 16), 1}}},
	} {
		specs := topo.EndpointConsumerSpecs("e", tc.l, tc.lanes)
		if len(specs) != len(tc.want) {
			t.Fatalf("%s: %d specs, want %d", tc.name, len(specs), len(tc.want))
		}
		for i, s := range specs {
			w := tc.want[i]
			if s.Stream != n.HeldStream() || s.Config.Durable != w.durable || s.Config.FilterSubject != w.filter ||
				s.Config.MaxAckPending != w.maxAckPending || s.Config.InactiveThreshold != ConsumerInactiveThreshold {
				t.Errorf("%s: spec %d %+v, want %+v", tc.name, i, s, w)
			}
		}
	}
	bs := topo.BatchesConsumerSpec("e", EndpointLayout{Batched: true, MaxInFlight: 2})
	if bs.Stream != n.BatchesStream() || bs.Config.FilterSubject != n.BatchesSubject("e") || bs.Config.MaxAckPending != 2 {
		t.Fatalf("batches spec %+v", bs)
	}

	// Lane consumers of ids that differ by a "-lane" suffix never collide.
	if OrderedConsumer("x-1", 0) == OrderedConsumer("x", 1) || OrderedConsumer("1-x", 1) == OrderedConsumer("x", 11) {
		t.Fatal("consumer names collide")
	}

	for _, id := range []string{"full", "ord"} {
		l := EndpointLayout{}
		lanes := []int(nil)
		if id == "ord" {
			l, lanes = EndpointLayout{Ordered: true, Lanes: 16}, []int{3}
		}
		for _, spec := range topo.EndpointConsumerSpecs(id, l, lanes) {
			if _, err := topo.Consumer(ctx, spec); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := topo.Consumer(ctx, topo.BatchesConsumerSpec("full", EndpointLayout{})); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"full", "ord"} {
		if err := topo.DeleteEndpoint(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := topo.DeleteEndpoint(ctx, "never-existed"); err != nil {
		t.Fatalf("deleting an endpoint without deliveries: %v", err)
	}
	got, err = topo.Backlogs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["other"] != 1 {
		t.Fatalf("backlogs after deleting: %v", got)
	}
	for _, c := range []struct{ stream, name string }{
		{n.HeldStream(), HeldConsumer("full")}, {n.HeldStream(), OrderedConsumer("ord", 3)}, {n.BatchesStream(), BatchesConsumer("full")},
	} {
		if _, err := js.Consumer(ctx, c.stream, c.name); !errors.Is(err, jetstream.ErrConsumerNotFound) {
			t.Errorf("consumer %s after deleting its endpoint: %v", c.name, err)
		}
	}
	if err := topo.DeleteEndpoint(ctx, "bad.id"); err == nil {
		t.Fatal("an invalid id was accepted")
	}
}
