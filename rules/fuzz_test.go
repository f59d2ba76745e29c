package rules

import (
	"encoding/json"
	"testing"
	"time"
)

// Any filter source either fails to compile with ErrInvalidFilter or runs
// against any event data without panicking, within a bounded time; the
// same holds for ordering keys and the rule index.
func FuzzCompileAndRun(f *testing.F) {
	for _, seed := range []struct{ src, data string }{
		{`data.execution.status in ["success", "error"] && data.name startsWith "My"`, `{"execution":{"status":"success"},"name":"My fn"}`},
		{`data.a.b == 1`, `{"a":null}`},
		{`len(data.items) > 2`, `{"items":[1,2,3]}`},
		{`data.tenant == "t-1" and type == "order.paid"`, `{"tenant":"t-1"}`},
		{`all(1..1000, {# > 0})`, `{}`},
		{`data["x"] ?? "none"`, `[]`},
		{`1/0 == 1`, `1`},
	} {
		f.Add(seed.src, []byte(seed.data))
	}
	f.Fuzz(func(t *testing.T, src string, raw []byte) {
		var data any
		if json.Unmarshal(raw, &data) != nil {
			data = nil
		}
		env := &Env{Type: "order.paid", ID: "evt_1", Subject: "events.order.paid", Time: time.Unix(0, 0), Data: data, Tenant: "t-1"}
		var ev Evaluator
		start := time.Now()
		if filter, err := CompileFilter(src); err == nil {
			_, _ = ev.Match(filter, env)
			idx := indexOf([]*Rule{{Filter: filter}})
			_ = idx.Candidates(env, nil)
		}
		if key, err := CompileKey(src); err == nil {
			_, _ = ev.Key(key, env)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("%q took %s on %q", src, d, raw)
		}
	})
}
