package router_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/router"
	"github.com/hookd/hookd/topology"
)

// lagGate delays a registry's view of the endpoints bucket: while held,
// the watch's updates wait, as they do behind a slow link or a busy
// process.
type lagGate struct {
	mu   sync.Mutex
	open chan struct{} // closed while updates flow
}

func newLagGate() *lagGate {
	g := &lagGate{open: make(chan struct{})}
	close(g.open)
	return g
}

func (g *lagGate) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = make(chan struct{})
}

func (g *lagGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

func (g *lagGate) wait(ctx context.Context) bool {
	g.mu.Lock()
	ch := g.open
	g.mu.Unlock()
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		return false
	}
}

// laggingKV is the real endpoints bucket whose watch goes through gate.
type laggingKV struct {
	jetstream.KeyValue
	gate *lagGate
}

type laggingWatcher struct {
	jetstream.KeyWatcher
	updates chan jetstream.KeyValueEntry
}

func (w laggingWatcher) Updates() <-chan jetstream.KeyValueEntry { return w.updates }

func (k laggingKV) WatchAll(ctx context.Context, opts ...jetstream.WatchOpt) (jetstream.KeyWatcher, error) {
	w, err := k.KeyValue.WatchAll(ctx, opts...)
	if err != nil {
		return nil, err
	}
	out := make(chan jetstream.KeyValueEntry)
	go func() {
		defer close(out)
		for e := range w.Updates() {
			if !k.gate.wait(ctx) {
				return
			}
			select {
			case out <- e:
			case <-ctx.Done():
				return
			}
		}
	}()
	return laggingWatcher{KeyWatcher: w, updates: out}, nil
}

// An event accepted after an endpoint's creation reaches it even when the
// router's view of the endpoints lags behind the bucket: the router waits
// until its view has every endpoint stored before the event. (Without
// the wait, the lagging router routes the event against a view without
// the endpoint, and the endpoint never gets it.)
func TestRouterWaitsForItsViewOfEndpointsStoredBeforeTheEvent(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true}) // the API and workers; the router is this test's
	js := h.App.JetStream()
	topo, err := topology.New(js, topology.Config{})
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(t.Context(), h.App.Names().EndpointsBucket())
	if err != nil {
		t.Fatal(err)
	}
	gate := newLagGate()
	t.Cleanup(gate.release)
	reg := endpoint.NewRegistry(laggingKV{KeyValue: kv, gate: gate}, hookdtest.Logger(), endpoint.WithSealer(h.App.Registry().Sealer()))
	// The router waits AckWait/3 (1 s) for its view, then retries the event.
	rt, err := router.New(topo, reg, router.Config{AckWait: 3 * time.Second, PublishTimeout: 2 * time.Second, Logger: hookdtest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = reg.Run(ctx) }()
	go func() { defer wg.Done(); _ = rt.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	hookdtest.WaitFor(t, 10*time.Second, "the router consuming", rt.Ready)

	cons, err := js.Consumer(t.Context(), h.App.Names().EventsStream(), topology.RouterConsumer)
	if err != nil {
		t.Fatal(err)
	}
	routerInfo := func() *jetstream.ConsumerInfo {
		info, err := cons.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return info
	}

	// n is the event's data.n; lagUntil says when the view catches up:
	// while the router waits for it, or once that wait ran out.
	for _, c := range []struct {
		n        int
		lagUntil string
	}{{1, "the router has the event"}, {2, "the router has retried the event"}} {
		n, lagUntil := c.n, c.lagUntil
		gate.hold() // the router's view stops here
		rc := hookdtest.NewReceiver(t)
		ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "events": []string{"order.*"}})
		h.PublishEvent(t, "order.paid", map[string]int{"n": n})
		seq := lastSeq(t, js, h.App.Names().EventsStream())
		redelivered := routerInfo().NumRedelivered
		hookdtest.WaitFor(t, 10*time.Second, lagUntil, func() bool {
			info := routerInfo()
			if n == 1 {
				return info.Delivered.Stream >= seq
			}
			return info.NumRedelivered > redelivered // the wait ran out: retried, not routed
		})
		if reg.Snapshot().Get(ep.ID) != nil {
			t.Fatal("the router's view has the endpoint already: it does not lag")
		}
		gate.release()
		hookdtest.WaitFor(t, 10*time.Second, "the delivery", func() bool { return rc.Count() == 1 })
		var body struct {
			Data struct{ N int } `json:"data"`
		}
		if err := json.Unmarshal(rc.Requests()[0].Body, &body); err != nil || body.Data.N != n {
			t.Fatalf("delivered %s, want n %d", rc.Requests()[0].Body, n)
		}
	}
}

func lastSeq(t *testing.T, js jetstream.JetStream, stream string) uint64 {
	t.Helper()
	s, err := js.Stream(t.Context(), stream)
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo().State.LastSeq
}
