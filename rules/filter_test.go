package rules

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func env(t *testing.T, typ, data string) *Env {
	t.Helper()
	var d any
	if err := json.Unmarshal([]byte(data), &d); err != nil {
		t.Fatal(err)
	}
	return &Env{Type: typ, Data: d, Headers: map[string]string{"X-Source": "ci"}}
}

func TestFilterMatches(t *testing.T) {
	const src = `data.execution.status in ["success", "error"] && data.name startsWith "My"`
	f, err := CompileFilter(src)
	if err != nil {
		t.Fatal(err)
	}
	var ev Evaluator
	cases := []struct {
		data string
		want bool
	}{
		{`{"name":"My Function","execution":{"status":"success"}}`, true},
		{`{"name":"My Function","execution":{"status":"error"}}`, true},
		{`{"name":"My Function","execution":{"status":"running"}}`, false},
		{`{"name":"Your Function","execution":{"status":"success"}}`, false},
	}
	for _, c := range cases {
		got, err := ev.Match(f, env(t, "function.executed", c.data))
		if err != nil {
			t.Fatalf("%s: %v", c.data, err)
		}
		if got != c.want {
			t.Errorf("%s: got %v, want %v", c.data, got, c.want)
		}
	}
}

func TestFilterSeesTypeAndHeaders(t *testing.T) {
	f, err := CompileFilter(`type == "a.b" && headers["X-Source"] == "ci"`)
	if err != nil {
		t.Fatal(err)
	}
	var ev Evaluator
	if ok, err := ev.Match(f, env(t, "a.b", `{}`)); !ok || err != nil {
		t.Fatalf("got %v, %v; want match", ok, err)
	}
	if ok, _ := ev.Match(f, env(t, "a.c", `{}`)); ok {
		t.Fatal("matched the wrong type")
	}
}

func TestFilterRuntimeErrorIsNoMatch(t *testing.T) {
	f, err := CompileFilter(`data.a.b.c == 1`)
	if err != nil {
		t.Fatal(err)
	}
	var ev Evaluator
	ok, err := ev.Match(f, env(t, "x", `{}`))
	if ok || err == nil {
		t.Fatalf("got %v, %v; want no match with an error", ok, err)
	}
}

func TestCompileFilterRejects(t *testing.T) {
	cases := map[string]string{
		"syntax":      `data.name ==`,
		"not boolean": `1 + 2`,
		"string":      `"yes"`,
		"too long":    strings.Repeat("a", MaxSourceLen+1),
		"too large":   strings.Repeat("1 + ", 600) + "1 == 2",
	}
	for name, src := range cases {
		_, err := CompileFilter(src)
		if !errors.Is(err, ErrInvalidFilter) {
			t.Errorf("%s: got %v, want ErrInvalidFilter", name, err)
		}
	}
	_, err := CompileFilter(`data.name ==`)
	if !strings.Contains(err.Error(), "(1:") {
		t.Errorf("error lacks line and column: %v", err)
	}
}

func TestEmptyFilterMatchesAll(t *testing.T) {
	f, err := CompileFilter("")
	if err != nil || f != nil {
		t.Fatalf("got %v, %v", f, err)
	}
	var ev Evaluator
	if ok, _ := ev.Match(nil, env(t, "x", `1`)); !ok {
		t.Fatal("nil filter must match")
	}
}

func BenchmarkFilter(b *testing.B) {
	f, err := CompileFilter(`data.execution.status in ["success", "error"] && data.name startsWith "My"`)
	if err != nil {
		b.Fatal(err)
	}
	var d any
	_ = json.Unmarshal([]byte(`{"name":"My Function","execution":{"status":"success"}}`), &d)
	e := &Env{Type: "function.executed", Data: d}
	var ev Evaluator
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := ev.Match(f, e); !ok {
			b.Fatal("no match")
		}
	}
}

// The README promises optional chaining for fields that may be absent.
func TestOptionalChainingOnMissingField(t *testing.T) {
	f, err := CompileFilter(`data.a?.b?.c == 1`)
	if err != nil {
		t.Fatal(err)
	}
	var ev Evaluator
	if ok, err := ev.Match(f, env(t, "x", `{}`)); ok || err != nil {
		t.Fatalf("missing field: got %v, %v; want no match and no error", ok, err)
	}
	if ok, err := ev.Match(f, env(t, "x", `{"a":{"b":{"c":1}}}`)); !ok || err != nil {
		t.Fatalf("present field: got %v, %v", ok, err)
	}
}

// Filters cannot depend on when they run: now() is not available.
func TestFilterRefusesNow(t *testing.T) {
	for _, src := range []string{`now().Year() > 2000`, `data.at < now()`} {
		if _, err := CompileFilter(src); !errors.Is(err, ErrInvalidFilter) {
			t.Errorf("%s: %v, want refused", src, err)
		}
	}
	if _, err := CompileKey(`string(now())`); !errors.Is(err, ErrInvalidKey) {
		t.Error("a key with now() compiled")
	}
}
