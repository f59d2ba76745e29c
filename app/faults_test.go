package app_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/embedded"
	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/router"
	"github.com/hookd/hookd/rules"
	"github.com/hookd/hookd/topology"
)

var fastRouter = router.Config{AckWait: time.Second, PublishTimeout: 500 * time.Millisecond, Concurrency: 4}

// A router that dies after publishing an event's deliveries but before
// acknowledging the event: another router re-routes it, and the endpoint
// stream's de-duplication (Nats-Msg-Id = event id + endpoint id) keeps the
// receiver from getting any delivery twice.
func TestRouterKilledBeforeAckDuplicatesNothing(t *testing.T) {
	ns := hookdtest.StartNATS(t, embedded.Config{})
	rc := hookdtest.NewReceiver(t)

	// API and worker, no router yet.
	cfg := ns.Config(fastConfig())
	cfg.NoRouter, cfg.Router = true, fastRouter
	h := hookdtest.Start(t, cfg)
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL})
	const events = 5
	for i := range events {
		h.PublishEvent(t, "order.paid", map[string]int{"i": i})
	}

	// A router on its own connection that "dies" (its connection closes)
	// right after its first event's deliveries were acknowledged.
	nc, err := nats.Connect(ns.ClientURL(), ns.InternalOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	killed := make(chan struct{})
	var once sync.Once
	kill := func(next router.Handler) router.Handler {
		return func(ctx context.Context, m jetstream.Msg, ev *rules.Evaluator) error {
			err := next(ctx, m, ev)
			if err == nil {
				once.Do(func() { nc.Close(); close(killed) })
			}
			return err
		}
	}
	runDoomedRouter(t, nc, kill, killed)
	published := streamLastSeq(t, h.App.JetStream(), ep.ID)
	if published == 0 {
		t.Fatal("the doomed router published no delivery before dying")
	}

	// A healthy router takes over the unacknowledged events.
	cfg2 := ns.Config(fastConfig())
	cfg2.NoWorker, cfg2.Router = true, fastRouter
	h2 := hookdtest.Start(t, cfg2)
	hookdtest.WaitFor(t, 20*time.Second, "every event delivered", func() bool { return len(rc.CountByID()) == events })
	h2.WaitIdle(t, ep.ID)
	for id, n := range rc.CountByID() {
		if n != 1 {
			t.Errorf("event %s delivered %d times", id, n)
		}
	}
	if got := streamLastSeq(t, h.App.JetStream(), ep.ID); got != events {
		t.Fatalf("endpoint stream stored %d deliveries for %d events: a duplicate got through", got, events)
	}
}

func runDoomedRouter(t *testing.T, nc *nats.Conn, kill router.Middleware, killed <-chan struct{}) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	topo, err := topology.New(js, topology.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	kv, err := topo.Endpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reg := endpoint.NewRegistry(kv, hookdtest.Logger())
	rcfg := fastRouter
	rcfg.Logger = hookdtest.Logger()
	r, err := router.New(topo, reg, rcfg, kill)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = reg.Run(ctx) }()
	go func() { defer wg.Done(); _ = r.Run(ctx) }()
	select {
	case <-killed:
	case <-time.After(20 * time.Second):
		t.Fatal("doomed router never routed an event")
	}
	cancel()
	wg.Wait()
}

// streamLastSeq is how many deliveries were ever stored in the queue
// stream holding the endpoint's shard: the test's one endpoint's.
func streamLastSeq(t *testing.T, js jetstream.JetStream, endpointID string) uint64 {
	t.Helper()
	topo, err := topology.New(js, topology.Config{})
	if err != nil {
		t.Fatal(err)
	}
	queue, err := topo.ShardStream(context.Background(), topology.Shard(endpointID))
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(context.Background(), queue)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.LastSeq
}

