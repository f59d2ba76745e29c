package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr/builtin"
)

// dataOf builds event data as a router decodes it: JSON, at most
// topology.MaxEventSize (about 1 MiB) encoded.
func dataOf(t testing.TB, v map[string]any) any {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) > 1<<20 {
		t.Fatalf("test data of %d bytes is larger than an event can be", len(raw))
	}
	var d any
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func zeros(n int) []int { return make([]int, n) }

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// hostileData are expressions over event data that a tenant can write in a
// filter, an ordering key or a transform, each with the data (at most an
// event's size) that makes it explode without budgets: a 40 GB string, a
// gigabyte of repeats, 10^10 loop iterations, quadratic concatenation.
// Each must fail with ErrBudget, quickly and without allocating more than
// a few tens of megabytes.
func hostileData(t testing.TB) []struct {
	name, src string
	data      any
} {
	s300k := strings.Repeat("a", 300_000)
	s500k := strings.Repeat("a", 500_000)
	pattern := strings.Repeat("(a|b)", 1000)
	jsonArr := "[" + strings.Repeat("0,", 150_000) + "0]"
	return []struct {
		name, src string
		data      any
	}{
		{"replace with empty old", `len(replace(data.s, "", data.s)) > 0`, dataOf(t, map[string]any{"s": s300k})},
		{"repeat of data", `len(repeat(data.s, 2000)) > 0`, dataOf(t, map[string]any{"s": s500k})},
		{"nested loops over data", `all(data.a, {all(data.a, {# == 0})})`, dataOf(t, map[string]any{"a": zeros(100_000)})},
		{"join of mapped data", `len(join(map(data.a, data.s), "")) > 0`, dataOf(t, map[string]any{"a": zeros(20_000), "s": strings.Repeat("a", 5000)})},
		{"split into runes", `len(split(data.s, "")) > 0`, dataOf(t, map[string]any{"s": s500k})},
		{"toJSON in a loop", `all(data.a, {toJSON(data) != ""})`, dataOf(t, map[string]any{"a": zeros(1000), "s": s300k})},
		{"upper in a loop", `all(data.a, {upper(data.s) != ""})`, dataOf(t, map[string]any{"a": zeros(10_000), "s": s300k})},
		{"lower and trim in a loop", `all(data.a, {trim(lower(data.s)) != ""})`, dataOf(t, map[string]any{"a": zeros(10_000), "s": s300k})},
		{"concatenation in reduce", `len(reduce(data.a, #acc + data.s, "")) > 0`, dataOf(t, map[string]any{"a": zeros(10_000), "s": strings.Repeat("a", 50_000)})},
		{"concatenation doubling", `let a = data.s + data.s; let b = a + a; let c = b + b; let d = c + c; let e = d + d; let f = e + e; len(f + f) > 0`, dataOf(t, map[string]any{"s": s500k})},
		{"contains in a loop", `any(data.a, {data.s contains "zz"})`, dataOf(t, map[string]any{"a": zeros(100_000), "s": s500k})},
		{"equal strings in a loop", `all(data.a, {data.s == data.t})`, dataOf(t, map[string]any{"a": zeros(100_000), "s": strings.Repeat("a", 200_000), "t": strings.Repeat("a", 200_000)})},
		{"len of a string in a loop", `all(data.a, {len(data.s) > 0})`, dataOf(t, map[string]any{"a": zeros(100_000), "s": s500k})},
		{"map key in a loop", `all(data.a, {data[data.k] == nil})`, dataOf(t, map[string]any{"a": zeros(100_000), "k": s300k})},
		{"in over data in a loop", `all(data.a, {# in data.a})`, dataOf(t, map[string]any{"a": zeros(100_000)})},
		{"matches in a loop", `any(data.a, {data.s matches "a+b"})`, dataOf(t, map[string]any{"a": zeros(100_000), "s": s500k})},
		{"big pattern", `data.s matches data.p`, dataOf(t, map[string]any{"s": s300k, "p": pattern})},
		{"fromJSON of many elements", `len(fromJSON(data.j)) > 0`, dataOf(t, map[string]any{"j": jsonArr})},
		{"fromJSON in a loop", `all(data.a, {fromJSON(data.j) != nil})`, dataOf(t, map[string]any{"a": zeros(10_000), "j": `{"x":"` + s300k + `"}`})},
		{"uniq of distinct values", `len(uniq(data.a)) > 0`, dataOf(t, map[string]any{"a": seq(100_000)})},
		{"sort in a loop", `all(data.a, {len(sort(data.a)) > 0})`, dataOf(t, map[string]any{"a": seq(50_000)})},
		{"sortBy a long key", `len(sortBy(data.a, {data.s})) > 0`, dataOf(t, map[string]any{"a": zeros(50_000), "s": s300k})},
		{"string() in a loop", `all(data.a, {string(data) != ""})`, dataOf(t, map[string]any{"a": zeros(1000), "s": s300k})},
		{"toBase64 in a loop", `all(data.a, {toBase64(data.s) != ""})`, dataOf(t, map[string]any{"a": zeros(10_000), "s": s300k})},
		{"time zones in a loop", `all(data.a, {timezone("Europe/Paris") != nil})`, dataOf(t, map[string]any{"a": zeros(100_000)})},
		{"flatten and concat", `len(concat(data.a, data.a, data.a)) > 0`, dataOf(t, map[string]any{"a": zeros(100_000)})},
		{"keys of a big map in a loop", `all(data.a, {len(keys(data.m)) > 0})`, dataOf(t, map[string]any{"a": zeros(10_000), "m": bigMap(20_000)})},
		{"indexOf in a loop", `all(data.a, {indexOf(data.s, "b") < 0})`, dataOf(t, map[string]any{"a": zeros(100_000), "s": s500k})},
		{"groupBy a long key", `len(groupBy(data.a, data.s)) > 0`, dataOf(t, map[string]any{"a": zeros(100_000), "s": s500k})},
		{"comparison of big arrays in a loop", `all(data.a, {data.b == data.c})`, dataOf(t, map[string]any{"a": zeros(100_000), "b": zeros(100_000), "c": zeros(100_000)})},
	}
}

