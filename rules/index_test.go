package rules

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// show prints a condition the way the tests spell it: data.a.b == "x".
func show(c cond) string {
	p := [...]string{"data", "tenant", "type", "id"}[c.path.root]
	for _, k := range c.path.keys {
		p += "." + k
	}
	lit := map[valueKind]string{kindString: strconv.Quote(c.lit.s), kindNumber: strconv.FormatFloat(c.lit.f, 'g', -1, 64), kindBool: strconv.FormatBool(c.lit.f == 1)}[c.lit.kind]
	return p + " == " + lit
}

func TestAnalyze(t *testing.T) {
	cases := []struct {
		src  string
		want []string // conditions found, in order; the first is picked alone
	}{
		{`data.tenant == "t-1" && data.status == "paid"`, []string{`data.tenant == "t-1"`, `data.status == "paid"`}},
		{`data.a == "x" and data.b == "y"`, []string{`data.a == "x"`, `data.b == "y"`}},
		{`((data.a == "x") && (data.b == 1 && (data.c == true)))`, []string{`data.a == "x"`, `data.b == 1`, `data.c == true`}},
		{`"x" == data.a`, []string{`data.a == "x"`}},
		{`data["tenant"] == "t"`, []string{`data.tenant == "t"`}},
		{`data.customer.id == "c"`, []string{`data.customer.id == "c"`}},
		{`data?.customer?.id == "c"`, []string{`data.customer.id == "c"`}},
		{`data.n == 42`, []string{`data.n == 42`}},
		{`data.n == 42.0`, []string{`data.n == 42`}},
		{`data.n == -1.5`, []string{`data.n == -1.5`}},
		{`data.ok == false`, []string{`data.ok == false`}},
		{`data == "x"`, []string{`data == "x"`}},
		{`tenant == "acme" && type == "order.paid" && id == "e1"`, []string{`tenant == "acme"`, `type == "order.paid"`, `id == "e1"`}},
		{`data.a == "x" && (data.b == "y" || data.c == "z")`, []string{`data.a == "x"`}},
		{`data.a startsWith "x" && data.b == "y"`, []string{`data.b == "y"`}},
		// Nothing the filter needs: no condition.
		{`data.a == "x" || data.b == "y"`, nil},
		{`!(data.a == "x")`, nil},
		{`not (data.a == "x" && data.b == "y")`, nil},
		{`data.a != "x"`, nil},
		{`data.a in ["x", "y"]`, nil},
		{`data.a not in ["x"]`, nil},
		{`data.a == nil`, nil},
		{`data.a == data.b`, nil},
		{`"x" == "x"`, nil},
		{`data.items[0] == "x"`, nil},
		{`data[data.k] == "x"`, nil},
		{`len(data.a) == 1`, nil},
		{`subject == "x" && headers.k == "v"`, nil},
		{`data.a == "x" ? true : false`, nil},
		{`data.a == "x" == true`, nil},
		{`let v = "x"; data.a == v`, nil},
		{`(data.a ?? "x") == "x"`, nil},
		{`data.n == -(1 + 1)`, nil},
	}
	for _, c := range cases {
		if _, err := CompileFilter(c.src); err != nil {
			t.Fatalf("%s: %v", c.src, err)
		}
		var got []string
		for _, cd := range analyze(c.src) {
			got = append(got, show(cd))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s:\n got %q\nwant %q", c.src, got, c.want)
		}
	}
}

// TestPick checks which condition a rule is filed under: the rarest, then a
// string over a number over a bool, then the first.
func TestPick(t *testing.T) {
	cases := []struct {
		srcs []string
		want string // for the first source
	}{
		{[]string{`data.a == "x" && data.b == "y"`}, `data.a == "x"`},
		{[]string{`data.ok == true && data.n == 1 && data.s == "s"`}, `data.s == "s"`},
		{[]string{`data.ok == true && data.n == 1`}, `data.n == 1`},
		{[]string{`data.status == "paid" && data.tenant == "t-1"`, `data.status == "paid" && data.tenant == "t-2"`}, `data.tenant == "t-1"`},
		{[]string{`data.tenant == "t-1" && data.status == "paid"`, `data.tenant == "t-1" && data.status == "new"`, `data.tenant == "t-1"`}, `data.status == "paid"`},
	}
	for _, c := range cases {
		// Counted as Index.count does: only rules with two conditions or more.
		freq := map[condKey]int{}
		for _, src := range c.srcs {
			if cs := analyze(src); len(cs) > 1 {
				for _, cd := range cs {
					freq[cd.key()]++
				}
			}
		}
		if got := show(*pick(analyze(c.srcs[0]), func(k condKey) int { return freq[k] })); got != c.want {
			t.Errorf("%q: picked %s, want %s", c.srcs, got, c.want)
		}
	}
	if pick(nil, nil) != nil {
		t.Error("no condition picked something")
	}
}

