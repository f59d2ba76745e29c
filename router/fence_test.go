package router

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/internal/natstest"
)

// probedStream is a real stream whose Info calls are recorded.
type probedStream struct {
	jetstream.Stream
	mu    sync.Mutex
	calls []time.Time
}

func (s *probedStream) Info(ctx context.Context, opts ...jetstream.StreamInfoOpt) (*jetstream.StreamInfo, error) {
	s.mu.Lock()
	s.calls = append(s.calls, time.Now())
	s.mu.Unlock()
	return s.Stream.Info(ctx, opts...)
}

func (s *probedStream) probes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.calls...)
}

// The fence's cost: events waiting together share a probe, probes are
// probeEvery apart and read the endpoints bucket only, and an event an
// earlier probe covered waits for none. A lagging router (an event with
// many stored behind it) has a probe read the events stream's last
// sequence too, which covers the backlog it has not received yet.
func TestFenceSharesProbes(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	js := natstest.Start(t)
	ctx := t.Context()
	events, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "EV", Subjects: []string{"ev.>"}})
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "eps"})
	if err != nil {
		t.Fatal(err)
	}
	bucket, err := js.Stream(ctx, "KV_eps")
	if err != nil {
		t.Fatal(err)
	}
	reg := endpoint.NewRegistry(kv, log)
	regCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = reg.Run(regCtx) }()
	defer func() { stop(); <-done }()

	if _, err := kv.Put(ctx, "ep_1", []byte(`{"id":"ep_1","url":"https://example.com"}`)); err != nil {
		t.Fatal(err)
	}
	publish := func() uint64 {
		t.Helper()
		ack, err := js.Publish(ctx, "ev.a", []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		return ack.Sequence
	}
	seq := publish()
	pe, pb := &probedStream{Stream: events}, &probedStream{Stream: bucket}
	f := newFence(pe, pb, reg, 5*time.Second, log)

	const waiters = 100
	start := make(chan struct{})
	errs := make(chan error, waiters)
	for range waiters {
		go func() {
			<-start
			errs <- f.await(ctx, seq, 0)
		}()
	}
	close(start)
	for range waiters {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	probes := pb.probes()
	if len(probes) == 0 || len(probes) > 10 {
		t.Fatalf("%d events waiting together made %d probes, want a few", waiters, len(probes))
	}
	for i := 1; i < len(probes); i++ {
		if gap := probes[i].Sub(probes[i-1]); gap < probeEvery {
			t.Errorf("probes %d and %d %s apart, less than %s", i-1, i, gap, probeEvery)
		}
	}
	if n := len(pe.probes()); n != 0 {
		t.Errorf("a router keeping up read the events stream %d times, want none: its events are covered by what it received", n)
	}
	t.Logf("%d waiting events, %d probes", waiters, len(probes))
	if err := f.await(ctx, seq, 0); err != nil || len(pb.probes()) != len(probes) {
		t.Fatalf("an event covered already: err %v, %d probes after %d", err, len(pb.probes()), len(probes))
	}

	// Lagging: the router has received the first of many events stored.
	first := publish()
	var later uint64
	for range probeLag {
		later = publish()
	}
	if err := f.await(ctx, first, later-first); err != nil {
		t.Fatal(err)
	}
	if n := len(pe.probes()); n != 1 {
		t.Fatalf("a lagging router's probe read the events stream %d times, want once", n)
	}
	probes = pb.probes()
	if err := f.await(ctx, later, 0); err != nil || len(pb.probes()) != len(probes) {
		t.Fatalf("an event of the backlog the lagging probe saw: err %v, %d probes after %d", err, len(pb.probes()), len(probes))
	}
	// Stored after every probe: it waits for one of its own.
	if err := f.await(ctx, publish(), 0); err != nil || len(pb.probes()) != len(probes)+1 {
		t.Fatalf("an event stored after the probes: err %v, %d probes after %d, want one more", err, len(pb.probes()), len(probes))
	}
}
