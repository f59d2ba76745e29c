package apikey

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/embedded"
	"github.com/hookd/hookd/topology"
)

func newStore(t *testing.T) (*Store, context.CancelFunc) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ns, err := embedded.Start(embedded.Config{StoreDir: t.TempDir(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := ns.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	topo, _ := topology.New(js, topology.Config{})
	ctx := context.Background()
	if err := topo.EnsureCore(ctx); err != nil {
		t.Fatal(err)
	}
	kv, err := topo.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := NewStore(kv, log)
	runCtx, cancel := context.WithCancel(ctx)
	go func() { _ = s.Run(runCtx) }()
	t.Cleanup(cancel)
	return s, cancel
}

func TestExpiredKeysAreRefusedAndPurged(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	past := time.Now().Add(-time.Second)
	future := time.Now().Add(time.Hour)
	old, oldToken, err := s.CreateKey(ctx, Key{Name: "old", Scope: ScopeTenant, Tenant: "acme", ExpiresAt: &past, Portal: true})
	if err != nil {
		t.Fatal(err)
	}
	_, liveToken, err := s.CreateKey(ctx, Key{Name: "live", Scope: ScopeTenant, Tenant: "acme", ExpiresAt: &future, Portal: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Authenticate(ctx, oldToken); ok {
		t.Fatal("an expired key was accepted")
	}
	if k, ok := s.Authenticate(ctx, liveToken); !ok || k.Tenant != "acme" || !k.Portal {
		t.Fatalf("live key: %+v %v", k, ok)
	}
	s.purgeExpired(ctx)
	keys, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.ID == old.ID {
			t.Fatal("expired key not purged")
		}
	}
	if len(keys) != 1 {
		t.Fatalf("%d keys left, want the live one", len(keys))
	}
}

// A start that died after the bootstrap marker but before the key must
// not leave hookd without any key.
func TestBootstrapRecoversFromAMarkerWithoutKey(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	if _, err := s.kv.Create(ctx, bootstrapMarker, []byte("crashed")); err != nil {
		t.Fatal(err)
	}
	token, err := s.Bootstrap(ctx)
	if err != nil || token == "" {
		t.Fatalf("bootstrap after a crash: %q, %v", token, err)
	}
	again, err := s.Bootstrap(ctx)
	if err != nil || again != "" {
		t.Fatalf("second bootstrap created %q, %v", again, err)
	}
}

// Revoking a made-up id of any length says "not found" without asking the
// server: DELETE /v1/keys/<5,000 characters> used to close the connection
// every part of hookd shares.
func TestRevokeInvalidIDNeverReachesTheServer(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	for _, id := range []string{strings.Repeat("a", 5000), "key_*", "a b", ""} {
		if err := s.Revoke(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Revoke(%.20q...): %v, want ErrNotFound", id, err)
		}
	}
	k, _, err := s.Create(ctx, "x", ScopeAdmin)
	if err != nil {
		t.Fatalf("store unusable after the refusals: %v", err)
	}
	if err := s.Revoke(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
}
