package supervisor

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestFailureStopsAllAndIsReported(t *testing.T) {
	s := New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	drained := make(chan struct{})
	s.Add("steady", RunFunc(func(ctx context.Context) error {
		<-ctx.Done()
		close(drained)
		return nil
	}))
	boom := errors.New("boom")
	s.Add("broken", RunFunc(func(context.Context) error { return boom }))
	err := s.Run(context.Background())
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want boom", err)
	}
	select {
	case <-drained:
	default:
		t.Fatal("steady part was not stopped before Run returned")
	}
}

func TestCancelDrainsAll(t *testing.T) {
	s := New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	for range 3 {
		s.Add("part", RunFunc(func(ctx context.Context) error {
			<-ctx.Done()
			return nil
		}))
	}
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// With a stop timeout, Run returns at it even though a part ignores the
// stop, naming that part; the parts that stopped are not named.
func TestStopTimeoutBoundsRun(t *testing.T) {
	s := New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.SetStopTimeout(200 * time.Millisecond)
	release := make(chan struct{})
	defer close(release)
	s.Add("stuck", RunFunc(func(context.Context) error {
		<-release // ignores its context
		return nil
	}))
	s.Add("prompt", RunFunc(func(ctx context.Context) error {
		<-ctx.Done()
		return nil
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, ErrStopTimeout) || !strings.Contains(err.Error(), "stuck") || strings.Contains(err.Error(), "prompt") {
			t.Fatalf("err = %v, want ErrStopTimeout naming stuck only", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return at its stop timeout")
	}
}