func bigMap(n int) map[string]any {
	m := make(map[string]any, n)
	for i := range n {
		m[fmt.Sprint("k", i)] = i
	}
	return m
}

// maxHostileRun and maxHostileAlloc bound how long a hostile expression
// runs and what it allocates before its budget stops it: at most about
// 50 ms here, with room for a loaded shared machine, and for the race
// detector's slowdown.
const maxHostileAlloc = 200 << 20

func maxHostileRun() time.Duration {
	if raceEnabled {
		return 10 * time.Second
	}
	return 500 * time.Millisecond
}

func TestHostileDataFailsWithinBudget(t *testing.T) {
	for _, c := range hostileData(t) {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			f, err := CompileFilter(c.src)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			var ev Evaluator
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			ok, err := ev.Match(f, &Env{Data: c.data})
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrBudget) {
				t.Errorf("matched %v with error %.300v; want ErrBudget", ok, err)
			}
			if took > maxHostileRun() {
				t.Errorf("took %s", took)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > maxHostileAlloc {
				t.Errorf("allocated %d MB", alloc>>20)
			}
			// The same evaluator runs an ordinary filter afterwards: the
			// budgets are per run.
			ord, _ := CompileFilter(`len(data) > 0`)
			if ok, err := ev.Match(ord, &Env{Data: c.data}); !ok || err != nil {
				t.Fatalf("ordinary filter after a hostile one: %v %v", ok, err)
			}
		})
	}
}

// The same expressions as an ordering key, a transform and a template fail
// the same way: they run under the same budgets.
func TestHostileDataInKeysTransformsAndTemplates(t *testing.T) {
	var ev Evaluator
	for _, c := range hostileData(t)[:3] {
		src := strings.TrimSuffix(strings.TrimSuffix(c.src, " > 0"), " == 0")
		env := &Env{Data: c.data}
		k, err := CompileKey(src)
		if err != nil {
			t.Fatalf("%s: key: %v", c.name, err)
		}
		if _, err := ev.Key(k, env); !errors.Is(err, ErrBudget) {
			t.Errorf("%s: key: %.300v, want ErrBudget", c.name, err)
		}
		tr, err := CompileTransform(`{"x": ` + src + `}`)
		if err != nil {
			t.Fatalf("%s: transform: %v", c.name, err)
		}
		if _, err := ev.Transform(tr, env); !errors.Is(err, ErrBudget) {
			t.Errorf("%s: transform: %.300v, want ErrBudget", c.name, err)
		}
		tpl, err := CompileTemplate("x {{ " + src + " }}")
		if err != nil {
			t.Fatalf("%s: template: %v", c.name, err)
		}
		if _, err := ev.Render(tpl, env); !errors.Is(err, ErrBudget) {
			t.Errorf("%s: template: %.300v, want ErrBudget", c.name, err)
		}
	}
}

