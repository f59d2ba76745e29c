package app_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/topology"
)

// legacyLayout writes what a release with one stream per endpoint left in
// a data directory: the endpoint's stream (a work queue on
// "hookd.deliver.<id>" and, with lanes, "hookd.deliver.<id>.*") with its
// worker consumer, and deliveries in it as that release's router queued
// them. It freezes that layout for the upgrade test; nothing else writes
// it any more.
type legacyLayout struct {
	t     *testing.T
	js    jetstream.JetStream
	names topology.Names
}

func (l legacyLayout) stream(id string, lanes bool) {
	l.t.Helper()
	subjects := []string{l.names.DeliverySubject(id)}
	if lanes {
		subjects = append(subjects, l.names.LaneSubject(id, "*"))
	}
	s, err := l.js.CreateStream(l.t.Context(), jetstream.StreamConfig{
		Name: l.names.EndpointStream(id), Subjects: subjects, Retention: jetstream.WorkQueuePolicy,
		Discard: jetstream.DiscardNew, Storage: jetstream.FileStorage,
	})
	if err != nil {
		l.t.Fatal(err)
	}
	if _, err := s.CreateConsumer(l.t.Context(), jetstream.ConsumerConfig{
		Durable: topology.WorkerConsumer, AckPolicy: jetstream.AckExplicitPolicy, MaxDeliver: -1,
		FilterSubject: l.names.DeliverySubject(id),
	}); err != nil {
		l.t.Fatal(err)
	}
}

// delivery queues event n of type typ for endpoint id on lane (0: none),
// and returns the delivery's id.
func (l legacyLayout) delivery(id string, lane, n int, data map[string]any) string {
	l.t.Helper()
	e := &event.Event{ID: fmt.Sprintf("evt_legacy_%s_%d", id, n), Type: "order.paid", Seq: uint64(n + 1), Time: time.Now().UTC()}
	body, _ := json.Marshal(data)
	subject := l.names.DeliverySubject(id)
	if lane > 0 {
		subject = l.names.LaneSubject(id, strconv.Itoa(lane))
	}
	m := nats.NewMsg(subject)
	m.Data = body
	delivery.SetHeaders(m.Header, e, id)
	m.Header.Set(delivery.HeaderDeliveryID, delivery.LegacyID(e.ID, id)) // that release's ids
	if lane > 0 {
		m.Header.Set(delivery.HeaderLane, strconv.Itoa(lane))
	}
	if _, err := l.js.PublishMsg(l.t.Context(), m, jetstream.WithMsgID(delivery.MsgID(e.ID, id))); err != nil {
		l.t.Fatal(err)
	}
	return delivery.LegacyID(e.ID, id)
}

// record appends a delivery log record, as that release's worker did.
func (l legacyLayout) record(a delivery.Attempt) {
	l.t.Helper()
	b, _ := json.Marshal(a)
	if _, err := l.js.Publish(l.t.Context(), l.names.AttemptSubject(a.EndpointID, a.DeliveryID), b); err != nil {
		l.t.Fatal(err)
	}
}

// A data directory written by the release with one stream per endpoint
// starts on the shared delivery streams with nothing lost: every waiting
// delivery is delivered once, an ordered endpoint's lanes keep their order,
// a delivery a stopped worker held is moved too, a delivery waiting for
// its retry keeps its attempt count, a deleted endpoint's stream is
// dropped, and no per-endpoint stream is left.
func TestUpgradeFromStreamPerEndpoint(t *testing.T) {
	dir := t.TempDir()
	rc := hookdtest.NewReceiver(t)
	apiOnly := fastConfig()
	apiOnly.DataDir, apiOnly.NoRouter, apiOnly.NoWorker = dir, true, true
	h1 := hookdtest.Start(t, apiOnly)
	plain := h1.CreateEndpoint(t, map[string]any{"url": rc.URL + "/plain", "events": []string{"order.*"}})
	ordered := h1.CreateEndpoint(t, map[string]any{"url": rc.URL + "/ordered", "events": []string{"order.*"},
		"ordering": "ordered", "ordering_key": "data.k"})
	legacy := legacyLayout{t: t, js: h1.App.JetStream(), names: h1.App.Names()}

	legacy.stream(plain.ID, false)
	var plainIDs []string
	for n := range 20 {
		plainIDs = append(plainIDs, legacy.delivery(plain.ID, 0, n, map[string]any{"n": n}))
	}
	// A delivery that failed twice and waits for its third attempt.
	legacy.record(delivery.Attempt{DeliveryID: plainIDs[0], EndpointID: plain.ID, EventID: "evt_legacy_" + plain.ID + "_0",
		Number: 2, Outcome: delivery.OutcomeRetrying, Time: time.Now().UTC().Add(-time.Minute), NextAttemptInSeconds: 1})
	// A delivery handed to a worker that stopped before acknowledging it.
	c, err := legacy.js.Consumer(t.Context(), legacy.names.EndpointStream(plain.ID), topology.WorkerConsumer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fetch(1); err != nil {
		t.Fatal(err)
	}

	legacy.stream(ordered.ID, true)
	for n := range 10 {
		lane := 3 + n%2
		legacy.delivery(ordered.ID, lane, 100+n, map[string]any{"k": "key" + strconv.Itoa(lane), "n": n})
	}
	legacy.stream("ep_deleted", false)
	legacy.delivery("ep_deleted", 0, 1, map[string]any{"n": 1})
	h1.Stop(t)

	full := fastConfig()
	full.DataDir = dir
	h2 := hookdtest.Start(t, full)
	hookdtest.WaitFor(t, 20*time.Second, "every moved delivery", func() bool { return rc.Count() == 30 })
	h2.WaitIdle(t, plain.ID, ordered.ID)

	got := map[string]int{}
	lastN := map[string]int{}
	for _, r := range rc.Requests() {
		got[r.Path]++
		if r.Path != "/ordered" {
			continue
		}
		var body struct {
			Data struct {
				K string `json:"k"`
				N int    `json:"n"`
			} `json:"data"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatal(err)
		}
		if prev, ok := lastN[body.Data.K]; ok && body.Data.N < prev {
			t.Errorf("lane %s: %d after %d: order lost", body.Data.K, body.Data.N, prev)
		}
		lastN[body.Data.K] = body.Data.N
	}
	if got["/plain"] != 20 || got["/ordered"] != 10 || len(got) != 2 {
		t.Fatalf("requests by path %v, want 20 plain and 10 ordered", got)
	}
	if n := len(rc.CountByID()); n != 30 {
		t.Fatalf("%d distinct deliveries, want 30", n)
	}
	var third *delivery.Attempt
	for _, a := range h2.Attempts(t, plain.ID) {
		if a.DeliveryID == plainIDs[0] && a.Outcome == delivery.OutcomeSucceeded {
			third = &a
		}
	}
	if third == nil || third.Number != 3 {
		t.Fatalf("the retried delivery's attempt after the upgrade: %+v, want number 3", third)
	}
	for _, id := range []string{plain.ID, ordered.ID, "ep_deleted"} {
		if _, err := h2.App.JetStream().Stream(t.Context(), h2.App.Names().EndpointStream(id)); !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("the per-endpoint stream of %s is left: %v", id, err)
		}
	}
	if b := h2.Backlog(t, "ep_deleted"); b.Messages != 0 {
		t.Errorf("the deleted endpoint's deliveries were moved: %+v", b)
	}
}
