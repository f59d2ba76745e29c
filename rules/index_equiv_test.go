package rules

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestIndexEquivalence checks, on random rules and events, that the index
// never drops a match: the rules that match an event are exactly the
// candidates that match it. Candidates must come in ascending order.
func TestIndexEquivalence(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	patterns := [][]string{
		nil, {"order.*"}, {"order.paid"}, {"order.paid", "user.created"}, {">"}, {"*"}, {"hookd.>"},
		{"hookd.endpoint.disabled"}, {"user.*", "order.paid"}, {"order.>"}, {"order.paid", "order.paid"},
	}
	filters := []string{
		``,
		`data.tenant == "t-%d"`,
		`data.tenant == "t-%d" && data.status == "paid"`,
		`data.status == "paid" and data.tenant == "t-%d"`,
		`"t-%d" == data["tenant"] && (data.n == 1 || data.n == 2)`,
		`data.n == %d`,
		`data.n == %d.0`,
		`data.n == -%d`,
		`data.n == "%d"`,
		`data.flag == true && data.tenant == "t-%d"`,
		`data.flag == false`,
		`data.a == "x" || data.tenant == "t-%d"`,
		`!(data.tenant == "t-%d")`,
		`data.tenant != "t-%d"`,
		`data.tenant in ["t-1", "t-%d"]`,
		`data.customer.id == "c-%d"`,
		`data?.customer?.id == "c-%d"`,
		`tenant == "acme" && data.status == "paid"`,
		`type == "order.paid" && data.status == "refunded"`,
		`id == "e-%d"`,
		`data == "t-%d"`,
		`data.status == "paid" && data.n > %d`,
	}
	var rs []*Rule
	for range 400 {
		f := filters[rnd.IntN(len(filters))]
		if slices.Contains([]rune(f), '%') {
			f = fmt.Sprintf(f, rnd.IntN(6))
		}
		rs = append(rs, mustRule(t, patterns[rnd.IntN(len(patterns))], f))
	}
	x := indexOf(rs)

	types := []string{"order.paid", "order.refunded", "order.paid.late", "user.created", "hookd.endpoint.disabled", "hookd.x", "order", ""}
	var ev Evaluator
	var cands []int
	total, candidates, matches := 0, 0, 0
	for range 4000 {
		e := &Env{Type: types[rnd.IntN(len(types))], ID: fmt.Sprintf("e-%d", rnd.IntN(6)), Tenant: []string{"acme", "", "other"}[rnd.IntN(3)]}
		e.Data = randomData(t, rnd)
		var want, got []int
		for i, r := range rs {
			if ok, _ := r.Match(&ev, e); ok {
				want = append(want, i)
			}
		}
		cands = x.Candidates(e, cands)
		if !slices.IsSorted(cands) || len(slices.Compact(slices.Clone(cands))) != len(cands) {
			t.Fatalf("candidates not ascending: %v", cands)
		}
		for _, i := range cands {
			if ok, _ := rs[i].Match(&ev, e); ok {
				got = append(got, i)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("event %s %+v: candidates match %v, want %v", e.Type, e.Data, got, want)
		}
		total += len(rs)
		candidates += len(cands)
		matches += len(want)
	}
	t.Logf("%d rule evaluations, %d candidates, %d matches", total, candidates, matches)
	if matches == 0 || candidates > total/4 {
		t.Errorf("the test or the index is weak: %d matches, %d candidates of %d", matches, candidates, total)
	}
}

// randomData returns the JSON decoding of a random event body: mostly an
// object with some of tenant, status, n, flag and customer, of varied types.
func randomData(t *testing.T, rnd *rand.Rand) any {
	var v any
	switch rnd.IntN(12) {
	case 0:
		v = nil
	case 1:
		v = fmt.Sprintf("t-%d", rnd.IntN(6))
	case 2:
		v = []any{"t-1", 1}
	case 3:
		v = float64(rnd.IntN(6))
	default:
		m := map[string]any{}
		maybe := func(key string, vals ...any) {
			if rnd.IntN(5) > 0 {
				m[key] = vals[rnd.IntN(len(vals))]
			}
		}
		n := rnd.IntN(6)
		maybe("tenant", fmt.Sprintf("t-%d", n), n, nil, map[string]any{"id": "t-1"})
		maybe("status", "paid", "refunded", "new", true)
		maybe("n", n, -n, float64(n)+0.5, fmt.Sprint(n), nil)
		maybe("flag", true, false, "true", 0, 1)
		maybe("customer", map[string]any{"id": fmt.Sprintf("c-%d", n)}, map[string]any{}, fmt.Sprintf("c-%d", n), nil, []any{})
		maybe("a", "x", "y")
		v = m
	}
	// Through JSON, as the router decodes events: numbers become float64.
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestIndexIncremental builds an index by random batches of changes (new
// rules, rules replaced by others with other patterns or filters, deletes,
// nil rules, a key changed twice in one batch) and checks, on random
// events, that each version agrees with an index built in one batch over
// the same rules: the same rules in key order (Append), candidates in key
// order, and among them the same matches. Earlier versions are checked
// again at the end, unchanged by the later ones.
func TestIndexIncremental(t *testing.T) {
	rnd := rand.New(rand.NewPCG(9, 10))
	patterns := [][]string{nil, {"order.*"}, {"order.paid"}, {"order.paid", "user.created"}, {">"}, {"hookd.>"}}
	filters := []string{
		``, `data.tenant == "t-%d"`, `data.tenant == "t-%d" && data.status == "paid"`,
		`data.status == "paid" && data.tenant == "t-%d"`, `data.n == %d`, `data.n == "%d"`,
		`data.a == "x" || data.tenant == "t-%d"`, `data.customer.id == "c-%d"`, `tenant == "acme" && data.n == %d`,
		`data.flag == true && data.tenant == "t-%d"`,
	}
	randomRule := func() *Rule {
		if rnd.IntN(15) == 0 {
			return nil
		}
		f := filters[rnd.IntN(len(filters))]
		if strings.Contains(f, "%") {
			f = fmt.Sprintf(f, rnd.IntN(6))
		}
		return mustRule(t, patterns[rnd.IntN(len(patterns))], f)
	}
	type version struct {
		x     *Index[string]
		rules map[string]*Rule
	}
	var versions []version
	var x *Index[string]
	live := map[string]*Rule{}
	for range 150 {
		var changes []Change[string]
		for range 1 + rnd.IntN(12) {
			key := fmt.Sprintf("k%03d", rnd.IntN(120))
			if rnd.IntN(4) == 0 {
				changes = append(changes, Change[string]{Key: key, Delete: true})
				delete(live, key)
				continue
			}
			r := randomRule()
			changes = append(changes, Change[string]{Key: key, Rule: r, Value: key})
			live[key] = r
		}
		x = x.With(changes)
		versions = append(versions, version{x, maps.Clone(live)})
	}
	var ev Evaluator
	check := func(v version) {
		keys := slices.Sorted(maps.Keys(v.rules))
		if got := v.x.Append(nil); !slices.Equal(got, keys) || v.x.Len() != len(keys) {
			t.Fatalf("Append gave %v (Len %d), want %v", got, v.x.Len(), keys)
		}
		changes := make([]Change[string], 0, len(keys))
		for _, k := range keys {
			changes = append(changes, Change[string]{Key: k, Rule: v.rules[k], Value: k})
		}
		whole := (*Index[string])(nil).With(changes)
		for range 40 {
			e := &Env{Type: []string{"order.paid", "order.new", "user.created", "hookd.x", "other"}[rnd.IntN(5)], Tenant: "acme"}
			e.Data = randomData(t, rnd)
			got, want := v.x.Candidates(e, nil), whole.Candidates(e, nil)
			if !slices.IsSorted(got) {
				t.Fatalf("candidates not in key order: %v", got)
			}
			var all []string
			for _, k := range keys {
				if r := v.rules[k]; r == nil {
					all = append(all, k)
				} else if ok, _ := r.Match(&ev, e); ok {
					all = append(all, k)
				}
			}
			gm, wm := matchingOn(&ev, e, v.rules, got), matchingOn(&ev, e, v.rules, want)
			if !slices.Equal(gm, all) || !slices.Equal(wm, all) {
				t.Fatalf("event %s %v: incremental matches %v, whole %v, every rule %v", e.Type, e.Data, gm, wm, all)
			}
		}
	}
	for _, v := range versions {
		check(v)
	}
}

// matchingOn returns the keys among cands whose rule matches e, or is nil.
func matchingOn(ev *Evaluator, e *Env, rules map[string]*Rule, cands []string) []string {
	var out []string
	for _, k := range cands {
		if r := rules[k]; r == nil {
			out = append(out, k)
		} else if ok, _ := r.Match(ev, e); ok {
			out = append(out, k)
		}
	}
	return out
}
