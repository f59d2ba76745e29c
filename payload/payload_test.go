package payload

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/rules"
)

func render(t *testing.T, spec Spec, e *event.Event) (Rendered, error) {
	t.Helper()
	c, err := Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	r := Renderer{Event: e, Env: NewEnv(e), Eval: &rules.Evaluator{}}
	return r.Render(c)
}

func TestCompileRefusals(t *testing.T) {
	for _, c := range []struct {
		spec  Spec
		field string
	}{
		{Spec{Format: "xml"}, "format"},
		{Spec{Format: TransformFormat}, "transform"},
		{Spec{Format: Slack, Transform: `data`}, "transform"},
		{Spec{Format: TransformFormat, Transform: `{"a": data.`}, "transform"},
		{Spec{Format: TransformFormat, Transform: `now()`}, "transform"},
		{Spec{Headers: map[string]string{"Authorization": "Bearer {{ data.token"}}, "headers.Authorization"},
	} {
		_, err := Compile(c.spec)
		var pe *Error
		if !errors.As(err, &pe) || pe.Field != c.field {
			t.Errorf("Compile(%+v) = %v, want an error on %s", c.spec, err, c.field)
		}
	}
	for _, f := range append(Formats(), "") {
		spec := Spec{Format: f}
		if f == TransformFormat {
			spec.Transform = "data"
		}
		if c, err := Compile(spec); err != nil || (f != "" && c.Format() != f) {
			t.Errorf("Compile(%q) = %v, %v", f, c, err)
		}
	}
}

// Formats that depend on the event only are rendered once per event, and
// the body is shared by every endpoint: routing cost does not grow with
// endpoints.
func TestSharedFormatsRenderOnce(t *testing.T) {
	e := goldenEvent()
	r := Renderer{Event: e, Env: NewEnv(e), Eval: &rules.Evaluator{}}
	a, _ := Compile(Spec{Format: Slack})
	b, _ := Compile(Spec{Format: Slack, Headers: map[string]string{"X-Tenant": "{{ data.status }}"}})
	x, err1 := r.Render(a)
	y, err2 := r.Render(b)
	if err1 != nil || err2 != nil || &x.Body[0] != &y.Body[0] {
		t.Fatalf("slack body rendered twice (%v, %v)", err1, err2)
	}
	if x.Headers != nil || y.Headers["X-Tenant"] != "complete" {
		t.Fatalf("headers %v / %v", x.Headers, y.Headers)
	}
}

func TestRawContentType(t *testing.T) {
	for _, c := range []struct {
		raw     []byte
		headers map[string]string
		want    string
	}{
		{[]byte(`{"a":1}`), nil, JSON},
		{[]byte("a,b\n"), nil, OctetStream},
		{[]byte("a,b\n"), map[string]string{"content-type": "text/csv"}, "text/csv"},
		{[]byte(`{"a":1}`), map[string]string{"Content-Type": "not a type;;"}, JSON},
		{nil, nil, OctetStream},
	} {
		e := &event.Event{ID: "e", Type: "t", Raw: c.raw, Data: event.NormalizeData(c.raw), Headers: c.headers}
		if c.raw == nil {
			e.Raw = []byte{}
		}
		out, err := render(t, Spec{Format: Raw}, e)
		if err != nil || out.ContentType != c.want || string(out.Body) != string(e.Raw) {
			t.Errorf("raw %q %v: %q %q %v; want the body as is and %q", c.raw, c.headers, out.Body, out.ContentType, err, c.want)
		}
	}
}

func TestTraceparent(t *testing.T) {
	for v, ok := range map[string]bool{
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01":        true,
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future": true,
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra":  false,
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01":        false,
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01":        false,
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01":        false,
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01":        false,
		"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01":         false,
		"": false,
	} {
		if _, _, got := parseTraceparent(v); got != ok {
			t.Errorf("parseTraceparent(%q) ok = %v, want %v", v, got, ok)
		}
	}
}

// The envelope has Vellum's fields with Vellum's types, and the same
// derived ids on every rendering of an event.
func TestEnvelopeShape(t *testing.T) {
	e := goldenEvent()
	e.Headers = map[string]string{"Traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	out, err := render(t, Spec{Format: Envelope}, e)
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]any
	if err := json.Unmarshal(out.Body, &env); err != nil {
		t.Fatal(err)
	}
	if len(env) != 8 {
		t.Errorf("fields %v, want Vellum's 8", env)
	}
	for _, f := range []string{"id", "timestamp", "api_version", "trace_id", "span_id", "name"} {
		if _, ok := env[f].(string); !ok {
			t.Errorf("%s = %#v, want a string", f, env[f])
		}
	}
	if env["trace_id"] != "4bf92f35-77b3-4da6-a3ce-929d0e0e4736" {
		t.Errorf("trace_id %v, want the traceparent's whatever the header's case", env["trace_id"])
	}
	if _, ok := env["parent"].(map[string]any); !ok {
		t.Errorf("parent %#v, want an object", env["parent"])
	}
	if _, ok := env["body"].(map[string]any); !ok {
		t.Errorf("body %#v, want the data", env["body"])
	}
	again := goldenEvent()
	again.Tenant = "" // the default tenant, as a retry names it
	twice, _ := render(t, Spec{Format: Envelope}, again)
	var env2 map[string]any
	_ = json.Unmarshal(twice.Body, &env2)
	if env2["span_id"] != env["span_id"] {
		t.Errorf("span_id %v then %v: not stable across renderings", env["span_id"], env2["span_id"])
	}
}

