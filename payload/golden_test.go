package payload

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/rules"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the bodies rendered now")

// goldenEvent is the fixed event every golden file renders: an execution
// in a trace, with the fields chat formats read.
func goldenEvent() *event.Event {
	data := []byte(`{"title":"Execution finished: demo/cool-tensorflow/#736 (completed)","body":"Execution #736 (by demouser) finished with duration 11:01 & <no> errors.",` +
		`"url":"https://app.valohai.com/p/demo/cool-tensorflow/execution/0178f482/","status":"complete","counter":736}`)
	return &event.Event{
		ID: "evt_golden_1", Type: "execution.completed", Subject: "events.execution.completed", Tenant: "default",
		Time: time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC), Data: data, Raw: data,
		Headers: map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
	}
}

// TestGolden renders the fixed event in every format; testdata/<name>.golden
// holds the content type, a blank line and the body byte for byte, and is
// what docs/payloads.md shows. go test ./payload -update rewrites them.
func TestGolden(t *testing.T) {
	plain := goldenEvent()
	plain.Headers = nil
	minimal := goldenEvent()
	minimal.Data = []byte(`{"order_id":"ord_1","amount":42.5,"note":"<!channel> @everyone"}`)
	minimal.Raw = minimal.Data
	minimal.Type = "order.paid"
	minimal.Headers = nil
	text := goldenEvent()
	text.Raw = []byte("id,status\nexec_736,complete\n")
	text.Data = event.NormalizeData(text.Raw)
	text.Headers = map[string]string{"Content-Type": "text/csv; charset=utf-8"}
	binary := goldenEvent()
	binary.Raw = []byte{0xff, 0x00, 0x01, 'h', 'i'}
	binary.Data = event.NormalizeData(binary.Raw)
	binary.Headers = nil
	traced := goldenEvent()
	traced.Headers = nil
	traced.Data = []byte(`{"trace_id":"6ab80f10-d79c-4fa2-b441-922ed6feb630","parent":{"span_id":"0b8e0e2e-4c1d-4e0a-9d43-3c2b8c8e7f10","parent":null,"deployment_name":"my-deployment"},"outputs":{"answer":42}}`)
	traced.Raw = traced.Data

	cases := []struct {
		name string
		e    *event.Event
		spec Spec
	}{
		{"standard", goldenEvent(), Spec{}},
		{"raw_json", goldenEvent(), Spec{Format: Raw}},
		{"raw_text", text, Spec{Format: Raw}},
		{"raw_binary", binary, Spec{Format: Raw}},
		{"envelope_traceparent", goldenEvent(), Spec{Format: Envelope}},
		{"envelope_no_trace", plain, Spec{Format: Envelope}},
		{"envelope_data_trace", traced, Spec{Format: Envelope}},
		{"slack", goldenEvent(), Spec{Format: Slack}},
		{"slack_no_title", minimal, Spec{Format: Slack}},
		{"discord", goldenEvent(), Spec{Format: Discord}},
		{"discord_no_title", minimal, Spec{Format: Discord}},
		{"teams", goldenEvent(), Spec{Format: Teams}},
		{"teams_no_title", minimal, Spec{Format: Teams}},
		{"transform_json", goldenEvent(), Spec{Format: TransformFormat, Transform: `{"title": "Execution " + data.status + " " + type, "url": data.url, "n": data.counter}`}},
		{"transform_text", goldenEvent(), Spec{Format: TransformFormat, Transform: `data.title + " <" + data.url + ">"`}},
		{"transform_null", goldenEvent(), Spec{Format: TransformFormat, Transform: `data.missing`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			comp, err := Compile(c.spec)
			if err != nil {
				t.Fatal(err)
			}
			r := Renderer{Event: c.e, Env: NewEnv(c.e), Eval: &rules.Evaluator{}}
			out, err := r.Render(comp)
			if err != nil {
				t.Fatal(err)
			}
			got := append([]byte("Content-Type: "+out.ContentType+"\n\n"), out.Body...)
			path := filepath.Join("testdata", c.name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test ./payload -update writes it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the rendering:\n got: %q\nwant: %q", path, got, want)
			}
		})
	}
}