// Ordinary expressions over the largest events still run, with the same
// results as before the budgets: a pass over the longest array an event
// can hold, the JSON of a 1 MiB event, string builtins on its fields.
func TestBudgetsLeaveOrdinaryExpressionsAlone(t *testing.T) {
	big := dataOf(t, map[string]any{"a": zeros(400_000), "s": strings.Repeat("ab,", 40_000), "name": "My Fn", "n": 3})
	for _, c := range []struct {
		src  string
		data any
		want any
	}{
		{`any(data.a, {# == 1})`, big, false},
		{`count(data.a, {# == 0})`, big, 400_000},
		{`len(split(data.s, ",")) > 1000`, big, true},
		{`len(toJSON(data)) > 1000000`, big, true},
		{`upper(data.name)`, big, "MY FN"},
		{`replace(data.name, "Fn", "Function")`, big, "My Function"},
		{`repeat("ab", data.n)`, big, "ababab"},
		{`join(["a", data.name], "-")`, big, "a-My Fn"},
		{`data.name + "!"`, big, "My Fn!"},
		{`data.n + 1`, big, 4.0},
		{`trim("  x  ")`, big, "x"},
		{`data.name matches "^My"`, big, true},
		{`data.name contains "Fn"`, big, true},
		{`data.s startsWith "ab"`, big, true},
		{`"ab" in split(data.s, ",")`, big, true},
		{`data["name"]`, big, "My Fn"},
		{`data[lower("NAME")]`, big, "My Fn"},
		{`sortBy(["b", "a"], {#})`, big, []any{"a", "b"}},
		{`groupBy([1, 2, 3], # % 2 == 0)[true]`, big, []any{2}},
		{`fromJSON("{\"a\":[1,2]}").a[1]`, big, 2.0},
		{`len(uniq([1, 1, 2]))`, big, 2},
		{`sort([3, 1, 2])`, big, []any{1, 2, 3}},
		{`max([1, 5, 3])`, big, 5},
		{`median([1, 5, 3])`, big, 3.0},
		{`keys({"a": 1})`, big, []any{"a"}},
		{`date("2024-01-02").Year()`, big, 2024},
		{`toBase64("hi")`, big, "aGk="},
		{`string(1)`, big, "1"},
		{`data.name == data.name`, big, true},
		{`len(data.s) == 120000`, big, true},
		{`reduce([1, 2, 3], #acc + #, 0)`, big, 6},
	} {
		k, err := CompileTransform(c.src)
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		var ev Evaluator
		got, err := ev.Transform(k, &Env{Data: c.data})
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s = %v (%T), want %v (%T)", c.src, got, got, c.want, c.want)
		}
	}
}

// Every expr builtin is either charged, cheap, a closure (charged per
// loop) or disabled: a newer expr's builtin nobody looked at cannot slip
// through unbounded.
func TestEveryBuiltinIsBoundedOrDisabled(t *testing.T) {
	disabled := map[string]bool{}
	for _, name := range disabledBuiltins {
		disabled[name] = true
	}
	for _, f := range builtin.Builtins {
		n := 0
		for _, set := range []map[string]bool{closures, charged, cheapBuiltins, disabled} {
			if set[f.Name] {
				n++
			}
		}
		if n != 1 {
			t.Errorf("builtin %s is in %d of closures, charged, cheap and disabled, want 1", f.Name, n)
		}
		if disabled[f.Name] {
			if _, err := CompileFilter(f.Name + `() == nil`); err == nil {
				t.Errorf("disabled builtin %s compiles", f.Name)
			}
		}
	}
	if want := []string{"now"}; fmt.Sprint(disabledBuiltins) != fmt.Sprint(want) {
		t.Errorf("disabled builtins %v, want %v (a builtin was added: charge it in budget.go)", disabledBuiltins, want)
	}
}

// A user cannot turn the budgets off by redefining $env: the run fails.
func TestShadowedEnvFailsClosed(t *testing.T) {
	f, err := CompileFilter(`let $env = 1; len(repeat("a", 10)) > 0`)
	if err != nil {
		return // refused at compile time: as good
	}
	var ev Evaluator
	if ok, err := ev.Match(f, &Env{}); ok || !errors.Is(err, ErrBudget) {
		t.Fatalf("shadowed $env: %v %v", ok, err)
	}
}

// BenchmarkExpressionShapes runs typical filters and a transform, to see
// what the budgets' charges cost: a comparison with a literal is not
// charged at all; a closure, a builtin or a comparison of two computed
// values pays one charge each time it runs.
//
//	go test -run '^$' -bench ExpressionShapes -benchmem ./rules/
func BenchmarkExpressionShapes(b *testing.B) {
	items := make([]any, 20)
	for i := range items {
		items[i] = map[string]any{"sku": fmt.Sprint("sku-", i), "qty": float64(i)}
	}
	env := &Env{Type: "order.paid", Data: map[string]any{"tenant": "t-1", "status": "paid", "total": 120.0,
		"name": "My Function", "items": items, "a": "x", "b": "x"}}
	for _, c := range []struct{ name, src string }{
		{"equality", `data.tenant == "t-1" && data.status == "paid" && data.total > 100`},
		{"closure", `any(data.items, {.sku == "sku-19"})`},
		{"builtin", `lower(data.name) startsWith "my"`},
		{"computed_comparison", `data.a == data.b`},
		{"toJSON", `len(toJSON(data.items)) > 0`},
	} {
		f, err := CompileFilter(c.src)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var ev Evaluator
			for b.Loop() {
				if ok, err := ev.Match(f, env); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
	}
}
