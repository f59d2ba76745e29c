package app_test

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/router"
	"github.com/hookd/hookd/rules"
)

// routingGate is a router middleware holding every event it is given
// until opened: routers lagging behind the events stream, on demand.
type routingGate struct {
	open    chan struct{}
	entered atomic.Int32
	once    sync.Once
}

func newRoutingGate(t *testing.T) *routingGate {
	g := &routingGate{open: make(chan struct{})}
	t.Cleanup(g.release) // never leave routes blocked at the end
	return g
}

func (g *routingGate) release() { g.once.Do(func() { close(g.open) }) }

func (g *routingGate) middleware(next router.Handler) router.Handler {
	return func(ctx context.Context, m jetstream.Msg, ev *rules.Evaluator) error {
		g.entered.Add(1)
		select {
		case <-g.open:
		case <-ctx.Done():
			return ctx.Err()
		}
		return next(ctx, m, ev)
	}
}

// An endpoint receives exactly the events accepted after its creation,
// whatever the routers' lag: events accepted before it, which the
// (held-up) routers route only after the endpoint exists, are not its
// own; a backfill reaches them, and counts the later ones as routing's.
func TestEndpointGetsOnlyEventsAcceptedAfterItsCreation(t *testing.T) {
	gate := newRoutingGate(t)
	cfg := fastConfig()
	cfg.RouterMiddleware = []router.Middleware{gate.middleware}
	h := hookdtest.Start(t, cfg)

	earlyRc, lateRc := hookdtest.NewReceiver(t), hookdtest.NewReceiver(t)
	early := h.CreateEndpoint(t, map[string]any{"url": earlyRc.URL, "events": []string{"order.*"}})
	start := time.Now().UTC()
	for n := range 5 {
		h.PublishEvent(t, "order.paid", map[string]int{"n": n})
	}
	hookdtest.WaitFor(t, 10*time.Second, "the routers to hold the first events", func() bool { return gate.entered.Load() >= 5 })

	late := h.CreateEndpoint(t, map[string]any{"url": lateRc.URL, "events": []string{"order.*"}})
	for n := 5; n < 8; n++ {
		h.PublishEvent(t, "order.paid", map[string]int{"n": n})
	}
	h.WaitEventsStored(t, 8)
	// While the routers still hold every event: the later ones are
	// routing's, the earlier ones the backfill's (a dry run: nothing is
	// queued twice either way).
	dry := postHistory(t, h, "/v1/endpoints/"+late.ID+"/backfill", map[string]any{"since": start, "dry_run": true}, http.StatusOK)
	if dry.Matched != 8 || dry.AlreadyQueued != 3 || dry.Queued != 0 {
		t.Fatalf("dry run while routers lag: %v; want 8 matched, 3 already queued (routing's)", dry)
	}

	gate.release()
	h.WaitIdle(t, early.ID, late.ID)
	if got, want := numbersDelivered(t, lateRc), []int{5, 6, 7}; !slices.Equal(got, want) {
		t.Fatalf("the endpoint created after events 0 to 4 received %v, want %v", got, want)
	}
	if got, want := numbersDelivered(t, earlyRc), []int{0, 1, 2, 3, 4, 5, 6, 7}; !slices.Equal(got, want) {
		t.Fatalf("the endpoint created first received %v, want %v", got, want)
	}

	done := postHistory(t, h, "/v1/endpoints/"+late.ID+"/backfill", map[string]any{"since": start}, http.StatusAccepted)
	if done.Matched != 8 || done.Queued != 5 || done.AlreadyQueued != 3 {
		t.Fatalf("backfill: %v; want 8 matched, 5 queued, 3 already queued", done)
	}
	h.WaitIdle(t, late.ID)
	if got, want := numbersDelivered(t, lateRc), []int{0, 1, 2, 3, 4, 5, 6, 7}; !slices.Equal(got, want) {
		t.Fatalf("after the backfill the endpoint received %v, want each event once: %v", got, want)
	}
}

// Events routing has finished with are the backfill's again when the
// endpoint's rule changed since: a fixed filter catches up on what the
// old one missed.
func TestBackfillQueuesRoutedEventsTheOldRuleMissed(t *testing.T) {
	h := hookdtest.Start(t, fastConfig())
	rc := hookdtest.NewReceiver(t)
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "events": []string{"order.*"}, "filter": "int(data.n) > 100"})
	start := time.Now().UTC()
	for n := range 4 {
		h.PublishEvent(t, "order.paid", map[string]int{"n": n})
	}
	h.WaitIdle(t, ep.ID)
	if status, out := h.Do(t, http.MethodPatch, "/v1/endpoints/"+ep.ID, map[string]any{"filter": "int(data.n) % 2 == 0"}); status != http.StatusOK {
		t.Fatalf("PATCH: %d %s", status, out)
	}
	got := postHistory(t, h, "/v1/endpoints/"+ep.ID+"/backfill", map[string]any{"since": start}, http.StatusAccepted)
	if got.Matched != 2 || got.Queued != 2 || got.AlreadyQueued != 0 {
		t.Fatalf("backfill after a rule change: %v; want 2 matched and queued", got)
	}
	h.WaitIdle(t, ep.ID)
	if got, want := numbersDelivered(t, rc), []int{0, 2}; !slices.Equal(got, want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
}
