package topology

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// queueOf creates a topology with QueueStreams k and a logger writing to
// log, and runs EnsureCore.
func queueOf(t *testing.T, js jetstream.JetStream, k int, log *bytes.Buffer) *Topology {
	t.Helper()
	cfg := Config{QueueStreams: k}
	if log != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(log, nil))
	}
	topo, err := New(js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := topo.EnsureCore(context.Background()); err != nil {
		t.Fatalf("EnsureCore with %d queue streams: %v", k, err)
	}
	return topo
}

// wantQueue checks that the queue is split into exactly k streams, stream
// k' holding the shards s with s % k == k', each shard's consumer on its
// stream, and returns the streams' names.
func wantQueue(t *testing.T, topo *Topology, k int) []string {
	t.Helper()
	ctx := context.Background()
	streams, err := topo.QueueStreams(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(streams) != k {
		t.Fatalf("queue streams %v, want %d", streams, k)
	}
	n := topo.Names()
	for shard := range Shards {
		stream, err := topo.ShardStream(ctx, shard)
		if err != nil {
			t.Fatal(err)
		}
		if want := n.QueueStream(shard%k, k); stream != want {
			t.Errorf("shard %d in %s, want %s", shard, stream, want)
		}
		if _, err := topo.JetStream().Consumer(ctx, stream, ShardConsumer(shard)); err != nil {
			t.Errorf("shard %d consumer on %s: %v", shard, stream, err)
		}
	}
	return streams
}

// The queue is split into the configured number of streams, every shard
// in exactly one, and a delivery published by subject lands in its
// shard's stream; anything but a divisor of Shards is refused, and the
// default is one stream on one replica, Shards with more.
func TestQueueStreams(t *testing.T) {
	for _, k := range []int{1, 2, 4} {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			js := startJetStream(t)
			topo := queueOf(t, js, k, nil)
			wantQueue(t, topo, k)
			ctx := context.Background()
			for i := range 16 {
				id := fmt.Sprintf("ep_%d", i)
				ack, err := js.Publish(ctx, topo.Names().QueueSubject(id), nil)
				if err != nil {
					t.Fatal(err)
				}
				if want := topo.Names().QueueStream(Shard(id)%k, k); ack.Stream != want {
					t.Errorf("%s stored in %s, want %s", id, ack.Stream, want)
				}
			}
			backlogs, err := topo.Backlogs(ctx)
			if err != nil || len(backlogs) != 16 {
				t.Errorf("Backlogs: %d endpoints (%v), want 16", len(backlogs), err)
			}
			b, err := topo.Backlog(ctx, "ep_3")
			if err != nil || b.Messages != 1 {
				t.Errorf("Backlog(ep_3): %+v %v, want 1 message", b, err)
			}
			if err := topo.DeleteEndpoint(ctx, "ep_3"); err != nil {
				t.Fatal(err)
			}
			if b, err := topo.Backlog(ctx, "ep_3"); err != nil || b.Messages != 0 {
				t.Errorf("Backlog(ep_3) after deletion: %+v %v", b, err)
			}
		})
	}
	for _, bad := range []int{-1, 3, 5, 8} {
		if _, err := New(nil, Config{QueueStreams: bad}); !errors.Is(err, ErrInvalidQueueStreams) {
			t.Errorf("QueueStreams %d: %v, want ErrInvalidQueueStreams", bad, err)
		}
	}
	for replicas, want := range map[int]int{0: 1, 1: 1, 3: Shards, 5: Shards} {
		c := Config{Replicas: replicas}
		c.setDefaults()
		if c.QueueStreams != want {
			t.Errorf("replicas %d: default QueueStreams %d, want %d", replicas, c.QueueStreams, want)
		}
	}
}

