package delivery_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/embedded"
	"github.com/hookd/hookd/topology"
)

// logBuffer collects a logger's lines, safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the lines holding every one of parts.
func (b *logBuffer) lines(parts ...string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range strings.Split(b.buf.String(), "\n") {
		all := l != ""
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			out = append(out, l)
		}
	}
	return out
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// refuseLog makes the log stream capture no log subject any more, so
// that every write of a record is answered "no responders", as while
// storage is cut off; the returned func restores it.
func refuseLog(t *testing.T, js jetstream.JetStream, names topology.Names) (restore func()) {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, names.LogStream())
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	was := cfg.Subjects
	cfg.Subjects = []string{"refused.log.*"}
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		cfg.Subjects = was
		if _, err := js.UpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
}

// recordsOf returns every record of a delivery in the log stream, by
// message sequence, and how many messages the stream holds.
func recordsOf(t testing.TB, s *store, deliveryID string) (seqs []uint64, msgs int) {
	t.Helper()
	for seq, recs := range logRecords(t, s) {
		msgs++
		for _, r := range recs {
			if r.DeliveryID == deliveryID {
				seqs = append(seqs, seq)
			}
		}
	}
	return seqs, msgs
}

// A record whose write storage refused fails its commit at once (the
// caller settles its delivery without waiting for its history), is kept,
// and is written once storage takes writes again: stored exactly once,
// counted once by the stats counters, and not counted while it waits.
func TestCommitterWritesLaterWhatStorageRefused(t *testing.T) {
	s := newStore(t)
	counters := s.counters(t, false)
	var logs logBuffer
	c, err := delivery.NewCommitter(delivery.CommitterConfig{JetStream: s.js, Names: s.topo.Names(), Timeout: 2 * time.Second,
		LaterWait: 20 * time.Millisecond, LaterMaxWait: 100 * time.Millisecond, Stored: counters, Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	ctx := context.Background()
	restore := refuseLog(t, s.js, s.topo.Names())

	a := delivery.Attempt{DeliveryID: "dlv_refused", EndpointID: "ep_1", Number: 1, Time: time.Now().UTC(), StatusCode: 200, Outcome: delivery.OutcomeSucceeded}
	start := time.Now()
	if _, err := c.Add(a).Wait(ctx); err == nil {
		t.Fatal("a record storage refused was acknowledged")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the refusal reached the caller after %s", took)
	}
	if n, b := c.Unwritten(); n != 1 || b == 0 {
		t.Fatalf("kept to write later: %d records, %d bytes; want the 1 refused", n, b)
	}
	// Sent again and refused, round after round: kept, not counted.
	waitFor(t, 10*time.Second, "3 sends again refused", func() bool {
		return len(logs.lines("delivery log records still not stored", "dlv_refused")) >= 3
	})
	if n, _ := c.Unwritten(); n != 1 {
		t.Fatalf("kept: %d records, want 1", n)
	}
	if got := countedAttempts(t, counters, "ep_1"); got != 0 {
		t.Fatalf("counters count %d attempts of a record not stored", got)
	}

	restore()
	waitFor(t, 20*time.Second, "the record written late", func() bool {
		n, _ := c.Unwritten()
		return n == 0
	})
	seqs, _ := recordsOf(t, s, "dlv_refused")
	if len(seqs) != 1 {
		t.Fatalf("the record is stored %d times (%v), want once", len(seqs), seqs)
	}
	if got := countedAttempts(t, counters, "ep_1"); got != 1 {
		t.Fatalf("counters count %d attempts, want 1", got)
	}
	if l := logs.lines("delivery log records written late", "dlv_refused"); len(l) != 1 {
		t.Errorf("log lines of the late write: %q", l)
	}
	// Nothing more is sent: later records go on as usual.
	if _, err := c.Add(delivery.Attempt{DeliveryID: "dlv_next", EndpointID: "ep_1", Number: 1, Time: time.Now().UTC(), Outcome: delivery.OutcomeSucceeded}).Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if seqs, msgs := recordsOf(t, s, "dlv_refused"); len(seqs) != 1 || msgs != 2 {
		t.Fatalf("after the next record: the late one stored %d times, %d messages, want 1 and 2", len(seqs), msgs)
	}
	if got := countedAttempts(t, counters, "ep_1"); got != 2 {
		t.Fatalf("counters count %d attempts, want 2", got)
	}
}

func countedAttempts(t testing.TB, c *delivery.Counters, endpointID string) int {
	t.Helper()
	st, err := c.Stats(context.Background(), endpointID, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return st.Attempts
}

// gate holds what a connection reads while closed: a server's answers
// (acknowledgements) come late, as over a slow or stalled link, while
// what the client writes still reaches the server.
type gate struct {
	mu     sync.Mutex
	cond   *sync.Cond
	closed bool
}

func newGate() *gate {
	g := &gate{}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *gate) set(closed bool) {
	g.mu.Lock()
	g.closed = closed
	g.mu.Unlock()
	g.cond.Broadcast()
}

func (g *gate) wait() {
	g.mu.Lock()
	for g.closed {
		g.cond.Wait()
	}
	g.mu.Unlock()
}

type gatedConn struct {
	net.Conn
	g *gate
}

func (c gatedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.g.wait()
	return n, err
}

type gatedServer struct {
	s *embedded.Server
	g *gate
}

func (p gatedServer) InProcessConn() (net.Conn, error) {
	conn, err := p.s.NATS().InProcessConn()
	if err != nil {
		return nil, err
	}
	return gatedConn{conn, p.g}, nil
}

// A record whose acknowledgement did not come in time (stored or not:
// the committer cannot know) is sent again under the same Nats-Msg-Id:
// stored once, the second send dropped by the log stream as a duplicate,
// and counted once.
func TestCommitterSendsAgainWhatWasNotAcknowledged(t *testing.T) {
	ns, err := embedded.Start(embedded.Config{StoreDir: t.TempDir(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	g := newGate()
	nc, err := nats.Connect("", append([]nats.Option{nats.InProcessServer(gatedServer{ns, g})}, ns.InternalOptions()...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	topo, err := topology.New(js, topology.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := topo.EnsureCore(ctx); err != nil {
		t.Fatal(err)
	}
	s := &store{js: js, topo: topo}
	if s.kv, err = topo.Stats(ctx); err != nil {
		t.Fatal(err)
	}
	if s.raw, err = js.Stream(ctx, topo.Names().LogStream()); err != nil {
		t.Fatal(err)
	}
	if d := s.raw.CachedInfo().Config.Duplicates; d < time.Minute {
		t.Fatalf("the log stream's duplicate window is %s", d)
	}
	counters := s.counters(t, false)
	var logs logBuffer
	c, err := delivery.NewCommitter(delivery.CommitterConfig{JetStream: js, Names: topo.Names(), Timeout: 300 * time.Millisecond,
		LaterWait: 50 * time.Millisecond, LaterMaxWait: 200 * time.Millisecond, Stored: counters, Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())

	g.set(true) // answers held from here
	a := delivery.Attempt{DeliveryID: "dlv_unacked", EndpointID: "ep_1", Number: 1, Time: time.Now().UTC(), StatusCode: 200, Outcome: delivery.OutcomeSucceeded}
	_, err = c.Add(a).Wait(ctx)
	if err == nil || !strings.Contains(err.Error(), "no acknowledgement") {
		g.set(false)
		t.Fatalf("a record whose acknowledgement was held: %v, want no acknowledgement", err)
	}
	// The first send reached the server and was stored; the committer
	// cannot know, and sends it again (held answers too) until one comes.
	waitFor(t, 10*time.Second, "sends again while answers are held", func() bool {
		return len(logs.lines("delivery log records not stored")) >= 1
	})
	g.set(false)
	waitFor(t, 20*time.Second, "the record written", func() bool {
		n, _ := c.Unwritten()
		return n == 0
	})
	seqs, msgs := recordsOf(t, s, "dlv_unacked")
	if len(seqs) != 1 || msgs != 1 {
		t.Fatalf("the record is in %d messages (%v) of %d, want 1 of 1", len(seqs), seqs, msgs)
	}
	if got := countedAttempts(t, counters, "ep_1"); got != 1 {
		t.Fatalf("counters count %d attempts, want 1", got)
	}
	if l := logs.lines("delivery log records written late", "dlv_unacked", "duplicate=true"); len(l) != 1 {
		t.Errorf("the late send was not the stream's duplicate of the first: %q", logs.lines("written late"))
	}
	m, err := s.raw.GetMsg(ctx, seqs[0])
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get(jetstream.MsgIDHeader) == "" {
		t.Error("the log message carries no Nats-Msg-Id")
	}
}

// What is kept to be written later is bounded by records and by bytes:
// a message beyond either is dropped with an ERROR naming it, and what
// was kept is written once storage takes writes.
func TestCommitterBoundsWhatItKeeps(t *testing.T) {
	at := time.Now().UTC().Truncate(time.Second) // every record the same size
	rec := func(i int) delivery.Attempt {
		return delivery.Attempt{DeliveryID: fmt.Sprintf("dlv_bound%d", i), EndpointID: fmt.Sprintf("ep_%d", i), Number: 1,
			Time: at, StatusCode: 500, Error: "refused", Outcome: delivery.OutcomeRetrying}
	}
	size, _ := json.Marshal(rec(0))
	msgBytes := len(size) + 1
	for _, tc := range []struct {
		name       string
		maxRecords int
		maxBytes   int
	}{
		{"records", 3, 0},
		{"bytes", 0, 3*msgBytes + msgBytes/2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			counters := s.counters(t, false)
			var logs logBuffer
			// Max 1: every record is a message of its own.
			c, err := delivery.NewCommitter(delivery.CommitterConfig{JetStream: s.js, Names: s.topo.Names(), Max: 1, Timeout: 2 * time.Second,
				LaterWait: 20 * time.Millisecond, LaterMaxWait: 100 * time.Millisecond, LaterMaxRecords: tc.maxRecords, LaterMaxBytes: tc.maxBytes,
				Stored: counters, Logger: logs.logger()})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(context.Background())
			restore := refuseLog(t, s.js, s.topo.Names())
			for i := range 5 {
				if _, err := c.Add(rec(i)).Wait(context.Background()); err == nil {
					t.Fatalf("record %d acknowledged while refused", i)
				}
			}
			if n, b := c.Unwritten(); n != 3 || b != 3*msgBytes {
				t.Fatalf("kept %d records, %d bytes; want the first 3 (%d bytes)", n, b, 3*msgBytes)
			}
			for i := 3; i < 5; i++ {
				if l := logs.lines("level=ERROR", "records dropped", rec(i).DeliveryID); len(l) != 1 {
					t.Errorf("no ERROR for the dropped record %d: %q", i, logs.lines("level=ERROR"))
				}
			}
			restore()
			waitFor(t, 20*time.Second, "the kept records written", func() bool {
				n, _ := c.Unwritten()
				return n == 0
			})
			for i := range 5 {
				seqs, _ := recordsOf(t, s, rec(i).DeliveryID)
				if want := map[bool]int{true: 1, false: 0}[i < 3]; len(seqs) != want {
					t.Errorf("record %d stored %d times, want %d", i, len(seqs), want)
				}
				if got, want := countedAttempts(t, counters, rec(i).EndpointID), map[bool]int{true: 1, false: 0}[i < 3]; got != want {
					t.Errorf("record %d counted %d times, want %d", i, got, want)
				}
			}
		})
	}
}

// Close tries what is kept within its ctx: written when storage takes
// writes again, else logged at ERROR with the count left unwritten.
func TestCommitterCloseWritesWhatIsKept(t *testing.T) {
	for _, back := range []bool{true, false} {
		t.Run(fmt.Sprintf("storage back=%v", back), func(t *testing.T) {
			s := newStore(t)
			var logs logBuffer
			// A writer that would wait a minute: only Close can write in time.
			c, err := delivery.NewCommitter(delivery.CommitterConfig{JetStream: s.js, Names: s.topo.Names(), Timeout: time.Second,
				LaterWait: time.Minute, Logger: logs.logger()})
			if err != nil {
				t.Fatal(err)
			}
			restore := refuseLog(t, s.js, s.topo.Names())
			for i := range 2 {
				a := delivery.Attempt{DeliveryID: fmt.Sprintf("dlv_close%d", i), EndpointID: "ep_1", Number: 1, Time: time.Now().UTC(), Outcome: delivery.OutcomeSucceeded}
				if _, err := c.Add(a).Wait(context.Background()); err == nil {
					t.Fatal("acknowledged while refused")
				}
			}
			if back {
				restore()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			start := time.Now()
			c.Close(ctx)
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("Close took %s with a 3s ctx", took)
			}
			lost := logs.lines("level=ERROR", "left unwritten at shutdown", "records=2")
			if back {
				if len(lost) != 0 {
					t.Errorf("records reported lost: %q", lost)
				}
				for i := range 2 {
					if seqs, _ := recordsOf(t, s, fmt.Sprintf("dlv_close%d", i)); len(seqs) != 1 {
						t.Errorf("record %d stored %d times at Close, want once", i, len(seqs))
					}
				}
				return
			}
			if len(lost) != 1 {
				t.Errorf("no ERROR with the count left unwritten: %q", logs.lines("level=ERROR"))
			}
			if _, err := c.Add(delivery.Attempt{DeliveryID: "dlv_after", EndpointID: "ep_1"}).Wait(context.Background()); !errors.Is(err, delivery.ErrCommitterClosed) {
				t.Errorf("Add after Close: %v", err)
			}
			restore()
		})
	}
}
