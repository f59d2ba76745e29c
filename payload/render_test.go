package payload

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/rules"
)

// BenchmarkRender measures rendering one event in each format, with a
// fresh Renderer per event as routers make them: what a format adds to
// routing, per endpoint.
//
//	go test -run '^$' -bench Render -benchmem ./payload/
func BenchmarkRender(b *testing.B) {
	data := []byte(`{"title":"Execution finished","url":"https://app.example.com/x/736","name":"My Function","execution":{"status":"success","id":736}}`)
	e := &event.Event{ID: "evt_bench", Type: "execution.completed", Time: time.Unix(1764238272, 0), Data: data, Raw: data,
		Headers: map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}
	for _, spec := range []Spec{
		{Format: Standard}, {Format: Raw}, {Format: Envelope}, {Format: Slack},
		{Format: TransformFormat, Transform: `{"title": "Execution " + data.name, "status": data.execution.status}`},
		{Format: Standard, Headers: map[string]string{"X-Run": "{{ data.execution.id }}"}},
	} {
		name := spec.Format
		if len(spec.Headers) > 0 {
			name += "+template"
		}
		b.Run(name, func(b *testing.B) {
			c, err := Compile(spec)
			if err != nil {
				b.Fatal(err)
			}
			var ev rules.Evaluator
			env := NewEnv(e)
			b.ReportAllocs()
			for b.Loop() {
				rd := Renderer{Event: e, Env: env, Eval: &ev}
				if _, err := rd.Render(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A null span_id in the data leaves the derived one: it does not take
// trace_id's value.
func TestEnvelopeNullSpanID(t *testing.T) {
	data := []byte(`{"trace_id":"t-1","span_id":null}`)
	e := &event.Event{ID: "evt_1", Type: "a.b", Time: time.Unix(1, 0), Data: data, Raw: data}
	c, err := Compile(Spec{Format: Envelope})
	if err != nil {
		t.Fatal(err)
	}
	var ev rules.Evaluator
	rd := Renderer{Event: e, Env: NewEnv(e), Eval: &ev}
	out, err := rd.Render(c)
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		TraceID string `json:"trace_id"`
		SpanID  string `json:"span_id"`
	}
	if err := json.Unmarshal(out.Body, &env); err != nil {
		t.Fatal(err)
	}
	if env.TraceID != "t-1" || env.SpanID == "t-1" || env.SpanID == "" {
		t.Fatalf("trace_id %q span_id %q", env.TraceID, env.SpanID)
	}
}
