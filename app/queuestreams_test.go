package app_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/internal/hookdtest"
)

// queueStreams lists the streams capturing the queue's shard subjects, as
// the server has them.
func queueStreams(t *testing.T, h *hookdtest.Hookd) []string {
	t.Helper()
	var out []string
	list := h.App.JetStream().StreamNames(context.Background(), jetstream.WithStreamListSubject(h.App.Names().ShardSubjects(-1)))
	for name := range list.Name() {
		out = append(out, name)
	}
	if err := list.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// publishToAll publishes events and waits until each reached every one of
// endpoints plain endpoints at rc, exactly once.
func deliverToAll(t *testing.T, h *hookdtest.Hookd, rc *hookdtest.Receiver, endpoints, events int, typ string) {
	t.Helper()
	var ids []string
	for i := range events {
		ids = append(ids, h.PublishEvent(t, typ, map[string]int{"i": i}))
	}
	hookdtest.WaitFor(t, time.Minute, "every event at every endpoint", func() bool {
		got := rc.CountByID()
		for _, id := range ids {
			if got[id] < endpoints {
				return false
			}
		}
		return true
	})
	for _, id := range ids {
		if n := rc.CountByID()[id]; n != endpoints {
			t.Errorf("event %s delivered %d times, want %d (one per endpoint)", id, n, endpoints)
		}
	}
}

// With the queue split into 2 or 4 streams, deliveries to many plain
// endpoints (spread over every shard) all arrive, once each.
func TestDeliveriesWithQueueStreams(t *testing.T) {
	for _, k := range []int{2, 4} {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			rc := hookdtest.NewReceiver(t)
			cfg := fastConfig()
			cfg.Topology.QueueStreams = k
			h := hookdtest.Start(t, cfg)
			if got := queueStreams(t, h); len(got) != k {
				t.Fatalf("queue streams %v, want %d", got, k)
			}
			const endpoints = 24
			for i := range endpoints {
				h.CreateEndpoint(t, map[string]any{"url": fmt.Sprintf("%s/%d", rc.URL, i)})
			}
			deliverToAll(t, h, rc, endpoints, 5, "order.paid")
		})
	}
}

// A restart with another --queue-streams changes the layout when the queue
// is empty; when deliveries wait in it, the existing layout is kept and
// every waiting delivery still arrives.
func TestQueueStreamsChangeOnRestart(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	base := fastConfig()
	base.DataDir = t.TempDir()
	base.HTTPAddr, base.AdminKey, base.APIKeyRateLimit = "127.0.0.1:0", hookdtest.AdminKey, -1
	base.Worker.AllowNets, base.Logger = hookdtest.Loopback, hookdtest.Logger()
	run := func(k int, noWorker bool) (*hookdtest.Hookd, func() error) {
		cfg := base
		cfg.Topology.QueueStreams, cfg.NoWorker = k, noWorker
		_, h, stop := runApp(t, cfg)
		return h, stop
	}
	const endpoints = 12
	h, stop := run(1, false)
	if got := queueStreams(t, h); !slices.Equal(got, []string{"HOOKD_QUEUE"}) {
		t.Fatalf("queue streams %v, want HOOKD_QUEUE", got)
	}
	var ids []string
	for i := range endpoints {
		ids = append(ids, h.CreateEndpoint(t, map[string]any{"url": fmt.Sprintf("%s/%d", rc.URL, i)}).ID)
	}
	deliverToAll(t, h, rc, endpoints, 2, "order.paid")
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// Empty: 1 -> 4.
	h, stop = run(4, true) // a router only: what it routes waits in the queue
	if got := queueStreams(t, h); len(got) != 4 {
		t.Fatalf("after a restart with 4 on an empty queue: %v", got)
	}
	var waiting []string
	for i := range 3 {
		waiting = append(waiting, h.PublishEvent(t, "order.shipped", map[string]int{"i": i}))
	}
	hookdtest.WaitFor(t, 20*time.Second, "the deliveries queued", func() bool {
		for _, id := range ids {
			if h.Backlog(t, id).Messages != 3 {
				return false
			}
		}
		return true
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// Not empty: 4 kept by a process asking for 1, which delivers them.
	h, stop = run(1, false)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	if got := queueStreams(t, h); len(got) != 4 {
		t.Fatalf("a restart with 1 replaced a queue holding deliveries: %v", got)
	}
	hookdtest.WaitFor(t, time.Minute, "the waiting deliveries", func() bool {
		got := rc.CountByID()
		for _, id := range waiting {
			if got[id] < endpoints {
				return false
			}
		}
		return true
	})
	for _, id := range waiting {
		if n := rc.CountByID()[id]; n != endpoints {
			t.Errorf("waiting event %s delivered %d times, want %d", id, n, endpoints)
		}
	}
	deliverToAll(t, h, rc, endpoints, 2, "order.refunded")
}

// A cluster with replicas splits the queue into 4 streams by default, so
// their leaders can spread over the nodes.
func TestClusterQueueStreamsDefault(t *testing.T) {
	nodes, _ := hookdtest.StartCluster(t, 3, func(_ int, c *app.Config) { *c = withFast(*c) })
	hookdtest.WaitFor(t, time.Minute, "4 queue streams", func() bool { return len(queueStreams(t, nodes[0])) == 4 })
	rc := hookdtest.NewReceiver(t)
	const endpoints = 8
	for i := range endpoints {
		nodes[0].CreateEndpoint(t, map[string]any{"url": fmt.Sprintf("%s/%d", rc.URL, i)})
	}
	deliverToAll(t, nodes[1], rc, endpoints, 3, "order.paid")
}

// withFast gives a cluster node fastConfig's retry schedule and timeout.
func withFast(c app.Config) app.Config {
	c.Worker = fastConfig().Worker
	return c
}
