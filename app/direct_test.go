package app_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/router"
	"github.com/hookd/hookd/rules"
)

// queueStored is how many deliveries were ever stored in the (one) queue
// stream.
func queueStored(t *testing.T, h *hookdtest.Hookd) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := h.App.JetStream().Stream(ctx, h.App.Names().QueueStream(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.LastSeq
}

func directAttempts(t *testing.T, h *hookdtest.Hookd) float64 {
	t.Helper()
	return hookdtest.Scrape(t, h.URL+"/metrics", hookdtest.AdminKey).Value("hookd_delivery_direct_attempts_total")
}

// directConfig is fastConfig with a fast path that takes any endpoint
// answering within a second: on a loaded machine an attempt over loopback
// may take longer than the default limit's 100 ms.
func directConfig() app.Config {
	cfg := fastConfig()
	cfg.Worker.DirectMaxLatency = time.Second
	return cfg
}

// warmDirect delivers events until one is attempted directly (an
// endpoint's first deliveries are queued: the duration of its attempts is
// not known yet) and returns how many the receiver got.
func warmDirect(t *testing.T, h *hookdtest.Hookd, rc *hookdtest.Receiver) int {
	t.Helper()
	before := directAttempts(t, h)
	for sent := 1; sent <= 50; sent++ {
		h.PublishEvent(t, "job.warm", nil)
		hookdtest.WaitFor(t, 10*time.Second, "the warm-up delivery", func() bool { return rc.Count() == sent })
		if directAttempts(t, h) > before {
			return sent
		}
	}
	t.Fatal("no delivery attempted directly after 50 warm-up events")
	return 0
}

// sendOne publishes one event and waits until the receiver got it.
func sendOne(t *testing.T, h *hookdtest.Hookd, rc *hookdtest.Receiver) {
	t.Helper()
	n := rc.Count()
	h.PublishEvent(t, "job.warm", nil)
	hookdtest.WaitFor(t, 10*time.Second, "the delivery", func() bool { return rc.Count() == n+1 })
}

// A fast endpoint's deliveries are attempted by the router's process
// before they are queued: delivered, recorded, and never stored in the
// queue stream.
func TestDirectDeliveryIsNeverQueued(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	h := hookdtest.Start(t, directConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL})
	warm := warmDirect(t, h, rc)
	queuedBefore, directBefore := queueStored(t, h), directAttempts(t, h)
	const n = 20
	ids := map[string]bool{}
	for range n {
		ids[h.PublishEvent(t, "job.finished", map[string]int{"x": 1})] = true
	}
	hookdtest.WaitFor(t, 10*time.Second, "every delivery", func() bool { return rc.Count() == warm+n })
	h.WaitIdle(t, ep.ID)
	if got := queueStored(t, h) - queuedBefore; got != 0 {
		t.Errorf("%d of %d deliveries were stored in the queue stream, want 0", got, n)
	}
	if got := directAttempts(t, h) - directBefore; got != n {
		t.Errorf("%v direct attempts, want %d", got, n)
	}
	byID := rc.CountByID()
	for id := range ids {
		if byID[id] != 1 {
			t.Errorf("event %s received %d times, want 1", id, byID[id])
		}
	}
	for _, r := range rc.Requests() {
		verify(t, ep.Secret, r)
	}
	as := h.Attempts(t, ep.ID)
	if len(as) != warm+n {
		t.Fatalf("%d attempt records, want %d", len(as), warm+n)
	}
	for _, a := range as {
		if a.Outcome != delivery.OutcomeSucceeded || a.Number != 1 || a.StatusCode != 200 || a.DeliveryID == "" {
			t.Errorf("record %+v, want a first attempt that succeeded", a)
		}
	}
}

// A direct attempt that fails is recorded and retried from the held
// subject like any queued delivery's.
func TestDirectFailureIsRetried(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	h := hookdtest.Start(t, directConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL})
	warmDirect(t, h, rc)
	directBefore := directAttempts(t, h)
	rc.SetRespond(func(n int, _ hookdtest.Request) int {
		if n == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	id := h.PublishEvent(t, "job.finished", nil)
	hookdtest.WaitFor(t, 10*time.Second, "the retry", func() bool { return rc.CountByID()[id] == 2 })
	h.WaitIdle(t, ep.ID)
	if got := directAttempts(t, h) - directBefore; got != 1 {
		t.Errorf("%v direct attempts, want 1", got)
	}
	var recs []delivery.Attempt
	for _, a := range h.Attempts(t, ep.ID) {
		if a.EventID == id {
			recs = append(recs, a)
		}
	}
	codes, outs := outcomes(recs)
	if len(recs) != 2 || codes[0] != 500 || outs[0] != delivery.OutcomeRetrying || codes[1] != 200 || outs[1] != delivery.OutcomeSucceeded ||
		recs[0].Number != 1 || recs[1].Number != 2 {
		t.Fatalf("records %+v, want attempt 1 retrying (500), attempt 2 succeeded", recs)
	}
	if got := rc.CountByID()[id]; got != 2 {
		t.Errorf("receiver got %d requests, want 2", got)
	}
}

// A direct attempt refused for good is dead-lettered once.
func TestDirectPermanentFailureIsDeadLettered(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	h := hookdtest.Start(t, directConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL})
	warmDirect(t, h, rc)
	directBefore := directAttempts(t, h)
	rc.SetRespond(func(int, hookdtest.Request) int { return http.StatusBadRequest })
	id := h.PublishEvent(t, "job.finished", nil)
	hookdtest.WaitFor(t, 10*time.Second, "the dead letter", func() bool { return len(h.DeadLetters(t, ep.ID)) == 1 })
	h.WaitIdle(t, ep.ID)
	if got := directAttempts(t, h) - directBefore; got != 1 {
		t.Errorf("%v direct attempts, want 1", got)
	}
	dl := h.DeadLetters(t, ep.ID)
	if len(dl) != 1 || dl[0].Header.Get(delivery.HeaderEventID) != id || dl[0].Header.Get(delivery.HeaderStatusCode) != "400" {
		t.Fatalf("dead letters %v", dl)
	}
	if got := rc.CountByID()[id]; got != 1 {
		t.Errorf("receiver got %d requests, want 1", got)
	}
}

