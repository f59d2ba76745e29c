package rules

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// hostileFilters are known expr denial-of-service shapes: each must be
// refused at compile time or fail at run time with an error (the memory
// budget), never run to completion. BenchmarkHostileFilters shows how
// fast they fail.
var hostileFilters = map[string]string{
	"huge range":                 `len(1..1000000000) > 0`,
	"nested all over ranges":     `all(1..100000, {all(1..100000, {# > 0})})`,
	"count over a huge range":    `count(1..1000000000, # > 0) > 0`,
	"repeat":                     `len(repeat("a", 1000000000)) > 0`,
	"map over a huge range":      `len(map(1..10000000, #)) > 0`,
	"toJSON of a huge range":     `len(toJSON(1..10000000)) > 0`,
	"big string join":            `len(join(map(1..200000, "aaaaaaaaaa"), "")) > 0`,
	"sort of a huge range":       `len(sort(1..10000000)) > 0`,
	"nested map over data range": `len(map(1..1000, {map(1..1000, {#})})) > 0`,
}

func TestHostileFiltersFailWithAnError(t *testing.T) {
	var ev Evaluator
	for name, src := range hostileFilters {
		f, err := CompileFilter(src)
		if errors.Is(err, ErrInvalidFilter) {
			continue // refused at compile time
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ok, err := ev.Match(f, &Env{})
		if ok || err == nil {
			t.Errorf("%s: matched %v with error %v; want the memory budget to stop it", name, ok, err)
		}
	}
	// An ordinary filter still runs after a budget failure on the same VM.
	f, _ := CompileFilter(`len(1..1000) == 1000 && data.a == 1`)
	if ok, err := ev.Match(f, env(t, "x", `{"a":1}`)); !ok || err != nil {
		t.Fatalf("ordinary filter after hostile ones: %v, %v", ok, err)
	}
}

// flatten over the deepest data a filter can see (event.MaxDepth levels;
// deeper events are routed with data null) completes.
func TestFlattenOfDeepDataCompletes(t *testing.T) {
	const depth = 63
	src := strings.Repeat("[", depth) + "1" + strings.Repeat("]", depth)
	var d any
	if err := json.Unmarshal([]byte(`{"x":`+src+`}`), &d); err != nil {
		t.Fatal(err)
	}
	f, err := CompileFilter(`len(flatten(data.x)) == 1`)
	if err != nil {
		t.Fatal(err)
	}
	var ev Evaluator
	if ok, err := ev.Match(f, &Env{Data: d}); !ok || err != nil {
		t.Fatalf("flatten of %d levels: %v, %v", depth, ok, err)
	}
}

// BenchmarkHostileFilters measures how long each hostile filter runs
// before the budget stops it (the bound is 100 ms).
//
//	go test -run '^$' -bench HostileFilters ./rules/
func BenchmarkHostileFilters(b *testing.B) {
	for name, src := range hostileFilters {
		f, err := CompileFilter(src)
		if err != nil {
			continue
		}
		b.Run(strings.ReplaceAll(name, " ", "_"), func(b *testing.B) {
			var ev Evaluator
			for b.Loop() {
				_, _ = ev.Match(f, &Env{})
			}
		})
	}
}
