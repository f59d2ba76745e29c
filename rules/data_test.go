package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestUsesData(t *testing.T) {
	cases := []struct {
		src  string
		want bool
	}{
		{`data.status == "paid"`, true},
		{`data?.a?.b ?? false`, true},
		{`data == nil`, true},
		{`type == "order.paid" && data.n > 1`, true},
		{`all(data.items, .ok)`, true},
		{`let d = data; d.x == 1`, true},
		// Every field through $env, by a computed name too.
		{`$env.data.x == 1`, true},
		{`$env["da" + "ta"] != nil`, true},
		{`get($env, "data") != nil`, true},
		{`len(toJSON($env)) > 0`, true},
		// Nothing of the data.
		{`type == "order.paid"`, false},
		{`tenant == "acme" && id != "" && subject startsWith "events."`, false},
		{`headers["data"] == "x" && source == "data"`, false},
		{`"data" == type`, false},
		{`time.Year() > 2000`, false},
		{`all([1, 2], # > 0)`, false},
		{`let data2 = type; data2 == "x"`, false},
	}
	for _, c := range cases {
		f, err := CompileFilter(c.src)
		if err != nil {
			t.Fatalf("%s: %v", c.src, err)
		}
		if got := f.UsesData(); got != c.want {
			t.Errorf("filter %s: UsesData %v, want %v", c.src, got, c.want)
		}
		k, err := CompileKey(c.src)
		if err != nil {
			t.Fatalf("%s: %v", c.src, err)
		}
		if got := k.UsesData(); got != c.want {
			t.Errorf("key %s: UsesData %v, want %v", c.src, got, c.want)
		}
		tr, err := CompileTransform(c.src)
		if err != nil {
			t.Fatalf("%s: %v", c.src, err)
		}
		if got := tr.UsesData(); got != c.want {
			t.Errorf("transform %s: UsesData %v, want %v", c.src, got, c.want)
		}
		tpl, err := CompileTemplate("x-{{ " + c.src + " }}-{{ type }}")
		if err != nil {
			t.Fatalf("%s: %v", c.src, err)
		}
		if got := tpl.UsesData(); got != c.want {
			t.Errorf("template with %s: UsesData %v, want %v", c.src, got, c.want)
		}
	}
	if usesData(`(`) != true {
		t.Error("a source that does not parse must count as reading data")
	}
	var nilRule *Rule
	if nilRule.UsesData() || (&Rule{}).UsesData() {
		t.Error("a rule without a filter reads no data")
	}
}

// The Env's own methods are not names expressions can use: a filter
// cannot decode or replace the data itself.
func TestEnvMethodsAreNotExpressionNames(t *testing.T) {
	for _, src := range []string{`LoadData() != nil`, `DeferData(nil, nil) == nil`, `deferred`, `raw != nil`} {
		if _, err := CompileFilter(src); err == nil {
			t.Errorf("%s compiled", src)
		}
	}
}

const lazyBody = `{"status":"paid","amount":4299,"tenant":"t-1","customer":{"id":"c-1"},"items":[{"ok":true}]}`

func deferredEnv(typ, body string) *Env {
	env := &Env{Type: typ, Tenant: "acme", ID: "evt_1", Headers: map[string]string{"X-Source": "ci"}}
	env.DeferData([]byte(body), nil)
	return env
}

// An event whose data no expression reads is never decoded; one that
// reads it decodes it once, and sees what an Env decoded up front sees.
func TestDeferredDataDecodedOnlyWhenRead(t *testing.T) {
	var ev Evaluator
	env := deferredEnv("order.paid", lazyBody)
	noData := mustRule(t, []string{"order.*"}, `type == "order.paid" && headers["X-Source"] == "ci"`)
	if ok, err := noData.Match(&ev, env); !ok || err != nil {
		t.Fatalf("type filter: %v, %v", ok, err)
	}
	key, _ := CompileKey(`tenant + "/" + id`)
	if k, err := ev.Key(key, env); k != "acme/evt_1" || err != nil {
		t.Fatalf("key: %q, %v", k, err)
	}
	tr, _ := CompileTransform(`{"t": type}`)
	if _, err := ev.Transform(tr, env); err != nil {
		t.Fatal(err)
	}
	tpl, _ := CompileTemplate(`{{ type }}`)
	if _, err := ev.Render(tpl, env); err != nil {
		t.Fatal(err)
	}
	if !env.deferred || env.Data != nil {
		t.Fatal("data decoded by expressions that do not read it")
	}
	withData := mustRule(t, []string{"order.*"}, `data.status == "paid" && data.customer.id == "c-1"`)
	if ok, err := withData.Match(&ev, env); !ok || err != nil {
		t.Fatalf("data filter on deferred data: %v, %v", ok, err)
	}
	if env.deferred || env.raw != nil {
		t.Fatal("data not decoded for a filter that reads it")
	}
	decoded := env.Data
	if ok, _ := withData.Match(&ev, env); !ok || fmt.Sprintf("%p", env.Data) != fmt.Sprintf("%p", decoded) {
		t.Fatal("data decoded a second time")
	}
	for _, src := range []string{`data.status`, `$env.data.tenant`} {
		k, _ := CompileKey(src)
		env := deferredEnv("order.paid", lazyBody)
		if got, err := ev.Key(k, env); err != nil || got == "" {
			t.Errorf("key %s on deferred data: %q, %v", src, got, err)
		}
	}
}

