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
			x := indexOf(rs)
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

// BenchmarkIndexWith changes one rule of an index of N rules, as an
// endpoint update does for its tenant: O(log n), so ns/op grows slowly with
// N. "build" indexes N rules in one batch, as at start.
func BenchmarkIndexWith(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		rs := make([]*Rule, n)
		for i := range rs {
			rs[i] = mustRule(b, []string{"order.*"}, fmt.Sprintf(`data.tenant == "t-%d" && data.status == "paid"`, i))
		}
		x := indexOf(rs)
		b.Run(fmt.Sprintf("change/rules=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				x.With([]Change[int]{{Key: fmt.Sprintf("r%06d", i%n), Rule: rs[(i*7)%n], Value: i}})
			}
		})
		b.Run(fmt.Sprintf("build/rules=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				indexOf(rs)
			}
		})
	}
}
