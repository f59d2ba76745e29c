package endpoint_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/embedded"
	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/internal/natstest"
	"github.com/hookd/hookd/topology"
)

// A registry started while its cluster has no quorum (two of three nodes
// down) does not fail ("endpoints: watch: nats: JetStream system
// temporarily unavailable" stopped a whole hookd process): it says why it
// does not follow the bucket, and once the nodes are back it loads the
// endpoints stored before and follows the changes made after.
func TestRegistryWaitsOutLostQuorum(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test: -short")
	}
	c := natstest.StartCluster(t, 3, embedded.Config{Logger: hookdtest.Logger()})
	nc, err := c.Server(0).Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	topo, err := topology.New(js, topology.Config{Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := topo.EnsureCore(ctx); err != nil {
		t.Fatal(err)
	}
	kv, err := topo.Endpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	store := endpoint.NewStore(kv)
	if _, err := store.Create(ctx, &endpoint.Endpoint{ID: "ep_before", URL: "https://example.com/", Secret: "whsec_x"}); err != nil {
		t.Fatal(err)
	}

	c.Stop(1)
	c.Stop(2)
	hookdtest.WaitFor(t, 60*time.Second, "a watch refused without quorum", func() bool {
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		w, err := kv.WatchAll(wctx)
		if err == nil {
			_ = w.Stop()
		}
		return err != nil
	})
	reg := endpoint.NewRegistry(kv, hookdtest.Logger())
	done := make(chan error, 1)
	go func() { done <- reg.Run(ctx) }()
	hookdtest.WaitFor(t, 30*time.Second, "WatchErr saying why", func() bool { return reg.WatchErr() != nil })
	t.Logf("without quorum: %v", reg.WatchErr())
	hookdtest.Never(t, 12*time.Second, "the registry gave up without quorum", func() bool { return len(done) > 0 })

	c.Restart(1)
	c.Restart(2)
	c.WaitFormed(60 * time.Second)
	hookdtest.WaitFor(t, 60*time.Second, "endpoints loaded once quorum is back", func() bool {
		select {
		case <-reg.Ready():
			return reg.Snapshot().Get("ep_before") != nil && reg.WatchErr() == nil
		default:
			return false
		}
	})
	if _, err := store.Create(ctx, &endpoint.Endpoint{ID: "ep_after", URL: "https://example.com/", Secret: "whsec_x"}); err != nil {
		t.Fatal(err)
	}
	hookdtest.WaitFor(t, 30*time.Second, "an endpoint created after followed", func() bool { return reg.Snapshot().Get("ep_after") != nil })
	cancel()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
