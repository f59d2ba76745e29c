package router

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/embedded"
	"github.com/hookd/hookd/endpoint"
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
// probeEvery apart, and an event an earlier probe covered (a lagging
// router's) waits for none.
func TestFenceSharesProbes(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ns, err := embedded.Start(embedded.Config{StoreDir: t.TempDir(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	nc, err := ns.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
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
	ack, err := js.Publish(ctx, "ev.a", []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	pe := &probedStream{Stream: events}
	f := newFence(pe, bucket, reg, 5*time.Second, log)

	const waiters = 100
	start := make(chan struct{})
	errs := make(chan error, waiters)
	for range waiters {
		go func() {
			<-start
			errs <- f.await(ctx, ack.Sequence)
		}()
	}
	close(start)
	for range waiters {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	probes := pe.probes()
	if len(probes) == 0 || len(probes) > 10 {
		t.Fatalf("%d events waiting together made %d probes, want a few", waiters, len(probes))
	}
	for i := 1; i < len(probes); i++ {
		if gap := probes[i].Sub(probes[i-1]); gap < probeEvery {
			t.Errorf("probes %d and %d %s apart, less than %s", i-1, i, gap, probeEvery)
		}
	}
	t.Logf("%d waiting events, %d probes", waiters, len(probes))
	if err := f.await(ctx, ack.Sequence); err != nil || len(pe.probes()) != len(probes) {
		t.Fatalf("an event covered already: err %v, %d probes after %d", err, len(pe.probes()), len(probes))
	}
}