// An Index decodes the data only for a candidate rule filed under a
// condition on it.
func TestIndexDecodesDataOnlyForDataConditions(t *testing.T) {
	x := (*Index[string])(nil).With([]Change[string]{
		{Key: "by-tenant", Rule: mustRule(t, []string{"order.paid"}, `tenant == "acme"`), Value: "by-tenant"},
		{Key: "by-type", Rule: mustRule(t, []string{"order.*"}, `type == "order.paid"`), Value: "by-type"},
		{Key: "no-filter", Rule: mustRule(t, []string{"order.paid"}, ``), Value: "no-filter"},
		{Key: "other-type", Rule: mustRule(t, []string{"invoice.paid"}, `data.tenant == "t-1"`), Value: "other-type"},
	})
	env := deferredEnv("order.paid", lazyBody)
	if got := x.Candidates(env, nil); strings.Join(got, ",") != "by-tenant,by-type,no-filter" {
		t.Fatalf("candidates %v", got)
	}
	if !env.deferred {
		t.Fatal("the index decoded data no candidate's condition reads")
	}
	x = x.With([]Change[string]{{Key: "by-data", Rule: mustRule(t, []string{"order.paid"}, `data.tenant == "t-1"`), Value: "by-data"}})
	if got := x.Candidates(env, nil); strings.Join(got, ",") != "by-data,by-tenant,by-type,no-filter" {
		t.Fatalf("candidates with a data condition %v", got)
	}
	if env.deferred {
		t.Fatal("data not decoded for a condition on it")
	}
}

type nullReports []error

func (r *nullReports) DataNull(_ *Env, err error) { *r = append(*r, err) }

// Deferred data reads as the data decoded up front does, null included
// (too deep, a number Go cannot hold), and says why it is null.
func TestDeferredDataAsDecodedUpFront(t *testing.T) {
	deep := strings.Repeat("[", 70) + strings.Repeat("]", 70)
	filters := []string{`data.status == "paid"`, `data == nil`, `(data?.amount ?? 0) > 100`, `data == "text"`, `len(data) == 2`}
	for _, c := range []struct {
		body string
		want error
	}{
		{lazyBody, nil},
		{`[1,2]`, nil},
		{`"text"`, nil},
		{`null`, nil},
		{deep, ErrDataTooDeep},
		{`{"n":1e999}`, ErrDataUndecodable},
	} {
		var upFront any
		if c.want == nil {
			if err := json.Unmarshal([]byte(c.body), &upFront); err != nil {
				t.Fatal(err)
			}
		}
		for _, src := range filters {
			f, err := CompileFilter(src)
			if err != nil {
				t.Fatal(err)
			}
			var ev Evaluator
			wantOK, wantErr := ev.Match(f, &Env{Type: "order.paid", Data: upFront})
			var reports nullReports
			env := &Env{Type: "order.paid"}
			env.DeferData([]byte(c.body), &reports)
			ok, err := ev.Match(f, env)
			if ok != wantOK || (err == nil) != (wantErr == nil) {
				t.Errorf("%s on %.20s: deferred %v, %v; up front %v, %v", src, c.body, ok, err, wantOK, wantErr)
			}
			switch {
			case c.want == nil && len(reports) != 0:
				t.Errorf("%.20s: reported %v", c.body, reports)
			case c.want != nil && (len(reports) != 1 || !errors.Is(reports[0], c.want)):
				t.Errorf("%.20s: reported %v, want %v once", c.body, reports, c.want)
			}
		}
	}
}
