package rules

import "testing"

func TestPatternMatch(t *testing.T) {
	cases := []struct {
		pattern, typ string
		want         bool
	}{
		{"function.executed", "function.executed", true},
		{"function.executed", "function.executed.x", false},
		{"function.executed", "function", false},
		{"workflow.execution.*", "workflow.execution.fulfilled", true},
		{"workflow.execution.*", "workflow.execution", false},
		{"workflow.execution.*", "workflow.execution.a.b", false},
		{"workflow.>", "workflow.execution.fulfilled", true},
		{"workflow.>", "workflow.x", true},
		{"workflow.>", "workflow", false},
		{"*.executed", "function.executed", true},
		{"*.executed", "executed", false},
		{">", "anything.at.all", true},
		{">", "x", true},
		{"*", "x", true},
		{"*", "x.y", false},
		{"a.*.c", "a.b.c", true},
		{"a.*.c", "a.b.d", false},
	}
	for _, c := range cases {
		p, err := ParsePattern(c.pattern)
		if err != nil {
			t.Fatalf("ParsePattern(%q): %v", c.pattern, err)
		}
		if got := p.Match(c.typ); got != c.want {
			t.Errorf("%q.Match(%q) = %v, want %v", c.pattern, c.typ, got, c.want)
		}
	}
}

func TestParsePatternRejects(t *testing.T) {
	for _, src := range []string{"", "a..b", "a.>.b", "a.b*", "a b", ".a", "a."} {
		if _, err := ParsePattern(src); err == nil {
			t.Errorf("ParsePattern(%q) accepted an invalid pattern", src)
		}
	}
}

func TestEmptyPatternSetMatchesAll(t *testing.T) {
	var s PatternSet
	if !s.Match("any.type") {
		t.Fatal("empty set must match every type")
	}
	s, err := ParsePatterns([]string{"a.b", "c.>"})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Match("c.d.e") || !s.Match("a.b") || s.Match("a.c") {
		t.Fatal("set matching wrong")
	}
}

func TestOperationalEventsOnlyWhenNamed(t *testing.T) {
	var all PatternSet
	if all.Match("hookd.endpoint.disabled") {
		t.Fatal("an empty set took an operational event")
	}
	for _, src := range []string{">", "*.>", "*.endpoint.disabled"} {
		s, _ := ParsePatterns([]string{src})
		if s.Match("hookd.endpoint.disabled") {
			t.Errorf("%q took an operational event without naming hookd", src)
		}
	}
	for _, src := range []string{"hookd.>", "hookd.endpoint.*", "hookd.endpoint.disabled"} {
		s, _ := ParsePatterns([]string{src})
		if !s.Match("hookd.endpoint.disabled") {
			t.Errorf("%q did not take the operational event it names", src)
		}
	}
}
