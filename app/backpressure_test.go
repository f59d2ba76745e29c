package app_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/router"
	"github.com/hookd/hookd/rules"
	"github.com/hookd/hookd/topology"
)

// An endpoint whose stream is full holds back the events that go to it:
// every event is accepted, the stream never exceeds its limit, routers
// retry the held events past MaxRouteAttempts without dead-lettering them,
// another endpoint gets every event at once and once, and when the full
// endpoint is enabled (its workers drain the stream) every event reaches
// it.
func TestFullEndpointStreamHoldsEvents(t *testing.T) {
	const limit, events = 10, 50
	// The most deliveries of an event the router saw refused by a full
	// stream: past MaxRouteAttempts, a broken stream would dead-letter.
	var mostFullDeliveries atomic.Uint64
	observe := func(next router.Handler) router.Handler {
		return func(ctx context.Context, m jetstream.Msg, ev *rules.Evaluator) error {
			err := next(ctx, m, ev)
			var pe *router.PublishError
			if errors.As(err, &pe) {
				for _, cause := range pe.Failed {
					if !topology.IsStreamFull(cause) {
						t.Errorf("routing failed otherwise than by a full stream: %v", cause)
					}
				}
				if meta, merr := m.Metadata(); merr == nil && meta.NumDelivered > mostFullDeliveries.Load() {
					mostFullDeliveries.Store(meta.NumDelivered)
				}
			}
			return err
		}
	}
	cfg := fastConfig()
	// A short duplicate window: retries of held events outlive it, so only
	// the routing progress keeps them from reaching the other endpoint again.
	cfg.Topology = topology.Config{EndpointMaxMsgs: limit, DuplicateWindow: time.Second}
	cfg.Router = router.Config{MaxRouteAttempts: 2}
	cfg.RouterMiddleware = []router.Middleware{observe}
	h := hookdtest.Start(t, cfg)

	heldRc, otherRc := hookdtest.NewReceiver(t), hookdtest.NewReceiver(t)
	held := h.CreateEndpoint(t, map[string]any{"url": heldRc.URL, "events": []string{"order.*"}, "enabled": false})
	other := h.CreateEndpoint(t, map[string]any{"url": otherRc.URL, "events": []string{"order.*"}})

	// Watch the held endpoint's stream size throughout.
	var mostStored atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			// The cap is per subject: the endpoint's queue and held
			// subjects each hold at most limit.
			n, err := mostOnOneSubject(h, held.ID)
			if err != nil {
				continue
			}
			if n > mostStored.Load() {
				mostStored.Store(n)
			}
		}
	}()
	stopWatching := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(stopWatching)

	ids := make([]string, events)
	for i := range ids {
		ids[i] = h.PublishEvent(t, "order.created", map[string]int{"n": i}) // requires 202
	}

	hookdtest.WaitFor(t, 20*time.Second, "the held endpoint's stream full", func() bool {
		return streamMsgs(t, h, held.ID) == limit
	})
	hookdtest.WaitFor(t, 30*time.Second, "the other endpoint got every event", func() bool {
		return len(otherRc.CountByID()) == events
	})
	hookdtest.WaitFor(t, 30*time.Second, "held events retried past MaxRouteAttempts", func() bool {
		return mostFullDeliveries.Load() > 2
	})
	if dl := h.DeadLetters(t, held.ID); len(dl) != 0 {
		t.Fatalf("%d events dead-lettered while the stream was full", len(dl))
	}
	if n := heldRc.Count(); n != 0 {
		t.Fatalf("a disabled endpoint got %d requests", n)
	}

	if status, out := h.Do(t, http.MethodPost, "/v1/endpoints/"+held.ID+"/enable", nil); status != http.StatusOK {
		t.Fatalf("enable: %d %s", status, out)
	}
	hookdtest.WaitFor(t, 90*time.Second, "every event delivered to the drained endpoint", func() bool {
		return len(heldRc.CountByID()) == events
	})
	h.WaitIdle(t, held.ID, other.ID)
	stopWatching()

	if n := mostStored.Load(); n > limit {
		t.Errorf("one of the endpoint's subjects held %d deliveries, over its limit of %d", n, limit)
	}
	if dl := h.DeadLetters(t, held.ID); len(dl) != 0 {
		t.Errorf("%d events dead-lettered", len(dl))
	}
	for name, rc := range map[string]*hookdtest.Receiver{"held": heldRc, "other": otherRc} {
		got := rc.CountByID()
		for _, id := range ids {
			if got[id] != 1 {
				t.Errorf("%s endpoint got event %s %d times, want once", name, id, got[id])
			}
		}
		if len(got) != events {
			t.Errorf("%s endpoint got %d distinct events, want %d", name, len(got), events)
		}
	}
	t.Logf("held events were delivered up to %d times to the router before the stream had room", mostFullDeliveries.Load())
}