// The queue streams that exist decide: a process asking for another
// layout replaces them only when they are all empty; otherwise it keeps
// them, says why once at WARN, and loses nothing.
func TestQueueLayoutChangesOnlyWhenEmpty(t *testing.T) {
	js := startJetStream(t)
	ctx := context.Background()
	one := queueOf(t, js, 1, nil)
	n := one.Names()
	ack, err := js.Publish(ctx, n.QueueSubject("ep_1"), []byte("waiting"))
	if err != nil {
		t.Fatal(err)
	}

	// Not empty: kept, a warning once however often EnsureCore runs.
	var log bytes.Buffer
	four := queueOf(t, js, 4, &log)
	if err := four.EnsureCore(ctx); err != nil {
		t.Fatal(err)
	}
	wantQueue(t, four, 1)
	if got := strings.Count(log.String(), "level=WARN"); got != 1 || !strings.Contains(log.String(), "deliveries_waiting=1") {
		t.Errorf("%d warnings, want 1 naming the waiting delivery:\n%s", got, log.String())
	}
	s, err := js.Stream(ctx, n.QueueStream(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if m, err := s.GetMsg(ctx, ack.Sequence); err != nil || string(m.Data) != "waiting" {
		t.Fatalf("the waiting delivery: %v %v", m, err)
	}

	// Empty: replaced, 1 -> 4 -> 2, each process finding the streams from
	// the server whatever it was configured with.
	if err := s.DeleteMsg(ctx, ack.Sequence); err != nil {
		t.Fatal(err)
	}
	log.Reset()
	four = queueOf(t, js, 4, &log)
	wantQueue(t, four, 4)
	wantQueue(t, one, 4) // the process configured with 1 finds the 4
	if _, err := js.Stream(ctx, n.QueueStream(0, 1)); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("old queue stream: %v, want it deleted", err)
	}
	two := queueOf(t, js, 2, nil)
	wantQueue(t, two, 2)
	if strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), "replacing the empty queue's streams") {
		t.Errorf("switching an empty queue: want an INFO, no warning: %s", log.String())
	}
	// Same layout: nothing changes.
	before, _ := two.QueueStreams(ctx)
	queueOf(t, js, 2, nil)
	if after, _ := two.QueueStreams(ctx); !slices.Equal(before, after) {
		t.Errorf("streams %v became %v", before, after)
	}
}

// A delivery stored in a queue stream after it was found empty and before
// it was retired is not lost: it moves to its endpoint's held subject,
// marked migrated, before the retired stream is deleted; and a retired
// stream cannot be given its shard subjects back.
func TestRetiredQueueStreamMovesItsDeliveries(t *testing.T) {
	js := startJetStream(t)
	ctx := context.Background()
	one := queueOf(t, js, 1, nil)
	n := one.Names()
	live, _, err := one.readQueue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, n.QueueSubject("ep_1"), []byte("late")); err != nil {
		t.Fatal(err)
	}
	if err := one.retireQueue(ctx, live); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, n.QueueSubject("ep_1"), nil); !errors.Is(err, jetstream.ErrNoStreamResponse) {
		t.Errorf("publish to a retired queue: %v, want no stream", err)
	}
	// A process keeping the old layout cannot put its subjects back.
	restore := streamConfig(t, js, n.QueueStream(0, 1))
	restore.Subjects, restore.Sealed = []string{n.ShardSubjects(-1)}, false
	if _, err := js.UpdateStream(ctx, restore); err == nil {
		t.Fatal("a retired queue stream took its shard subjects back")
	}

	four := queueOf(t, js, 4, nil)
	wantQueue(t, four, 4)
	if _, err := js.Stream(ctx, n.QueueStream(0, 1)); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("retired stream: %v, want deleted", err)
	}
	held, err := js.Stream(ctx, n.HeldStream())
	if err != nil {
		t.Fatal(err)
	}
	m, err := held.GetLastMsgForSubject(ctx, n.HeldSubject("ep_1"))
	if err != nil || string(m.Data) != "late" || m.Header.Get(MigratedHeader) != "1" {
		t.Fatalf("moved delivery: %+v %v", m, err)
	}
}

