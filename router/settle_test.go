package router

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/internal/natstest"
	"github.com/hookd/hookd/topology"
)

// Naks that only held an event back (an endpoint being created, the
// endpoints view not confirmed) are not routing attempts: an event held
// for a while that then meets a full endpoint is held until the endpoint
// has room, not dead-lettered as if routing had failed every time.
func TestHoldsAreNotRoutingAttempts(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	js := natstest.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "EV", Subjects: []string{"ev.>"}})
	if err != nil {
		t.Fatal(err)
	}
	cons, err := s.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: "r", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "ev.order.paid", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	names, _ := topology.NewNames("")
	r := &Router{cfg: Config{MaxRouteAttempts: 3, MaxHoldAttempts: 3, PublishTimeout: time.Second}, js: js, names: names, log: log}
	next := func() jetstream.Msg {
		t.Helper()
		b, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range b.Messages() {
			return m
		}
		t.Fatal("the event was not redelivered")
		return nil
	}
	for i := range 5 {
		if got := r.settle(ctx, next(), ErrEndpointCreating); got != settleHeldBack {
			t.Fatalf("hold %d: settled %d, want held back", i, got)
		}
	}
	full := &PublishError{Event: &event.Event{ID: "evt_1", Type: "order.paid"}, Failed: map[string]error{
		"ep_1": &jetstream.APIError{ErrorCode: 10077, Description: "maximum messages per subject exceeded"},
	}}
	m := next()
	if meta, _ := m.Metadata(); meta.NumDelivered != 6 {
		t.Fatalf("delivered %d times, want 6", meta.NumDelivered)
	}
	if got := r.settle(ctx, m, full); got != settleFull {
		t.Fatalf("a full endpoint after 5 holds: settled %d, want held for room (%d)", got, settleFull)
	}
	// Real failures still count: the third one dead-letters (here the
	// dead-letter stream is missing, so it is retried instead).
	if got := r.settle(ctx, next(), full); got != settleFull {
		t.Fatalf("second full: settled %d", got)
	}
	if got := r.settle(ctx, next(), full); got == settleFull {
		t.Fatal("the third failed routing is still held: failures are not counted")
	}
}
