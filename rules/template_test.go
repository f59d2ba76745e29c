package rules

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTemplateRenders(t *testing.T) {
	var ev Evaluator
	e := env(t, "order.paid", `{"tenant_token":"tok_123","n":42,"ok":true,"tags":["a","b"],"amount":1.5}`)
	e.ID = "evt_1"
	for src, want := range map[string]string{
		`Bearer {{ data.tenant_token }}`:           "Bearer tok_123",
		`{{data.n}}/{{ data.amount }}/{{data.ok}}`: "42/1.5/true",
		`{{ id }}-{{ type }}`:                      "evt_1-order.paid",
		`x{{ data.missing }}y`:                     "xy",
		`{{ data.tags }}`:                          `["a","b"]`,
		`{{ "{{" }} literal`:                       "{{ literal",
		`{{ upper(data.tenant_token) }}`:           "TOK_123",
	} {
		tpl, err := CompileTemplate(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		got, err := ev.Render(tpl, e)
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", src, got, err, want)
		}
	}
}

func TestTemplateStaticIsNil(t *testing.T) {
	for _, src := range []string{"", "Bearer abc", "a } b { c"} {
		if tpl, err := CompileTemplate(src); tpl != nil || err != nil || IsTemplate(src) {
			t.Errorf("%q: %v, %v: a value without {{ is static", src, tpl, err)
		}
	}
}

func TestTemplateRefused(t *testing.T) {
	for _, src := range []string{
		`Bearer {{ data.token`, // not closed
		`{{ }}`,                // empty
		`{{ data. }}`,          // syntax
		`{{ now() }}`,          // disabled
		`{{ nope(1) }}`,        // unknown
		"{{ 1 }}" + strings.Repeat("x", MaxSourceLen),
	} {
		if _, err := CompileTemplate(src); !errors.Is(err, ErrInvalidTemplate) {
			t.Errorf("CompileTemplate(%.30q) = %v, want ErrInvalidTemplate", src, err)
		}
	}
}

func TestTemplateRuntimeError(t *testing.T) {
	tpl, err := CompileTemplate(`Bearer {{ data.a.b }}`)
	if err != nil {
		t.Fatal(err)
	}
	var ev Evaluator
	if got, err := ev.Render(tpl, env(t, "x", `{}`)); err == nil || got != "" {
		t.Fatalf("got %q, %v; want a runtime error and nothing rendered", got, err)
	}
}

func TestText(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	for _, c := range []struct {
		v    any
		want string
	}{
		{nil, ""}, {"s", "s"}, {42.0, "42"}, {1e21, "1000000000000000000000"}, {7, "7"}, {false, "false"},
		{at, "2026-01-02T02:04:05Z"}, {map[string]any{"a": 1}, `{"a":1}`},
	} {
		if got := Text(c.v); got != c.want {
			t.Errorf("Text(%#v) = %q, want %q", c.v, got, c.want)
		}
	}
}
