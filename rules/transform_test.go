package rules

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestTransformBuildsValues(t *testing.T) {
	var ev Evaluator
	e := env(t, "execution.completed", `{"name":"train","url":"https://x.example/e/1","n":2}`)
	for src, want := range map[string]any{
		`{"title": "Execution " + data.name + " " + type, "url": data.url}`: map[string]any{"title": "Execution train execution.completed", "url": "https://x.example/e/1"},
		`[data.n, data.n * 2]`:      []any{2.0, 4.0},
		`"done: " + data.name`:      "done: train",
		`data.missing`:              nil,
		`headers["X-Source"]`:       "ci",
		`data.n > 1`:                true,
		`map([1, 2], {# * data.n})`: []any{2.0, 4.0},
	} {
		tr, err := CompileTransform(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		got, err := ev.Transform(tr, e)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, %v; want %#v", src, got, err, want)
		}
	}
}

func TestTransformRefusedLikeFilters(t *testing.T) {
	for _, src := range []string{
		`{"a": data.`, // syntax
		`now()`,       // disabled: a delivery must not depend on when it is rendered
		`unknown(1)`,  // not in the environment
		strings.Repeat("1+", MaxSourceLen/2) + "1", // too long
		strings.Repeat("1+", 600) + "1",            // too many nodes
	} {
		_, err := CompileTransform(src)
		if !errors.Is(err, ErrInvalidTransform) {
			t.Errorf("CompileTransform(%.30q) = %v, want ErrInvalidTransform", src, err)
		}
	}
	if tr, err := CompileTransform(""); tr != nil || err != nil {
		t.Errorf("empty transform = %v, %v; want nil, nil", tr, err)
	}
}

// A runtime error is returned, not hidden: the caller must not deliver a
// body the transform did not build.
func TestTransformRuntimeError(t *testing.T) {
	tr, err := CompileTransform(`data.name + 1`)
	if err != nil {
		t.Fatal(err)
	}
	var ev Evaluator
	if out, err := ev.Transform(tr, env(t, "a", `{"name":{"x":1}}`)); err == nil {
		t.Fatalf("got %#v, want a runtime error", out)
	}
}
