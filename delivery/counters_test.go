package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/internal/natstest"
	"github.com/hookd/hookd/topology"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// store is a real embedded server with hookd's streams and buckets.
type store struct {
	js   jetstream.JetStream
	topo *topology.Topology
	log  *delivery.Log
	kv   jetstream.KeyValue
	raw  jetstream.Stream
}

func newStore(tb testing.TB) *store {
	tb.Helper()
	js := natstest.Start(tb, jetstream.WithPublishAsyncMaxPending(4096))
	topo, err := topology.New(js, topology.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	if err := topo.EnsureCore(ctx); err != nil {
		tb.Fatal(err)
	}
	s := &store{js: js, topo: topo}
	if s.log, err = delivery.OpenLog(ctx, topo); err != nil {
		tb.Fatal(err)
	}
	if s.kv, err = topo.Stats(ctx); err != nil {
		tb.Fatal(err)
	}
	if s.raw, err = js.Stream(ctx, topo.Names().LogStream()); err != nil {
		tb.Fatal(err)
	}
	return s
}

// counters runs Counters over s until the test ends; counting says whether
// they count the log (a worker's process) or only read (an API's).
func (s *store) counters(tb testing.TB, counting bool) *delivery.Counters {
	tb.Helper()
	c, err := delivery.NewCounters(delivery.CountersConfig{KV: s.kv, Log: s.raw, CountAttempts: counting,
		FlushInterval: 100 * time.Millisecond, Logger: quiet()})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Error(err)
		}
	})
	if counting {
		// It counts what is logged once its consumer exists.
		waitFor(tb, 10*time.Second, "the counting consumer", func() bool {
			_, err := s.raw.Consumer(context.Background(), topology.StatsConsumer)
			return err == nil
		})
	}
	return c
}

// logAttempts appends n attempt records of an endpoint to the delivery
// log, as workers do; outcome(i) chooses each one's outcome.
func (s *store) logAttempts(tb testing.TB, endpointID string, n int, outcome func(i int) delivery.Outcome) {
	tb.Helper()
	for i := range n {
		a := delivery.Attempt{DeliveryID: fmt.Sprintf("dlv_%s_%d", endpointID, i/3), EventType: "t.x", EndpointID: endpointID,
			Number: i%3 + 1, Time: time.Now().UTC(), Outcome: outcome(i)}
		if a.Outcome != delivery.OutcomeSucceeded {
			a.StatusCode, a.Error = 500+i%4, fmt.Sprintf("HTTP %d", 500+i%4)
		}
		m := nats.NewMsg(s.topo.Names().LogSubject(endpointID))
		m.Data, _ = json.Marshal(a)
		if _, err := s.js.PublishMsgAsync(m); err != nil {
			tb.Fatal(err)
		}
		if i%1000 == 999 { // within the async window, however slow the machine
			<-s.js.PublishAsyncComplete()
		}
	}
	select {
	case <-s.js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		tb.Fatal("attempt records not stored")
	}
}

func waitFor(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling counters flushed by other goroutines
	}
}

// Two processes counting the same log (sharing its records) and flushing
// into the same keys, read by a third that only reads: the counts equal
// the log scan's, with nothing lost or counted twice, and the newest
// success and failure are the scan's.
func TestCountersMatchTheLogScan(t *testing.T) {
	s := newStore(t)
	s.counters(t, true)
	s.counters(t, true)
	reader := s.counters(t, false)
	since := time.Now().Add(-time.Hour)
	outcomes := []delivery.Outcome{delivery.OutcomeSucceeded, delivery.OutcomeRetrying, delivery.OutcomeDead,
		delivery.OutcomePending, delivery.OutcomeBatched, delivery.OutcomeSucceeded}
	s.logAttempts(t, "ep_a", 3000, func(i int) delivery.Outcome { return outcomes[i%len(outcomes)] })
	s.logAttempts(t, "ep_b", 700, func(i int) delivery.Outcome { return outcomes[(i*7)%len(outcomes)] })
	for _, id := range []string{"ep_a", "ep_b"} {
		want, err := s.log.Stats(t.Context(), id, since)
		if err != nil {
			t.Fatal(err)
		}
		if want.Attempts == 0 || want.Dead == 0 || want.LastFailure == nil {
			t.Fatalf("%s: the scan found %+v: the records are not what the test means", id, want)
		}
		var got delivery.Stats
		waitFor(t, 20*time.Second, id+" counted", func() bool {
			got, err = reader.Stats(t.Context(), id, since)
			return err == nil && got.Attempts >= want.Attempts
		})
		if got.Attempts != want.Attempts || got.Succeeded != want.Succeeded || got.Failed != want.Failed || got.Dead != want.Dead {
			t.Errorf("%s: counters %d attempts (%d ok, %d failed, %d dead), scan %d (%d, %d, %d)", id,
				got.Attempts, got.Succeeded, got.Failed, got.Dead, want.Attempts, want.Succeeded, want.Failed, want.Dead)
		}
		if !got.LastSuccess.Equal(want.LastSuccess) || got.LastFailure == nil || got.LastFailure.DeliveryID != want.LastFailure.DeliveryID ||
			got.LastFailure.Number != want.LastFailure.Number || got.LastFailure.StatusCode != want.LastFailure.StatusCode {
			t.Errorf("%s: newest success %s and failure %+v, scan %s and %+v", id, got.LastSuccess, got.LastFailure, want.LastSuccess, want.LastFailure)
		}
	}
}