// hookd stopped with deliveries pending (failing and waiting for a retry,
// or not yet routed) delivers all of them after a restart on the same data
// directory.
func TestRestartDeliversPending(t *testing.T) {
	dir := t.TempDir()
	var healthy atomic.Bool
	var succeeded sync.Map
	rc := hookdtest.NewReceiver(t)
	rc.SetRespond(func(_ int, r hookdtest.Request) int {
		if !healthy.Load() {
			return http.StatusServiceUnavailable
		}
		succeeded.Store(r.Header.Get("webhook-id"), true)
		return http.StatusOK
	})
	cfg := func() app.Config {
		c := fastConfig()
		c.DataDir = dir
		c.Worker.RetrySchedule = []time.Duration{50 * time.Millisecond, 5 * time.Second, 5 * time.Second, 5 * time.Second}
		// A delivery in flight or waiting for its retry when the server
		// stops may, after the restart, wait for its ack wait before JetStream
		// redelivers it (the consumer's last state may not have reached
		// disk). Production's is 60s; the test's is short.
		c.Topology.DeliveryAckWait = 2 * time.Second
		return c
	}

	h1 := hookdtest.Start(t, cfg())
	ep := h1.CreateEndpoint(t, map[string]any{"url": rc.URL})
	var ids []string
	for i := range 10 {
		ids = append(ids, h1.PublishEvent(t, "file.uploaded", map[string]int{"i": i}))
	}
	hookdtest.WaitFor(t, 10*time.Second, "every event attempted and failing", func() bool { return len(rc.CountByID()) == 10 })
	h1.Stop(t)

	// Accepted while no router runs: routed only after the restart.
	apiOnly := cfg()
	apiOnly.NoRouter, apiOnly.NoWorker = true, true
	h2 := hookdtest.Start(t, apiOnly)
	for i := range 5 {
		ids = append(ids, h2.PublishEvent(t, "file.uploaded", map[string]int{"late": i}))
	}
	h2.Stop(t)

	healthy.Store(true)
	h3 := hookdtest.Start(t, cfg())
	hookdtest.WaitFor(t, 30*time.Second, "every event delivered after restart", func() bool {
		for _, id := range ids {
			if _, ok := succeeded.Load(id); !ok {
				return false
			}
		}
		return true
	})
	h3.WaitIdle(t, ep.ID)
	if n := len(h3.DeadLetters(t, ep.ID)); n != 0 {
		t.Fatalf("%d dead letters", n)
	}
}

// An event that cannot reach one endpoint's subject (taken out of the queue
// stream by hand here) is dead-lettered for that endpoint after the
// routing attempts run out, and reaches the healthy endpoint exactly once
// meanwhile.
func TestUnroutableEventIsDeadLettered(t *testing.T) {
	healthy := hookdtest.NewReceiver(t)
	cfg := fastConfig()
	cfg.Router = router.Config{MaxRouteAttempts: 2}
	h := hookdtest.Start(t, cfg)
	good := h.CreateEndpoint(t, map[string]any{"url": healthy.URL})
	broken := h.CreateEndpoint(t, map[string]any{"url": healthy.URL + "/broken"})
	js, names := h.App.JetStream(), h.App.Names()
	queueName, err := h.App.Topology().ShardStream(t.Context(), topology.Shard(good.ID))
	if err != nil {
		t.Fatal(err)
	}
	queue, err := js.Stream(t.Context(), queueName)
	if err != nil {
		t.Fatal(err)
	}
	narrowed := queue.CachedInfo().Config
	narrowed.Subjects = []string{names.QueueSubject(good.ID)}
	if _, err := js.UpdateStream(t.Context(), narrowed); err != nil {
		t.Fatal(err)
	}
	id := h.PublishEvent(t, "order.paid", map[string]int{"i": 1})
	hookdtest.WaitFor(t, 15*time.Second, "routing dead letter", func() bool { return len(h.DeadLetters(t, broken.ID)) == 1 })
	h.WaitIdle(t, good.ID)
	dl := h.DeadLetters(t, broken.ID)[0]
	if dl.Header.Get(delivery.HeaderEventID) != id || !strings.Contains(dl.Header.Get(delivery.HeaderError), "routing failed") {
		t.Fatalf("dead letter headers %v", dl.Header)
	}
	if n := healthy.CountByID()[id]; n != 1 {
		t.Fatalf("healthy endpoint got the event %d times, want 1", n)
	}
	// The delivery log says dead, not pending, so it can be recovered.
	if p := listDeliveries(t, h, broken.ID, "status=dead"); len(p.Data) != 1 {
		t.Fatalf("unroutable delivery not listed as dead: %+v", listDeliveries(t, h, broken.ID, ""))
	}
}