// Processes starting together with different layouts, on a new deployment
// and then on an emptied one, while deliveries are published (a publish
// no stream takes is not stored, and a router retries it) and taken out of
// the queue: one complete layout stands, and every delivery stored was
// taken, or is in it or on its held subject. Under the race detector the
// processes start one after the other (see raceEnabled).
func TestQueueLayoutRace(t *testing.T) {
	js := startJetStream(t)
	ctx := context.Background()
	stored := map[string]string{} // body: where it was stored
	var mu sync.Mutex
	stop := make(chan struct{})
	published := make(chan struct{})
	// The first round starts from an empty one-stream layout, with no
	// publisher yet: the processes asking for 2 and 4 replace it, however
	// slow the machine (with deliveries flowing, the queue may never be
	// empty when a process looks). The publisher and the worker run from
	// the second round on.
	queueOf(t, js, 1, nil)
	begin := make(chan struct{})
	go func() {
		defer close(published)
		select {
		case <-begin:
		case <-stop:
			return
		}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := fmt.Sprintf("ep_%d", i%32)
			body := fmt.Sprint(i)
			if ack, err := js.Publish(ctx, Names{}.QueueSubject(id), []byte(body)); err == nil {
				mu.Lock()
				stored[body] = fmt.Sprintf("%s #%d", ack.Stream, ack.Sequence)
				mu.Unlock()
			}
		}
	}()
	// A worker taking deliveries out of the queue (their bodies found), so
	// that the queue is empty now and then and the layout is replaced.
	found, tookN := map[string]bool{}, 0
	taken := make(chan struct{})
	var log syncBuffer
	go func() {
		defer close(taken)
		topo, _ := New(js, Config{})
		select {
		case <-begin:
		case <-stop:
			return
		}
		for {
			select {
			case <-stop:
				return
			default:
			}
			queues, _ := topo.QueueStreams(ctx)
			for _, q := range queues {
				s, err := js.Stream(ctx, q)
				if err != nil {
					continue
				}
				m, err := s.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(">"))
				if err != nil {
					continue
				}
				if s.DeleteMsg(ctx, m.Sequence) == nil {
					mu.Lock()
					found[string(m.Data)] = true
					tookN++
					mu.Unlock()
				}
			}
		}
	}()
	for round := range 4 {
		if round == 1 {
			close(begin)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 6)
		for _, k := range []int{1, 2, 4, 1, 2, 4} {
			wg.Add(1)
			start := func(f func()) { go f() }
			if raceEnabled {
				// One process after the other (see raceEnabled); the
				// publisher and the worker still run meanwhile.
				start = func(f func()) { f() }
			}
			start(func() {
				defer wg.Done()
				topo, err := New(js, Config{QueueStreams: k, Logger: slog.New(slog.NewTextHandler(&log, nil))})
				if err == nil {
					err = topo.EnsureCore(ctx)
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	<-published
	<-taken
	topo, _ := New(js, Config{})
	var owners []string
	for shard := range Shards {
		stream, err := topo.ShardStream(ctx, shard)
		if err != nil {
			t.Fatalf("shard %d: %v", shard, err)
		}
		owners = append(owners, stream)
	}
	queues, err := topo.QueueStreams(ctx)
	if err != nil {
		t.Fatal(err)
	}
	covered := 0
	for _, q := range queues {
		covered += len(streamConfig(t, js, q).Subjects)
	}
	if covered != Shards && !(len(queues) == 1 && queues[0] == Names{}.QueueStream(0, 1)) {
		for _, q := range queues {
			t.Errorf("%s: %v", q, streamConfig(t, js, q).Subjects)
		}
	}
	for _, stream := range append(queues, Names{}.HeldStream()) {
		s, err := js.Stream(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		state := s.CachedInfo().State
		for seq := state.FirstSeq; state.Msgs > 0 && seq <= state.LastSeq; seq++ {
			if m, err := s.GetMsg(ctx, seq); err == nil {
				found[string(m.Data)] = true
			}
		}
	}
	lost := 0
	for body, where := range stored {
		if !found[body] {
			lost++
			t.Errorf("delivery %s stored in %s lost", body, where)
		}
	}
	if lost > 0 || len(stored) == 0 {
		t.Fatalf("%d of %d stored deliveries lost; shards in %v", lost, len(stored), owners)
	}
	replaced := strings.Count(log.String(), "replacing the empty queue's streams")
	if replaced == 0 {
		t.Error("no layout was replaced: the race was not exercised")
	}
	t.Logf("%d deliveries stored, %d taken from the queue meanwhile; layouts replaced %d times, settling on %v", len(stored), tookN, replaced, queues)
}

// syncBuffer is a bytes.Buffer for loggers of several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