// failAfterRouting fails the first routing of the events of one type
// after it finished: as if the router crashed between delivering them
// and acknowledging the event. The event is routed again.
func failAfterRouting(typ string) (router.Middleware, func() int) {
	var mu sync.Mutex
	failed := map[uint64]bool{}
	mw := func(next router.Handler) router.Handler {
		return func(ctx context.Context, m jetstream.Msg, ev *rules.Evaluator) error {
			err := next(ctx, m, ev)
			meta, _ := m.Metadata()
			if err != nil || meta == nil || m.Subject() != "events."+typ {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if !failed[meta.Sequence.Stream] {
				failed[meta.Sequence.Stream] = true
				return context.DeadlineExceeded
			}
			return nil
		}
	}
	return mw, func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(failed)
	}
}

// An event routed again after its first routing delivered it directly
// (the router failed before acknowledging the event) is queued for the
// endpoint marked as routed again, and the worker, reading the log,
// does not send it a second time.
func TestEventRoutedAgainAfterDirectDeliveryIsNotSentTwice(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	mw, failures := failAfterRouting("job.finished")
	cfg := directConfig()
	cfg.RouterMiddleware = []router.Middleware{mw}
	h := hookdtest.Start(t, cfg)
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL})
	warmDirect(t, h, rc)
	queuedBefore, directBefore := queueStored(t, h), directAttempts(t, h)
	id := h.PublishEvent(t, "job.finished", nil)
	// Routed twice: directly, then queued by the second routing, whose
	// delivery the worker settles.
	hookdtest.WaitFor(t, 30*time.Second, "the second routing's queued delivery", func() bool {
		return failures() == 1 && queueStored(t, h) > queuedBefore
	})
	h.WaitIdle(t, ep.ID)
	if got := directAttempts(t, h) - directBefore; got != 1 {
		t.Errorf("%v direct attempts, want 1", got)
	}
	if got := rc.CountByID()[id]; got != 1 {
		t.Fatalf("receiver got the event %d times, want 1", got)
	}
	var recs []delivery.Attempt
	for _, a := range h.Attempts(t, ep.ID) {
		if a.EventID == id {
			recs = append(recs, a)
		}
	}
	if len(recs) != 1 || recs[0].Outcome != delivery.OutcomeSucceeded {
		t.Fatalf("records %+v, want the one direct success", recs)
	}
}

// An endpoint whose attempts take longer than the fast path allows is
// not delivered to directly: its deliveries are queued, so no router
// waits on it.
func TestSlowEndpointIsNotDeliveredDirectly(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	rc.SetRespond(func(int, hookdtest.Request) int {
		time.Sleep(150 * time.Millisecond) // a slow receiver, not synchronisation
		return http.StatusOK
	})
	h := hookdtest.Start(t, fastConfig())
	h.CreateEndpoint(t, map[string]any{"url": rc.URL})
	sendOne(t, h, rc) // its duration is known from now on
	for range 3 {
		h.PublishEvent(t, "job.finished", nil)
	}
	hookdtest.WaitFor(t, 10*time.Second, "every delivery", func() bool { return rc.Count() == 4 })
	if got := directAttempts(t, h); got != 0 {
		t.Errorf("%v direct attempts to a slow endpoint, want 0", got)
	}
}

// With the fast path off every delivery is queued.
func TestDirectOff(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	cfg := directConfig()
	cfg.Worker.DirectTimeout = -1
	h := hookdtest.Start(t, cfg)
	h.CreateEndpoint(t, map[string]any{"url": rc.URL})
	sendOne(t, h, rc)
	sendOne(t, h, rc)
	if got, q := directAttempts(t, h), queueStored(t, h); got != 0 || q != 2 {
		t.Errorf("%v direct attempts and %d queued, want 0 and 2", got, q)
	}
}
