package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/router"
	"github.com/hookd/hookd/rules"
)

// eventsLastSeq is the events stream's last sequence.
func eventsLastSeq(t *testing.T, h *hookdtest.Hookd) uint64 {
	t.Helper()
	s, err := h.App.JetStream().Stream(t.Context(), h.App.Names().EventsStream())
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo().State.LastSeq
}

// setRoutedFrom rewrites an endpoint's stored routed_from_seq, as an API
// process between the two puts of a creation leaves it.
func setRoutedFrom(t *testing.T, h *hookdtest.Hookd, id string, seq uint64) {
	t.Helper()
	kv, err := h.App.JetStream().KeyValue(t.Context(), h.App.Names().EndpointsBucket())
	if err != nil {
		t.Fatal(err)
	}
	entry, err := kv.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(entry.Value(), &doc); err != nil {
		t.Fatal(err)
	}
	doc["routed_from_seq"] = json.RawMessage(strconv.FormatUint(seq, 10))
	raw, _ := json.Marshal(doc)
	if _, err := kv.Update(t.Context(), id, raw, entry.Revision()); err != nil {
		t.Fatal(err)
	}
	hookdtest.WaitFor(t, 10*time.Second, "the registry to apply routed_from_seq", func() bool {
		c := h.App.Registry().Snapshot().Get(id)
		return c != nil && c.RoutedFromSeq == seq
	})
}

// An event that may go to an endpoint whose creation is between its two
// puts (routed_from_seq not known yet) is held, for every endpoint, until
// the creation completes: then it goes to the endpoint if it was
// accepted after the position the creation read. A creation that never
// completes holds events for PendingHold only: they go to the others, and
// the half-created endpoint gets nothing.
func TestEventsWaitForAnEndpointBeingCreated(t *testing.T) {
	var held sync.Map // event sequence -> *atomic.Int32 of holds
	holds := func(seq uint64) int32 {
		if v, ok := held.Load(seq); ok {
			return v.(*atomic.Int32).Load()
		}
		return 0
	}
	observe := func(next router.Handler) router.Handler {
		return func(ctx context.Context, m jetstream.Msg, ev *rules.Evaluator) error {
			err := next(ctx, m, ev)
			if meta, merr := m.Metadata(); merr == nil && errors.Is(err, router.ErrEndpointCreating) {
				v, _ := held.LoadOrStore(meta.Sequence.Stream, new(atomic.Int32))
				v.(*atomic.Int32).Add(1)
			}
			return err
		}
	}
	cfg := fastConfig()
	cfg.Router.PendingHold = 2 * time.Second
	cfg.RouterMiddleware = []router.Middleware{observe}
	h := hookdtest.Start(t, cfg)

	otherRc, creatingRc, stuckRc := hookdtest.NewReceiver(t), hookdtest.NewReceiver(t), hookdtest.NewReceiver(t)
	other := h.CreateEndpoint(t, map[string]any{"url": otherRc.URL, "events": []string{"order.*"}})
	creating := h.CreateEndpoint(t, map[string]any{"url": creatingRc.URL, "events": []string{"order.*"}})
	stuck := h.CreateEndpoint(t, map[string]any{"url": stuckRc.URL, "events": []string{"order.*"}})

	// The creation of "creating" has stored it, not yet read the position.
	setRoutedFrom(t, h, creating.ID, endpoint.RoutedFromPending)
	from := eventsLastSeq(t, h) + 1
	h.PublishEvent(t, "order.paid", map[string]int{"n": 1})
	hookdtest.WaitFor(t, 10*time.Second, "the event held", func() bool { return holds(from) > 0 })
	if n := otherRc.Count(); n != 0 {
		t.Fatalf("the held event reached another endpoint %d times while held", n)
	}
	// The creation reads the position (before the event) and completes.
	setRoutedFrom(t, h, creating.ID, from)
	h.WaitIdle(t, other.ID, creating.ID)
	for name, rc := range map[string]*hookdtest.Receiver{"other": otherRc, "creating": creatingRc, "stuck": stuckRc} {
		if got := numbersDelivered(t, rc); !slices.Equal(got, []int{1}) {
			t.Fatalf("%s received %v, want [1]", name, got)
		}
	}

	// A creation that died between its puts.
	setRoutedFrom(t, h, stuck.ID, endpoint.RoutedFromPending)
	second := eventsLastSeq(t, h) + 1
	h.PublishEvent(t, "order.paid", map[string]int{"n": 2})
	hookdtest.WaitFor(t, 20*time.Second, "the event routed past the hold", func() bool { return otherRc.Count() == 2 })
	h.WaitIdle(t, other.ID, creating.ID, stuck.ID)
	if holds(second) == 0 {
		t.Fatal("the event was not held for the endpoint being created")
	}
	if got := numbersDelivered(t, creatingRc); !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("the created endpoint received %v, want [1 2]", got)
	}
	if got := numbersDelivered(t, stuckRc); !slices.Equal(got, []int{1}) {
		t.Fatalf("the half-created endpoint received %v, want only [1] from before", got)
	}
}