// Windows count to the minute from the kept hours; rule errors are
// counted; a newest failure before the window is not shown.
func TestCountersWindows(t *testing.T) {
	s := newStore(t)
	c := s.counters(t, false)
	reader := s.counters(t, false)
	now := time.Now().UTC()
	at := func(ago time.Duration, o delivery.Outcome, dlv string) {
		c.RecordAttempt(delivery.Attempt{DeliveryID: dlv, EndpointID: "ep_w", Number: 1, Time: now.Add(-ago), Outcome: o, StatusCode: 503})
	}
	at(3*time.Hour, delivery.OutcomeDead, "dlv_old")
	at(90*time.Minute, delivery.OutcomeSucceeded, "dlv_ok1")
	at(30*time.Minute, delivery.OutcomeRetrying, "dlv_mid")
	at(5*time.Minute, delivery.OutcomeSucceeded, "dlv_ok2")
	at(0, delivery.OutcomePending, "dlv_queued") // not an attempt
	c.RecordAttempt(delivery.Attempt{DeliveryID: "dlv_other", EndpointID: "ep_other", Time: now, Outcome: delivery.OutcomeDead})
	for range 3 {
		c.RecordRuleError("ep_w", "filter")
	}
	c.Flush(t.Context())
	for _, w := range []struct {
		window                             time.Duration
		attempts, ok, failed, dead, errors int
		lastFailure                        string
	}{
		{time.Hour, 2, 1, 1, 0, 3, "dlv_mid"},
		{2 * time.Hour, 3, 2, 1, 0, 3, "dlv_mid"},
		{4 * time.Hour, 4, 2, 2, 1, 3, "dlv_mid"},
		{10 * time.Minute, 1, 1, 0, 0, 3, ""},
	} {
		st, err := reader.Stats(t.Context(), "ep_w", now.Add(-w.window))
		if err != nil {
			t.Fatal(err)
		}
		lf := ""
		if st.LastFailure != nil {
			lf = st.LastFailure.DeliveryID
		}
		if st.Attempts != w.attempts || st.Succeeded != w.ok || st.Failed != w.failed || st.Dead != w.dead || st.RuleErrors != w.errors || lf != w.lastFailure {
			t.Errorf("window %s: %+v (last failure %q), want %d attempts, %d ok, %d failed, %d dead, %d rule errors, last failure %q",
				w.window, st, lf, w.attempts, w.ok, w.failed, w.dead, w.errors, w.lastFailure)
		}
		if !st.LastSuccess.Equal(now.Add(-5 * time.Minute)) {
			t.Errorf("window %s: last success %s", w.window, st.LastSuccess)
		}
	}
	// Counts not flushed yet are seen by their own process at once.
	c.RecordRuleError("ep_w", "filter")
	if st, _ := c.Stats(t.Context(), "ep_w", now.Add(-time.Hour)); st.RuleErrors != 4 {
		t.Errorf("unflushed rule error not seen by its process: %d", st.RuleErrors)
	}
}

// Counting began with the first counters: an empty log means everything
// is counted (zero time); records already in the log mean an upgrade, and
// the time it began is kept for every process.
func TestCountingSince(t *testing.T) {
	fresh := newStore(t)
	if since, err := fresh.counters(t, true).CountingSince(t.Context()); err != nil || !since.IsZero() {
		t.Errorf("fresh log: counting since %s, %v; want zero", since, err)
	}
	upgraded := newStore(t)
	upgraded.logAttempts(t, "ep_u", 5, func(int) delivery.Outcome { return delivery.OutcomeSucceeded })
	before := time.Now().Add(-time.Second)
	first, err := upgraded.counters(t, true).CountingSince(t.Context())
	if err != nil || first.Before(before) || first.After(time.Now()) {
		t.Fatalf("upgraded log: counting since %s, %v; want about now", first, err)
	}
	if again, err := upgraded.counters(t, false).CountingSince(t.Context()); err != nil || !again.Equal(first) {
		t.Errorf("another process: counting since %s, %v; want %s", again, err, first)
	}
	// Counted from then on, not before.
	c := upgraded.counters(t, true)
	upgraded.logAttempts(t, "ep_u", 2, func(int) delivery.Outcome { return delivery.OutcomeRetrying })
	waitFor(t, 20*time.Second, "new records counted", func() bool {
		st, err := c.Stats(t.Context(), "ep_u", first.Add(-time.Hour))
		return err == nil && st.Failed == 2
	})
	if st, _ := c.Stats(t.Context(), "ep_u", first.Add(-time.Hour)); st.Succeeded != 0 {
		t.Errorf("records from before counting began were counted: %+v", st)
	}
}