func mustRule(t testing.TB, patterns []string, filter string) *Rule {
	t.Helper()
	r, err := Compile(patterns, filter)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestIndexCandidates checks single rules against events whose value at the
// indexed path decides whether the rule is a candidate.
func TestIndexCandidates(t *testing.T) {
	order := []string{"order.*"}
	cases := []struct {
		patterns []string
		filter   string
		typ      string
		data     string // JSON
		want     bool
	}{
		{order, `data.tenant == "t-1" && data.status == "paid"`, "order.paid", `{"tenant":"t-1"}`, true},
		{order, `data.tenant == "t-1"`, "order.paid", `{"tenant":"t-2"}`, false},
		{order, `data.tenant == "t-1"`, "user.created", `{"tenant":"t-1"}`, false},
		{order, `data.tenant == "t-1"`, "order.paid", `{}`, false},                  // missing key: nil == "t-1"
		{order, `data.customer.id == "c"`, "order.paid", `{"other":1}`, false},      // missing object: an error
		{order, `data.customer.id == "c"`, "order.paid", `{"customer":"c"}`, false}, // a string has no keys
		{order, `data.customer.id == "c"`, "order.paid", `{"customer":{"id":"c"}}`, true},
		{order, `data.tenant == "t-1"`, "order.paid", `"t-1"`, false}, // non-map data
		{order, `data.tenant == "t-1"`, "order.paid", `["t-1"]`, false},
		{order, `data.tenant == "t-1"`, "order.paid", `null`, false},
		{order, `data == "t-1"`, "order.paid", `"t-1"`, true},
		{order, `data.n == 42`, "order.paid", `{"n":42}`, true}, // 42 == 42.0
		{order, `data.n == 42`, "order.paid", `{"n":42.0}`, true},
		{order, `data.n == 42.0`, "order.paid", `{"n":42}`, true},
		{order, `data.n == 42`, "order.paid", `{"n":"42"}`, false},
		{order, `data.n == "42"`, "order.paid", `{"n":42}`, false},
		{order, `data.n == -1`, "order.paid", `{"n":-1}`, true},
		{order, `data.ok == true`, "order.paid", `{"ok":true}`, true},
		{order, `data.ok == true`, "order.paid", `{"ok":1}`, false},
		{order, `data.ok == false`, "order.paid", `{"ok":false}`, true},
		{order, `data.a == "x" || data.b == "y"`, "order.paid", `{}`, true}, // fallback
		{order, `!(data.a == "x")`, "order.paid", `{}`, true},
		{order, `data.a != "x"`, "order.paid", `{"a":"x"}`, true},
		{nil, `data.a == "x"`, "order.paid", `{"a":"x"}`, true},
		{nil, `data.a == "x"`, "hookd.endpoint.disabled", `{"a":"x"}`, false}, // the empty set skips hookd's types
		{[]string{">"}, ``, "hookd.endpoint.disabled", `{}`, false},
		{[]string{"hookd.>"}, ``, "hookd.endpoint.disabled", `{}`, true},
		{[]string{"hookd.endpoint.disabled"}, ``, "hookd.endpoint.disabled", `{}`, true},
		{[]string{"order.paid", "order.paid"}, `data.a == "x"`, "order.paid", `{"a":"x"}`, true},
		{[]string{"order.paid"}, ``, "order.paid.now", `{}`, false},
		{[]string{"order.paid", "user.*"}, ``, "order.paid", `{}`, true},
		{order, `tenant == "acme"`, "order.paid", `{}`, true},
		{order, `tenant == "other"`, "order.paid", `{}`, false},
		{order, `type == "order.refunded"`, "order.paid", `{}`, false},
		{order, `id == "e1"`, "order.paid", `{}`, true},
	}
	for _, c := range cases {
		x := indexOf([]*Rule{mustRule(t, c.patterns, c.filter)})
		e := env(t, c.typ, c.data)
		e.Tenant, e.ID = "acme", "e1"
		if got := len(x.Candidates(e, nil)) == 1; got != c.want {
			t.Errorf("%v %s on %s %s: candidate %v, want %v", c.patterns, c.filter, c.typ, c.data, got, c.want)
		}
	}
}

func TestIndexUnknownValues(t *testing.T) {
	x := indexOf([]*Rule{
		mustRule(t, nil, `data.n == 42`), mustRule(t, nil, `data.n == 7`), mustRule(t, nil, `data.m.k == "v"`),
		mustRule(t, nil, `data.n == 43`),
	})
	cases := []struct {
		data any
		want []int
	}{
		{map[string]any{"n": 42}, []int{0}},                          // an int, as in hand-built data
		{map[string]any{"n": uint64(1) << 63}, []int{0, 1, 3}},       // unknown: every value of data.n
		{map[string]any{"m": map[string]string{"k": "v"}}, []int{2}}, // not decoded from JSON
		{map[string]string{"n": "42"}, []int{0, 1, 2, 3}},
	}
	for _, c := range cases {
		if got := x.Candidates(&Env{Type: "a", Data: c.data}, nil); !slices.Equal(got, c.want) {
			t.Errorf("%v: got %v, want %v", c.data, got, c.want)
		}
	}
}

// TestIndexNilRules checks that a nil rule is always a candidate, in order,
// and that a nil Index has none.
func TestIndexNilRules(t *testing.T) {
	x := indexOf([]*Rule{mustRule(t, []string{"a"}, `data.x == 1`), nil, mustRule(t, []string{"b"}, ``), nil})
	buf := make([]int, 3, 8)
	if got := x.Candidates(&Env{Type: "c"}, buf); !slices.Equal(got, []int{1, 3}) {
		t.Errorf("got %v, want [1 3]", got)
	}
	if got := x.Candidates(&Env{Type: "b"}, buf); !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("got %v, want [1 2 3]", got)
	}
	if got := (*Index[int])(nil).Candidates(&Env{Type: "b"}, buf); len(got) != 0 {
		t.Errorf("nil index: got %v", got)
	}
}

