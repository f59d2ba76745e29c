package endpoint_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/embedded"
	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/rules"
	"github.com/hookd/hookd/topology"
)

// endpointsBucket starts an embedded NATS server with hookd's topology and
// returns the endpoints bucket.
func endpointsBucket(t testing.TB) jetstream.KeyValue {
	t.Helper()
	ns, err := embedded.Start(embedded.Config{StoreDir: t.TempDir(), Logger: hookdtest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := ns.Connect()
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
	if err := topo.EnsureCore(context.Background()); err != nil {
		t.Fatal(err)
	}
	kv, err := topo.Endpoints(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// TestRegistryFollowsBucket changes endpoints through the Store in a real
// bucket (creates, updates of tenant, events, filter and disabled, deletes;
// some before the registry starts) while a Registry follows it, and after
// each round checks the registry's snapshot, once it shows the stored
// endpoints, against NewSnapshot over them: the same endpoints by id and by
// tenant, and the same endpoints routed for random events. Each round's
// snapshot is checked again at the end, unchanged by the later rounds.
func TestRegistryFollowsBucket(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kv := endpointsBucket(t)
	store := endpoint.NewStore(kv)
	rnd := rand.New(rand.NewPCG(15, 16))
	tenants := []string{"", "acme", "globex"}
	next := 0
	change := func(e *endpoint.Endpoint) {
		e.Tenant = tenants[rnd.IntN(len(tenants))]
		e.Events = [][]string{{"order.*"}, {"order.paid"}, nil}[rnd.IntN(3)]
		e.Filter = [...]string{"", `data.tenant == "t-%d"`, `data.n == %d`, `data.tenant == "t-%d" && data.status == "paid"`}[rnd.IntN(4)]
		if e.Filter != "" {
			e.Filter = fmt.Sprintf(e.Filter, rnd.IntN(4))
		}
		e.Disabled = rnd.IntN(4) == 0
	}
	var ids []string
	round := func(ops int) {
		for range ops {
			switch k := rnd.IntN(6); {
			case k < 3 || len(ids) == 0:
				e := &endpoint.Endpoint{ID: fmt.Sprintf("ep_%03d", next), URL: "https://example.com/", Secret: "whsec_x"}
				next++
				change(e)
				if _, err := store.Create(ctx, e); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, e.ID)
			case k < 5:
				id := ids[rnd.IntN(len(ids))]
				if _, err := store.Update(ctx, id, func(e *endpoint.Endpoint) error { change(e); return nil }); err != nil {
					t.Fatal(err)
				}
			default:
				i := rnd.IntN(len(ids))
				if err := store.Delete(ctx, ids[i]); err != nil {
					t.Fatal(err)
				}
				ids = slices.Delete(ids, i, i+1)
			}
		}
	}
	round(40)
	reg := endpoint.NewRegistry(kv, hookdtest.Logger())
	done := make(chan error, 1)
	go func() { done <- reg.Run(ctx) }()
	<-reg.Ready()

	type version struct {
		snap   *endpoint.Snapshot
		stored []*endpoint.Endpoint
	}
	var versions []version
	for r := range 8 {
		if r > 0 {
			round(30)
		}
		stored, err := store.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		hookdtest.WaitFor(t, 10*time.Second, "the registry to show the stored endpoints", func() bool {
			snap := reg.Snapshot()
			if snap.Len() != len(stored) {
				return false
			}
			for _, e := range stored {
				if c := snap.Get(e.ID); c == nil || !reflect.DeepEqual(c.Endpoint, e) {
					return false
				}
			}
			return true
		})
		versions = append(versions, version{reg.Snapshot(), stored})
	}
	routed := 0
	for i, v := range versions {
		list := make([]*endpoint.Compiled, len(v.stored))
		for j, e := range v.stored {
			list[j] = endpoint.Compile(e)
		}
		routed += sameRouting(t, fmt.Sprintf("round %d", i), v.snap, endpoint.NewSnapshot(list), tenants, rnd)
	}
	if routed < 100 {
		t.Errorf("a weak test: %d events routed somewhere", routed)
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Run returned %v, want context.Canceled", err)
	}
}

// sameRouting fails t unless got and want hold the same endpoints, by id
// and by tenant, and route random events to the same ones; it returns how
// many events were routed to some endpoint.
func sameRouting(t *testing.T, name string, got, want *endpoint.Snapshot, tenants []string, rnd *rand.Rand) int {
	t.Helper()
	idsOf := func(list []*endpoint.Compiled) []string {
		var out []string
		for _, c := range list {
			out = append(out, c.ID)
		}
		return out
	}
	if g, w := idsOf(got.All()), idsOf(want.All()); !slices.Equal(g, w) {
		t.Fatalf("%s: All %v, want %v", name, g, w)
	}
	for _, tn := range tenants {
		if g, w := idsOf(got.ForTenant(tn)), idsOf(want.ForTenant(tn)); !slices.Equal(g, w) {
			t.Fatalf("%s: ForTenant(%q) %v, want %v", name, tn, g, w)
		}
	}
	var ev rules.Evaluator
	routedTo := func(s *endpoint.Snapshot, env *rules.Env) []string {
		var out []string
		for _, c := range s.Candidates(env, nil) {
			if ok, _ := c.Rule.Match(&ev, env); ok {
				out = append(out, c.ID)
			}
		}
		return out
	}
	routed := 0
	for range 40 {
		n := rnd.IntN(4)
		env := &rules.Env{
			Type: []string{"order.paid", "order.new", "user.created"}[rnd.IntN(3)], Tenant: tenants[rnd.IntN(len(tenants))],
			Data: map[string]any{"tenant": fmt.Sprintf("t-%d", n), "n": float64(n), "status": []string{"paid", "new"}[rnd.IntN(2)]},
		}
		g, w := routedTo(got, env), routedTo(want, env)
		if !slices.Equal(g, w) {
			t.Fatalf("%s: %s %q %v routed to %v, want %v", name, env.Type, env.Tenant, env.Data, g, w)
		}
		if len(g) > 0 {
			routed++
		}
	}
	return routed
}
