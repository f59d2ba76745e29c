package transient

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
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/embedded"
	"github.com/hookd/hookd/internal/natstest"
)

func TestTemporary(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"the observed failure: a key-value watch without quorum", fmt.Errorf("endpoints: watch: %w",
			&nats.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"}), true},
		{"no quorum, jetstream package", &jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"}, true},
		{"not the leader", &jetstream.APIError{Code: 500, ErrorCode: 10009}, true},
		{"incomplete results", &jetstream.APIError{Code: 503, ErrorCode: 10004}, true},
		{"asset moving", &nats.APIError{Code: 500, ErrorCode: 10007}, true},
		{"request timed out", fmt.Errorf("topology: stream X: %w", context.DeadlineExceeded), true},
		{"nats timeout", nats.ErrTimeout, true},
		{"no responders", nats.ErrNoResponders, true},
		{"publish: no stream response", jetstream.ErrNoStreamResponse, true},
		{"reconnecting", nats.ErrConnectionReconnecting, true},
		{"leadership change", jetstream.ErrConsumerLeadershipChanged, true},
		{"no heartbeat", jetstream.ErrNoHeartbeat, true},
		{"publish ack timeout", jetstream.ErrAsyncPublishTimeout, true},
		{"cancelled: the caller stops", context.Canceled, false},
		{"cancelled wrapping a deadline", errors.Join(context.Canceled, context.DeadlineExceeded), false},
		{"permission refused", nats.ErrPermissionViolation, false},
		{"bad credentials", nats.ErrAuthorization, false},
		{"expired credentials", nats.ErrAuthExpired, false},
		{"jetstream not enabled", jetstream.ErrJetStreamNotEnabled, false},
		{"jetstream not enabled for the account", jetstream.ErrJetStreamNotEnabledForAccount, false},
		{"stream missing", jetstream.ErrStreamNotFound, false},
		{"bucket missing", jetstream.ErrBucketNotFound, false},
		{"no peers for placement: offline", &jetstream.APIError{Code: 400, ErrorCode: 10005, Description: "no suitable peers for placement, peer offline"}, true},
		{"no peers for placement: storage", &jetstream.APIError{Code: 400, ErrorCode: 10005,
			Description: "no suitable peers for placement, peer offline, insufficient storage"}, false},
		{"no peers for placement: tags", &jetstream.APIError{Code: 400, ErrorCode: 10005,
			Description: "no suitable peers for placement, tags not matched ['az:1']"}, false},
		{"stream full", &jetstream.APIError{Code: 503, ErrorCode: 10077, Description: "maximum messages exceeded"}, false},
		{"stream offline (newer server's asset)", &jetstream.APIError{Code: 500, ErrorCode: 10118}, false},
		{"invalid configuration", errors.New("topology: replicas 7 out of range 1..5"), false},
	} {
		if got := Temporary(c.err); got != c.want {
			t.Errorf("%s: Temporary(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

// Each wait is within [d/2, d] of a doubling d capped at Max; Reset
// starts again from Min.
func TestBackoff(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000, 1000}
	for round := range 2 {
		for i, d := range want {
			d *= time.Millisecond
			if got := b.Next(); got < d/2 || got > d {
				t.Fatalf("round %d wait %d: %s, want within [%s, %s]", round, i, got, d/2, d)
			}
		}
		b.Reset()
	}
	var zero Backoff
	for range 20 {
		if got := zero.Next(); got < DefaultMin/2 || got > DefaultMax {
			t.Fatalf("zero Backoff waited %s, want within [%s, %s]", got, DefaultMin/2, DefaultMax)
		}
	}
}

// logBuffer is a logger whose records a test reads.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimSpace(l.buf.String()), "\n")
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// A failure that repeats is logged once, not once per attempt, then
// again after Every; its end is logged at INFO; Err says what fails
// while it does.
func TestReporterBoundsTheLog(t *testing.T) {
	var logs logBuffer
	r := Reporter{Log: logs.logger(), Msg: "endpoints not followed", Every: time.Hour}
	if r.Err() != nil {
		t.Fatal("Err before any failure")
	}
	r.Recovered() // nothing to recover from: not logged
	boom := errors.New("JetStream system temporarily unavailable")
	for range 100 {
		r.Failed(boom)
	}
	if !errors.Is(r.Err(), boom) || !strings.Contains(r.Err().Error(), "endpoints not followed") {
		t.Fatalf("Err() = %v", r.Err())
	}
	lines := logs.lines()
	if len(lines) != 1 || !strings.Contains(lines[0], "level=WARN") || !strings.Contains(lines[0], "endpoints not followed") {
		t.Fatalf("100 failures logged as %q, want one WARN", lines)
	}
	r.Recovered()
	lines = logs.lines()
	if len(lines) != 2 || !strings.Contains(lines[1], "level=INFO") || !strings.Contains(lines[1], "recovered: endpoints not followed") ||
		!strings.Contains(lines[1], "failures=100") {
		t.Fatalf("recovery logged as %q", lines)
	}
	if r.Err() != nil {
		t.Fatal("Err after recovery")
	}
	r.Failed(boom) // a new failure is logged again
	if lines = logs.lines(); len(lines) != 3 || !strings.Contains(lines[2], "level=WARN") {
		t.Fatalf("a second failure logged as %q", lines)
	}

	// Every elapsed: logged again, with the count.
	r2 := Reporter{Log: logs.logger(), Msg: "m2", Every: time.Nanosecond}
	r2.Failed(boom)
	r2.Failed(boom)
	lines = logs.lines()
	if last := lines[len(lines)-1]; !strings.Contains(last, "m2") || !strings.Contains(last, "failures=2") {
		t.Fatalf("repeat after Every logged as %q", last)
	}
}

// A failure expected to last a while is logged at INFO until it lasted
// Expected, then once at WARN at once, whatever Every says.
func TestReporterExpected(t *testing.T) {
	var logs logBuffer
	r := Reporter{Log: logs.logger(), Msg: "forming", Every: time.Hour, Expected: 50 * time.Millisecond}
	r.Failed(errors.New("no leader"))
	r.Failed(errors.New("no leader"))
	if lines := logs.lines(); len(lines) != 1 || !strings.Contains(lines[0], "level=INFO") {
		t.Fatalf("expected failures logged as %q, want one INFO", lines)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(logs.lines()) < 2 && time.Now().Before(deadline) {
		r.Failed(errors.New("no leader"))
		time.Sleep(5 * time.Millisecond) // a retry's backoff
	}
	lines := logs.lines()
	if len(lines) != 2 || !strings.Contains(lines[1], "level=WARN") {
		t.Fatalf("failure past Expected logged as %q, want INFO then WARN", lines)
	}
	for range 10 {
		r.Failed(errors.New("no leader"))
	}
	if n := len(logs.lines()); n != 2 {
		t.Fatalf("%d lines after more failures, want the 2 already logged", n)
	}
}

func TestLimit(t *testing.T) {
	l := Limit{Every: time.Hour}
	if ok, skipped := l.Allow(); !ok || skipped != 0 {
		t.Fatalf("first Allow = %v, %d", ok, skipped)
	}
	for range 5 {
		if ok, _ := l.Allow(); ok {
			t.Fatal("allowed twice within Every")
		}
	}
	l.Every = time.Nanosecond
	if ok, skipped := l.Allow(); !ok || skipped != 5 {
		t.Fatalf("Allow after Every = %v, %d; want true, 5", ok, skipped)
	}
}

// Retry goes on through temporary failures, returns other errors at once,
// and stops with ctx.
func TestRetry(t *testing.T) {
	var logs logBuffer
	rep := &Reporter{Log: logs.logger(), Msg: "m"}
	calls := 0
	err := Retry(t.Context(), rep, func(context.Context) error {
		calls++
		if calls < 3 {
			return &nats.APIError{ErrorCode: 10008}
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("Retry = %v after %d calls, want nil after 3", err, calls)
	}
	if rep.Err() != nil {
		t.Fatalf("Err after success: %v", rep.Err())
	}
	calls = 0
	err = Retry(t.Context(), rep, func(context.Context) error { calls++; return nats.ErrAuthorization })
	if !errors.Is(err, nats.ErrAuthorization) || calls != 1 {
		t.Fatalf("Retry = %v after %d calls, want the authorization error at once", err, calls)
	}
	ctx, cancel := context.WithCancel(t.Context())
	calls = 0
	err = Retry(ctx, rep, func(context.Context) error {
		if calls++; calls == 2 {
			cancel()
		}
		return nats.ErrTimeout
	})
	if !errors.Is(err, context.Canceled) || calls != 2 {
		t.Fatalf("Retry = %v after %d calls, want ctx's error once cancelled", err, calls)
	}
}

// Follow watches again after a temporary failure or a watch that closed,
// resets its backoff once following, and returns other errors.
func TestFollow(t *testing.T) {
	var logs logBuffer
	rep := &Reporter{Log: logs.logger(), Msg: "m"}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var results = []error{&nats.APIError{ErrorCode: 10008}, fmt.Errorf("x: %w", ErrWatchClosed), nil}
	calls := 0
	err := Follow(ctx, rep, func(ctx context.Context, following func()) error {
		calls++
		if calls == 3 {
			following()
			if rep.Err() != nil {
				t.Errorf("Err while following: %v", rep.Err())
			}
			cancel()
			<-ctx.Done()
			return nil
		}
		if rep.Err() == nil && calls > 1 {
			t.Errorf("no Err while the watch is down")
		}
		return results[calls-1]
	})
	if err != nil || calls != 3 {
		t.Fatalf("Follow = %v after %d watches, want nil after 3", err, calls)
	}
	calls = 0
	err = Follow(t.Context(), rep, func(context.Context, func()) error { calls++; return jetstream.ErrBucketNotFound })
	if !errors.Is(err, jetstream.ErrBucketNotFound) || calls != 1 {
		t.Fatalf("Follow = %v after %d watches, want the missing bucket at once", err, calls)
	}
}

// What a real three-node cluster answers once two of its nodes are down
// (no quorum) is Temporary: stream and bucket look-ups, key-value
// watches, writes, publishes and stream creation. (Key-value reads go on:
// any replica answers a direct get.) The failure that stopped a hookd
// process, "endpoints: watch: nats: JetStream system temporarily
// unavailable", is one of them.
func TestTemporaryOnAClusterWithoutQuorum(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test: -short")
	}
	c := natstest.StartCluster(t, 3, embedded.Config{})
	nc, err := c.Server(0).Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "b", Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	c.Stop(1)
	c.Stop(2)
	ops := map[string]func(context.Context) error{
		"stream info": func(ctx context.Context) error { _, err := js.Stream(ctx, "S"); return err },
		"bucket":      func(ctx context.Context) error { _, err := js.KeyValue(ctx, "b"); return err },
		"watch": func(ctx context.Context) error {
			w, err := kv.WatchAll(ctx)
			if err == nil {
				_ = w.Stop()
			}
			return err
		},
		"put":     func(ctx context.Context) error { _, err := kv.Put(ctx, "k", []byte("w")); return err },
		"publish": func(ctx context.Context) error { _, err := js.Publish(ctx, "s.x", nil); return err },
		"create stream": func(ctx context.Context) error {
			_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 3})
			return err
		},
	}
	// Look-ups may still be answered for a while (from what a node
	// knows); writes, watches and creations fail. Every error seen is
	// Temporary.
	mustFail := []string{"watch", "put", "publish", "create stream"}
	failed := map[string]int{}
	deadline := time.Now().Add(45 * time.Second)
	for slices.ContainsFunc(mustFail, func(op string) bool { return failed[op] == 0 }) {
		if time.Now().After(deadline) {
			t.Fatalf("after 45s without quorum, failures per operation: %v", failed)
		}
		for name, op := range ops {
			opCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
			err := op(opCtx)
			cancel()
			if err == nil {
				continue
			}
			if failed[name]++; failed[name] == 1 {
				t.Logf("%s without quorum: %v", name, err)
			}
			if !Temporary(err) {
				t.Errorf("%s without quorum: %v (%T) not Temporary", name, err, err)
			}
		}
	}
}
