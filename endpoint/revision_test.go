package endpoint_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/internal/natstest"
)

// WaitRevision returns once the snapshot has every change up to the
// revision, RouteFrom completes a creation Create began, and a creation
// finished by another writer meanwhile is a conflict.
func TestRegistryWaitRevisionAndCreation(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	js := natstest.Start(t)
	ctx := t.Context()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "eps"})
	if err != nil {
		t.Fatal(err)
	}
	reg := endpoint.NewRegistry(kv, log)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = reg.Run(runCtx) }()
	defer func() { stop(); <-done }()
	store := endpoint.NewStore(kv)

	e := &endpoint.Endpoint{ID: "ep_1", URL: "https://example.com", Secret: endpoint.NewSecret()}
	rev, err := store.Create(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.WaitRevision(ctx, rev); err != nil {
		t.Fatal(err)
	}
	c := reg.Snapshot().Get("ep_1")
	if c == nil || c.RoutedFromSeq != endpoint.RoutedFromPending || c.Routes(1) {
		t.Fatalf("after WaitRevision(%d): %+v, want ep_1 stored, routed from nothing yet", rev, c)
	}
	if err := store.RouteFrom(ctx, e, rev, 42); err != nil {
		t.Fatal(err)
	}
	if err := reg.WaitRevision(ctx, rev+1); err != nil {
		t.Fatal(err)
	}
	if c := reg.Snapshot().Get("ep_1"); c.RoutedFromSeq != 42 || c.Routes(41) || !c.Routes(42) || !c.CreatedAt.Equal(e.CreatedAt) {
		t.Fatalf("after RouteFrom: routed from %d, created %s; want 42, %s", c.RoutedFromSeq, c.CreatedAt, e.CreatedAt)
	}
	if err := store.RouteFrom(ctx, e, rev, 43); !errors.Is(err, endpoint.ErrConflict) {
		t.Fatalf("RouteFrom at a stale revision: %v, want ErrConflict", err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := reg.WaitRevision(short, rev+10); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting for a revision not written: %v, want the deadline", err)
	}
	if got := reg.AppliedRevision(); got != rev+1 {
		t.Fatalf("AppliedRevision %d, want %d", got, rev+1)
	}
}