// mostOnOneSubject is the most deliveries waiting on one of an endpoint's
// subjects.
func mostOnOneSubject(h *hookdtest.Hookd, endpointID string) (uint64, error) {
	n := h.App.Names()
	queue, err := h.App.Topology().ShardStream(context.Background(), topology.Shard(endpointID))
	if err != nil {
		return 0, err
	}
	var most uint64
	for _, sub := range []struct{ stream, subject string }{
		{queue, n.QueueSubject(endpointID)}, {n.HeldStream(), n.HeldSubject(endpointID)},
	} {
		counts, err := h.App.Topology().SubjectCounts(context.Background(), sub.stream, sub.subject)
		if err != nil {
			return 0, err
		}
		most = max(most, counts[sub.subject])
	}
	return most, nil
}

func streamMsgs(t *testing.T, h *hookdtest.Hookd, endpointID string) uint64 {
	t.Helper()
	return h.Backlog(t, endpointID).Messages
}

// An endpoint stream that stays full holds an event only for a bounded
// time: then that endpoint's delivery is dead-lettered (recoverable), so
// one full endpoint cannot hold routing back for good; the other endpoint
// gets every event once.
func TestFullEndpointStreamDeadLettersAfterHold(t *testing.T) {
	const limit, events = 5, 15
	cfg := fastConfig()
	cfg.Topology = topology.Config{EndpointMaxMsgs: limit, DuplicateWindow: time.Second}
	cfg.Router = router.Config{MaxRouteAttempts: 2, MaxHoldAttempts: 3}
	h := hookdtest.Start(t, cfg)
	heldRc, otherRc := hookdtest.NewReceiver(t), hookdtest.NewReceiver(t)
	held := h.CreateEndpoint(t, map[string]any{"url": heldRc.URL, "events": []string{"order.*"}, "enabled": false})
	h.CreateEndpoint(t, map[string]any{"url": otherRc.URL, "events": []string{"order.*"}})
	for i := range events {
		h.PublishEvent(t, "order.created", map[string]int{"n": i})
	}
	hookdtest.WaitFor(t, 60*time.Second, "the overflow dead-lettered", func() bool { return len(h.DeadLetters(t, held.ID)) == events-limit })
	h.WaitIdle(t)
	if n := streamMsgs(t, h, held.ID); n != limit {
		t.Fatalf("held endpoint stream has %d deliveries, want %d", n, limit)
	}
	for id, n := range otherRc.CountByID() {
		if n != 1 {
			t.Errorf("other endpoint got %s %d times", id, n)
		}
	}
	if n := len(otherRc.CountByID()); n != events {
		t.Fatalf("other endpoint got %d events, want %d", n, events)
	}
	for _, m := range h.DeadLetters(t, held.ID) {
		if e := m.Header.Get("Hookd-Error"); !strings.Contains(e, "maximum messages") {
			t.Fatalf("dead letter says %q, want the stream-full reason", e)
		}
	}
}