func TestIndexCandidatesAllocs(t *testing.T) {
	var rs []*Rule
	for i := range 1000 {
		rs = append(rs, mustRule(t, []string{"order.*"}, fmt.Sprintf(`data.tenant == "t-%d" && data.status == "paid"`, i)))
	}
	x := indexOf(rs)
	e := &Env{Type: "order.paid", Data: map[string]any{"tenant": "t-500", "status": "paid"}}
	buf := make([]int, 0, 8)
	if n := testing.AllocsPerRun(100, func() { buf = x.Candidates(e, buf) }); n != 0 {
		t.Errorf("%v allocations per event", n)
	}
	if !slices.Equal(buf, []int{500}) {
		t.Errorf("got %v, want [500]", buf)
	}
}

// TestFilterSlim checks that a compiled filter keeps its conditions and
// drops its syntax tree when its program allows (see slim), and that a
// filter whose program needs variables or functions is kept whole and still
// runs.
func TestFilterSlim(t *testing.T) {
	cases := []struct {
		src   string
		slim  bool
		data  any
		match bool
	}{
		{`data.tenant == "t-1"`, true, map[string]any{"tenant": "t-1"}, true},
		{`data.tenant == "t-1" && data.n > 2`, true, map[string]any{"tenant": "t-1", "n": 3.0}, true},
		{`let t = data.tenant; t == "t-1" || t == "t-2"`, false, map[string]any{"tenant": "t-2"}, true},
		{`all(data.items, {# > 1})`, false, map[string]any{"items": []any{2.0, 3.0}}, true},
		{`all(data.items, {# > 1})`, false, map[string]any{"items": []any{2.0, 1.0}}, false},
	}
	var ev Evaluator
	for _, c := range cases {
		f, err := CompileFilter(c.src)
		if err != nil {
			t.Fatalf("%s: %v", c.src, err)
		}
		if got := f.program.Node() == nil; got != c.slim {
			t.Errorf("%s: syntax tree dropped %v, want %v", c.src, got, c.slim)
		}
		if len(f.conds) != len(analyze(c.src)) {
			t.Errorf("%s: %d conditions kept, want %d", c.src, len(f.conds), len(analyze(c.src)))
		}
		if ok, err := ev.Match(f, &Env{Type: "a", Data: c.data}); ok != c.match || err != nil {
			t.Errorf("%s: match %v %v, want %v", c.src, ok, err, c.match)
		}
	}
	// A run-time error keeps its position in the source.
	f, _ := CompileFilter(`data.a.b == "x"`)
	if _, err := ev.Match(f, &Env{Data: map[string]any{}}); err == nil || !strings.Contains(err.Error(), "(1:8)") {
		t.Errorf("run-time error without its position: %v", err)
	}
}

// indexOf indexes rs in one batch, rule i under the key "r<i>" (zero
// padded, so that key order is position order) with the value i.
func indexOf(rs []*Rule) *Index[int] {
	changes := make([]Change[int], len(rs))
	for i, r := range rs {
		changes[i] = Change[int]{Key: fmt.Sprintf("r%06d", i), Rule: r, Value: i}
	}
	return (*Index[int])(nil).With(changes)
}
