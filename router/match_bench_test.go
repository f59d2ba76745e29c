package router

import (
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/metrics"
	"github.com/hookd/hookd/rules"
)

func compiled(t testing.TB, id, tenantID, filter string) *endpoint.Compiled {
	rule, err := rules.Compile([]string{"order.*"}, filter)
	if err != nil {
		t.Fatal(err)
	}
	return &endpoint.Compiled{Endpoint: &endpoint.Endpoint{ID: id, Tenant: tenantID}, Rule: rule}
}

// quietRouter logs nothing; its metrics are real, so the benchmarks
// measure their cost.
func quietRouter() *Router {
	return &Router{log: slog.New(slog.NewTextHandler(io.Discard, nil)), m: metrics.New(metrics.Options{}).Routing}
}

// BenchmarkMatchTenants routes an event addressed to one of N tenants, each
// with one endpoint: a lookup, so ns/op stays flat as N grows.
// BenchmarkMatchFilterPerTenant is the baseline without tenants: N
// endpoints in one tenant, each filtering on `tenant == "t-i"`, which every
// event must evaluate.
func BenchmarkMatchTenants(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		var list []*endpoint.Compiled
		for i := range n {
			list = append(list, compiled(b, fmt.Sprintf("ep_%06d", i), fmt.Sprintf("t-%d", i), `data.status == "paid"`))
		}
		snap := endpoint.NewSnapshot(list)
		env := &rules.Env{Type: "order.paid", Tenant: fmt.Sprintf("t-%d", n/2), Data: map[string]any{"status": "paid"}}
		b.Run(fmt.Sprintf("tenants=%d", n), func(b *testing.B) {
			r, ev := quietRouter(), &rules.Evaluator{}
			for b.Loop() {
				if len(matched(r.match(snap, env, ev, false, 1))) != 1 {
					b.Fatal("want one match")
				}
			}
		})
	}
}

func BenchmarkMatchFilterPerTenant(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		var list []*endpoint.Compiled
		for i := range n {
			list = append(list, compiled(b, fmt.Sprintf("ep_%06d", i), "", fmt.Sprintf(`data.tenant == "t-%d" && data.status == "paid"`, i)))
		}
		snap := endpoint.NewSnapshot(list)
		env := &rules.Env{Type: "order.paid", Data: map[string]any{"status": "paid", "tenant": fmt.Sprintf("t-%d", n/2)}}
		b.Run(fmt.Sprintf("endpoints=%d", n), func(b *testing.B) {
			r, ev := quietRouter(), &rules.Evaluator{}
			for b.Loop() {
				if len(matched(r.match(snap, env, ev, false, 1))) != 1 {
					b.Fatal("want one match")
				}
			}
		})
	}
}

func TestMatchOnlyAddressedTenant(t *testing.T) {
	snap := endpoint.NewSnapshot([]*endpoint.Compiled{
		compiled(t, "ep_a", "acme", ""), compiled(t, "ep_b", "globex", ""), compiled(t, "ep_d", "", ""),
	})
	r, ev := quietRouter(), &rules.Evaluator{}
	for tenantID, want := range map[string]string{"acme": "ep_a", "globex": "ep_b", "default": "ep_d", "": "ep_d"} {
		got := matched(r.match(snap, &rules.Env{Type: "order.paid", Tenant: tenantID}, ev, false, 1))
		if len(got) != 1 || got[0].ep.ID != want {
			t.Errorf("tenant %q: got %v, want %s", tenantID, got, want)
		}
	}
	if got := matched(r.match(snap, &rules.Env{Type: "order.paid", Tenant: "nobody"}, ev, false, 1)); len(got) != 0 {
		t.Errorf("unknown tenant matched %v", got)
	}
}

