package rules

import (
	"fmt"
	"testing"
)

// BenchmarkRules evaluates N rules, each `data.tenant == "t-i" && ...` on
// "order.*", for an event that matches one: every rule's filter (scan), or
// only the candidates of an Index (index). The index keeps the cost flat.
func BenchmarkRules(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		rs := make([]*Rule, n)
		for i := range rs {
			rs[i] = mustRule(b, []string{"order.*"}, fmt.Sprintf(`data.tenant == "t-%d" && data.status == "paid"`, i))
		}
		env := &Env{Type: "order.paid", Data: map[string]any{"tenant": fmt.Sprintf("t-%d", n/2), "status": "paid"}}
		b.Run(fmt.Sprintf("scan/rules=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var ev Evaluator
			for b.Loop() {
				matched := 0
				for _, r := range rs {
					if ok, _ := r.Match(&ev, env); ok {
						matched++
					}
				}
				if matched != 1 {
					b.Fatalf("%d matches, want 1", matched)
				}
			}
		})
		b.Run(fmt.Sprintf("index/rules=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var ev Evaluator
			x := NewIndex(rs)
			var cands []int
			for b.Loop() {
				matched := 0
				cands = x.Candidates(env, cands)
				for _, i := range cands {
					if ok, _ := rs[i].Match(&ev, env); ok {
						matched++
					}
				}
				if matched != 1 {
					b.Fatalf("%d matches, want 1", matched)
				}
			}
		})
	}
}

// BenchmarkNewIndex builds an index over N rules, as every endpoint change
// does for its tenant; the filters' analysis is cached after the first.
func BenchmarkNewIndex(b *testing.B) {
	rs := make([]*Rule, 10000)
	for i := range rs {
		rs[i] = mustRule(b, []string{"order.*"}, fmt.Sprintf(`data.tenant == "t-%d" && data.status == "paid"`, i))
	}
	b.ReportAllocs()
	for b.Loop() {
		NewIndex(rs)
	}
}