// Whatever the event holds, chat messages stay within the services' limits
// and cannot mention anyone.
func TestChatLimitsAndMentions(t *testing.T) {
	long := strings.Repeat("é<@U1>&", 2000)
	data, _ := json.Marshal(map[string]any{"title": long, "body": long, "url": "https://x.example/" + strings.Repeat("a", 480)})
	e := &event.Event{ID: "evt", Type: "a.b", Data: data, Raw: data}
	d, _ := render(t, Spec{Format: Discord}, e)
	var dm struct {
		Content string `json:"content"`
	}
	_ = json.Unmarshal(d.Body, &dm)
	if n := utf8.RuneCountInString(dm.Content); n > 2000 {
		t.Errorf("discord content %d characters, over Discord's 2000", n)
	}
	s, _ := render(t, Spec{Format: Slack}, e)
	var sm struct {
		Text string `json:"text"`
	}
	_ = json.Unmarshal(s.Body, &sm)
	if strings.Contains(sm.Text, "<@") || !strings.Contains(sm.Text, "&lt;@U1&gt;") {
		t.Errorf("slack text not escaped: %.100s", sm.Text)
	}
	if !strings.HasSuffix(sm.Text, "<https://x.example/"+strings.Repeat("a", 480)+">") {
		t.Errorf("slack link missing: %.100s", sm.Text[len(sm.Text)-100:])
	}
	// A relative URL (Valohai's url) is not a link.
	data = []byte(`{"title":"t","url":"/p/demo/x/"}`)
	s, _ = render(t, Spec{Format: Slack}, &event.Event{ID: "e", Type: "a", Data: data})
	if string(s.Body) != `{"text":"*t*"}` {
		t.Errorf("relative url: %s", s.Body)
	}
}

func TestTransformResults(t *testing.T) {
	e := goldenEvent()
	for src, want := range map[string][2]string{
		`"hi " + data.status`:      {Text, "hi complete"},
		`data.missing`:             {JSON, "null"},
		`[1, "<&>", data.counter]`: {JSON, `[1,"<&>",736]`},
		`data.counter > 700`:       {JSON, "true"},
	} {
		out, err := render(t, Spec{Format: TransformFormat, Transform: src}, e)
		if err != nil || out.ContentType != want[0] || string(out.Body) != want[1] {
			t.Errorf("%s: %q %q %v; want %q %q", src, out.Body, out.ContentType, err, want[1], want[0])
		}
	}
}

// A transform or template failing on an event is an error naming the field;
// nothing half-rendered is returned.
func TestRenderErrors(t *testing.T) {
	e := goldenEvent()
	for _, c := range []struct {
		spec  Spec
		field string
	}{
		{Spec{Format: TransformFormat, Transform: `data.status + data.counter`}, "transform"},
		{Spec{Format: TransformFormat, Transform: `repeat("x", 999999) + repeat("y", 999999)`}, "transform"},
		{Spec{Headers: map[string]string{"X-A": "{{ data.nope.deeper }}"}}, "headers.X-A"},
		{Spec{Headers: map[string]string{"X-A": `{{ "a\nb" }}`}}, "headers.X-A"},
	} {
		out, err := render(t, c.spec, e)
		var pe *Error
		if !errors.As(err, &pe) || pe.Field != c.field || out.Body != nil {
			t.Errorf("%+v: %q, %v; want an error on %s", c.spec, out.Body, err, c.field)
		}
	}
}

func TestCheck(t *testing.T) {
	c, _ := Compile(Spec{Format: TransformFormat, Transform: `{"t": "Execution " + data.name + " " + type, "url": data.url}`})
	if err := c.Check(nil); err != nil {
		t.Errorf("the built-in sample: %v", err)
	}
	c, _ = Compile(Spec{Format: TransformFormat, Transform: `data.order.amount * 2`})
	err := c.Check(nil)
	var pe *Error
	if !errors.As(err, &pe) || pe.Field != "transform" || !strings.Contains(err.Error(), "sample_event") {
		t.Errorf("a transform failing on the built-in sample: %v", err)
	}
	sample := &event.Event{ID: "s", Type: "order.paid", Data: []byte(`{"order":{"amount":2}}`)}
	if err := c.Check(sample); err != nil {
		t.Errorf("with a sample_event it fits: %v", err)
	}
}