// BenchmarkMatchManyEndpoints routes an event of one tenant that has N
// endpoints, each `events: ["order.*"]` with the filter `data.tenant ==
// "t-i" && data.status == "paid"`, and one of them matches. The snapshot's
// index hands only that one to the router, so ns/op stays flat as N grows;
// "scan" is the same match over every endpoint, as without the index.
func BenchmarkMatchManyEndpoints(b *testing.B) {
	for _, n := range []int{10, 10000} {
		var list []*endpoint.Compiled
		for i := range n {
			list = append(list, compiled(b, fmt.Sprintf("ep_%06d", i), "acme", fmt.Sprintf(`data.tenant == "t-%d" && data.status == "paid"`, i)))
		}
		snap := endpoint.NewSnapshot(list)
		env := &rules.Env{Type: "order.paid", Tenant: "acme", Data: map[string]any{"tenant": fmt.Sprintf("t-%d", n/2), "status": "paid"}}
		b.Run(fmt.Sprintf("index/endpoints=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			r, ev := quietRouter(), &rules.Evaluator{}
			for b.Loop() {
				if got := matched(r.match(snap, env, ev, false, 1)); len(got) != 1 || got[0].ep.ID != list[n/2].ID {
					b.Fatalf("got %v, want %s", got, list[n/2].ID)
				}
			}
		})
		b.Run(fmt.Sprintf("scan/endpoints=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			ev := &rules.Evaluator{}
			for b.Loop() {
				var got []*endpoint.Compiled
				for _, ep := range snap.ForTenant(env.Tenant) {
					if ok, _ := ep.Rule.Match(ev, env); ok {
						got = append(got, ep)
					}
				}
				if len(got) != 1 {
					b.Fatalf("%d matches, want 1", len(got))
				}
			}
		})
	}
}

// matched is match's targets.
func matched(targets []target, _ *endpoint.Compiled) []target { return targets }

// BenchmarkMatchOwnFilter routes one event among 100,000 endpoints of one
// tenant made as hookd bench makes them: events "bench.*", each with its
// own filter `data.tenant == "t-<i>"`. "scan" evaluates every filter, as
// routing did without the index; "index" is the router's match, which
// reads data.tenant once and evaluates the one filter filed under its
// value. index reports its speed-up over scan in the same run.
func BenchmarkMatchOwnFilter(b *testing.B) {
	const n = 100000
	list := make([]*endpoint.Compiled, n)
	for i := range list {
		rule, err := rules.Compile([]string{"bench.*"}, fmt.Sprintf(`data.tenant == "t-%d"`, i))
		if err != nil {
			b.Fatal(err)
		}
		list[i] = &endpoint.Compiled{Endpoint: &endpoint.Endpoint{ID: fmt.Sprintf("ep_%06d", i)}, Rule: rule}
	}
	snap := endpoint.NewSnapshot(list)
	env := &rules.Env{Type: "bench.event", Data: map[string]any{"tenant": fmt.Sprintf("t-%d", n/3), "seq": 1.0}}
	want := list[n/3].ID
	var scan float64
	b.Run(fmt.Sprintf("scan/endpoints=%d", n), func(b *testing.B) {
		ev := &rules.Evaluator{}
		for b.Loop() {
			var got []*endpoint.Compiled
			for _, ep := range snap.ForTenant("") {
				if ok, _ := ep.Rule.Match(ev, env); ok {
					got = append(got, ep)
				}
			}
			if len(got) != 1 || got[0].ID != want {
				b.Fatalf("got %d matches, want %s", len(got), want)
			}
		}
		scan = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	b.Run(fmt.Sprintf("index/endpoints=%d", n), func(b *testing.B) {
		b.ReportAllocs()
		r, ev := quietRouter(), &rules.Evaluator{}
		for b.Loop() {
			if got := matched(r.match(snap, env, ev, false, 1)); len(got) != 1 || got[0].ep.ID != want {
				b.Fatalf("got %v, want %s", got, want)
			}
		}
		if scan > 0 {
			b.ReportMetric(scan/(float64(b.Elapsed().Nanoseconds())/float64(b.N)), "x-faster-than-scan")
		}
	})
}
