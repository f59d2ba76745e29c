package event

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestReadCloudEvent(t *testing.T) {
	when := time.Date(2026, 6, 1, 12, 0, 0, 500, time.UTC)
	structured := map[string][]string{"Content-Type": {"application/cloudevents+json; charset=utf-8"}}
	for _, c := range []struct {
		name   string
		header map[string][]string
		body   string
		want   *CloudEvent // nil: not a CloudEvent
		err    string      // attribute named by an *AttributeError, "-" for another error
	}{
		{name: "plain event", header: map[string][]string{"Nats-Msg-Id": {"x"}}, body: `{"a":1}`},
		{name: "ce headers without specversion are not binary mode", header: map[string][]string{"ce-id": {"x"}}, body: `{}`},
		{
			name: "binary",
			header: map[string][]string{"ce-specversion": {"1.0"}, "ce-id": {"A-1"}, "ce-type": {"order.created"}, "ce-source": {"/orders"},
				"ce-time": {"2026-06-01T12:00:00.0000005Z"}, "ce-subject": {"o_1"}, "Content-Type": {"application/json"}, "ce-tenantid": {"acme"}},
			body: `{"total":42}`,
			want: &CloudEvent{SpecVersion: "1.0", ID: "A-1", Type: "order.created", Source: "/orders", Subject: "o_1", Time: when,
				DataContentType: "application/json", Data: []byte(`{"total":42}`), Extensions: map[string]string{"tenantid": "acme"}, rawTime: "2026-06-01T12:00:00.0000005Z"},
		},
		{
			name:   "binary headers in any case",
			header: map[string][]string{"Ce-Specversion": {"1.0"}, "CE-ID": {"A-2"}, "Ce-Type": {"x.y"}, "content-type": {"text/plain"}},
			body:   `hi`,
			want:   &CloudEvent{SpecVersion: "1.0", ID: "A-2", Type: "x.y", DataContentType: "text/plain", Data: []byte("hi")},
		},
		{
			name:   "binary with a time that is not RFC 3339",
			header: map[string][]string{"ce-specversion": {"1.0"}, "ce-time": {"yesterday"}},
			want:   &CloudEvent{SpecVersion: "1.0", rawTime: "yesterday", Data: []byte{}},
			body:   ``,
		},
		{
			name:   "structured JSON data",
			header: structured,
			body:   `{"specversion":"1.0","id":"A-3","type":"order.created","source":"/orders","time":"2026-06-01T12:00:00.0000005Z","data": {"total": 42} ,"seq":7,"flag":true}`,
			want: &CloudEvent{SpecVersion: "1.0", ID: "A-3", Type: "order.created", Source: "/orders", Time: when, Data: []byte(`{"total": 42}`),
				Extensions: map[string]string{"seq": "7", "flag": "true"}, rawTime: "2026-06-01T12:00:00.0000005Z", structured: true},
		},
		{
			name:   "structured base64 data",
			header: structured,
			body:   `{"specversion":"1.0","id":"A-4","type":"blob.put","source":"s","datacontenttype":"application/octet-stream","data_base64":"AAEC"}`,
			want:   &CloudEvent{SpecVersion: "1.0", ID: "A-4", Type: "blob.put", Source: "s", DataContentType: "application/octet-stream", Data: []byte{0, 1, 2}, structured: true},
		},
		{
			name:   "structured text data is the string's text",
			header: structured,
			body:   `{"specversion":"1.0","id":"A-5","type":"t.x","source":"s","datacontenttype":"text/plain","data":"hello"}`,
			want:   &CloudEvent{SpecVersion: "1.0", ID: "A-5", Type: "t.x", Source: "s", DataContentType: "text/plain", Data: []byte("hello"), structured: true},
		},
		{
			name:   "structured without data",
			header: structured,
			body:   `{"specversion":"1.0","id":"A-6","type":"t.x","source":"s"}`,
			want:   &CloudEvent{SpecVersion: "1.0", ID: "A-6", Type: "t.x", Source: "s", structured: true},
		},
		{name: "structured with data and data_base64", header: structured, body: `{"specversion":"1.0","data":1,"data_base64":"AA=="}`, err: "data_base64"},
		{name: "structured with bad base64", header: structured, body: `{"specversion":"1.0","data_base64":"%%%"}`, err: "data_base64"},
		{name: "structured with an object attribute", header: structured, body: `{"specversion":"1.0","source":{"a":1}}`, err: "source"},
		{name: "structured body not an object", header: structured, body: `[1]`, err: "-"},
		{name: "structured body not JSON", header: structured, body: `{`, err: "-"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ReadCloudEvent(c.header, []byte(c.body))
			var ae *AttributeError
			switch {
			case c.err == "-" && (err == nil || errors.As(err, &ae)):
				t.Fatalf("err %v, want an error that is not an *AttributeError", err)
			case c.err != "-" && c.err != "" && (!errors.As(err, &ae) || ae.Name != c.err):
				t.Fatalf("err %v, want an *AttributeError naming %s", err, c.err)
			case c.err == "" && err != nil:
				t.Fatal(err)
			case c.err != "":
				return
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestCloudEventValidate(t *testing.T) {
	valid := func() *CloudEvent {
		ce, err := ParseStructured([]byte(`{"specversion":"1.0","id":"A-1","type":"order.created","source":"/orders","time":"2026-06-01T12:00:00Z","ext1":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		return ce
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid event refused: %v", err)
	}
	for _, c := range []struct {
		attr   string
		change func(*CloudEvent)
	}{
		{"specversion", func(ce *CloudEvent) { ce.SpecVersion = "0.3" }},
		{"id", func(ce *CloudEvent) { ce.ID = "" }},
		{"source", func(ce *CloudEvent) { ce.Source = "" }},
		{"source", func(ce *CloudEvent) { ce.Source = "http://[::1" }},
		{"type", func(ce *CloudEvent) { ce.Type = "" }},
		{"time", func(ce *CloudEvent) { ce.set("time", "2026-06-01 12:00") }},
		{"Bad_Name", func(ce *CloudEvent) { ce.Extensions["Bad_Name"] = "x" }},
		{"subject", func(ce *CloudEvent) { ce.Subject = "a\r\nInjected: yes" }},
		{"ext1", func(ce *CloudEvent) { ce.Extensions["ext1"] = "a\nb" }},
	} {
		ce := valid()
		c.change(ce)
		var ae *AttributeError
		if err := ce.Validate(); !errors.As(err, &ae) || ae.Name != c.attr {
			t.Errorf("%s: err %v, want an *AttributeError naming it", c.attr, err)
		}
	}
}

// The precedence documented in cloudevents.go.
func TestSetCloudEvent(t *testing.T) {
	accepted := time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC)
	decoded := func(subject string, headers map[string]string, body string) *Event {
		_, typ := ParseSubject(subject)
		data, _ := Normalize([]byte(body))
		return &Event{ID: "nats-id", Type: typ, Subject: subject, Time: accepted, Data: data, Raw: []byte(body), Headers: headers}
	}
	binary := map[string][]string{"ce-specversion": {"1.0"}, "ce-id": {"A-1"}, "ce-type": {"order.created"}, "ce-source": {"/orders"}, "ce-time": {"2026-06-01T12:00:00+02:00"}}
	for _, c := range []struct {
		name, subject string
		header        map[string][]string
		body          string
		wantType      string
		wantTime      time.Time
		wantData      string
	}{
		{"the subject decides the type", "events.orders.new", binary, `{"a":1}`, "orders.new", time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC), `{"a":1}`},
		{"the generic subject takes ce-type", "events.cloudevents", binary, `{"a":1}`, "order.created", time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC), `{"a":1}`},
		{"so does a tenant's", "tenants.acme.events.cloudevents", binary, `{"a":1}`, "order.created", time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC), `{"a":1}`},
		{
			"a ce-type that is no event type leaves the subject's", "events.cloudevents",
			map[string][]string{"ce-specversion": {"1.0"}, "ce-id": {"A-1"}, "ce-type": {"bad type"}, "ce-time": {"not a time"}},
			`{}`, "cloudevents", accepted, `{}`,
		},
		{
			"nor does a hookd operational type", "events.cloudevents",
			map[string][]string{"ce-specversion": {"1.0"}, "ce-id": {"A-1"}, "ce-type": {"hookd.endpoint.disabled"}},
			`{}`, "cloudevents", accepted, `{}`,
		},
		{
			"structured: the data inside", "events.cloudevents",
			map[string][]string{"Content-Type": {StructuredContentType}},
			`{"specversion":"1.0","id":"A-1","type":"order.created","source":"/orders","time":"2026-06-01T10:00:00Z","data":{"total":42}}`,
			"order.created", time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC), `{"total":42}`,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := map[string]string{}
			for k, v := range c.header {
				h[k] = v[0]
			}
			e := decoded(c.subject, h, c.body)
			ce, err := ReadCloudEvent(c.header, []byte(c.body))
			if err != nil || ce == nil {
				t.Fatalf("ReadCloudEvent: %v, %v", ce, err)
			}
			e.SetCloudEvent(ce)
			if e.ID != "A-1" || e.Type != c.wantType || !e.Time.Equal(c.wantTime) || string(e.Data) != c.wantData {
				t.Fatalf("got id %q type %q time %s data %s; want A-1 %q %s %s", e.ID, e.Type, e.Time, e.Data, c.wantType, c.wantTime, c.wantData)
			}
			if e.Time.Location() != time.UTC {
				t.Errorf("time %s is not UTC", e.Time)
			}
		})
	}

	// Binary mode: attribute headers in lower case, others untouched.
	e := decoded("events.x.y", map[string]string{"Ce-Specversion": "1.0", "CE-ID": "A-8", "Content-type": "text/plain", "X-Other": "o"}, "hi")
	ce, _ := ReadCloudEvent(map[string][]string{"Ce-Specversion": {"1.0"}, "CE-ID": {"A-8"}, "Content-type": {"text/plain"}}, []byte("hi"))
	e.SetCloudEvent(ce)
	if want := map[string]string{"ce-specversion": "1.0", "ce-id": "A-8", "Content-type": "text/plain", "X-Other": "o"}; !reflect.DeepEqual(e.Headers, want) || string(e.Raw) != "hi" {
		t.Fatalf("binary: headers %v raw %q", e.Headers, e.Raw)
	}

	// Structured mode: Raw is the data, and the attributes are headers as
	// in binary mode, Content-Type the data's.
	body := `{"specversion":"1.0","id":"A-9","type":"x.y","source":"/s","subject":"sub","ext":"v","datacontenttype":"text/plain","data":"hi"}`
	e = decoded("events.x.y", map[string]string{"content-type": StructuredContentType, "Nats-Msg-Id": "m"}, body)
	ce, _ = ReadCloudEvent(map[string][]string{"content-type": {StructuredContentType}}, []byte(body))
	e.SetCloudEvent(ce)
	want := map[string]string{"Nats-Msg-Id": "m", "Content-Type": "text/plain", "ce-specversion": "1.0", "ce-id": "A-9", "ce-type": "x.y",
		"ce-source": "/s", "ce-subject": "sub", "ce-ext": "v"}
	if string(e.Raw) != "hi" || string(e.Data) != `"hi"` || !e.NotJSON || e.Source != "/s" || !reflect.DeepEqual(e.Headers, want) {
		t.Fatalf("structured: raw %q data %s notJSON %v source %q headers %v", e.Raw, e.Data, e.NotJSON, e.Source, e.Headers)
	}
}

func TestCloudEventHeadersRoundTrip(t *testing.T) {
	ce, err := ParseStructured([]byte(`{"specversion":"1.0","id":"A-1","type":"x.y","source":"/s","time":"2026-06-01T10:00:00Z","dataschema":"https://s/x.json","data":{"a":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	h := map[string][]string{}
	for k, v := range ce.Headers() {
		h[k] = []string{v}
	}
	if h["Content-Type"][0] != "application/json" {
		t.Fatalf("JSON data without datacontenttype: Content-Type %v", h["Content-Type"])
	}
	back := FromBinary(h, ce.Data)
	back.structured, back.DataContentType = true, ""
	if !reflect.DeepEqual(back, ce) {
		t.Fatalf("binary form reads back as\n%+v, want\n%+v", back, ce)
	}
}

func TestDataOf(t *testing.T) {
	structured := map[string][]string{"Content-Type": {StructuredContentType}}
	for _, c := range []struct {
		header map[string][]string
		body   string
		want   string
	}{
		{nil, `{"a":1}`, `{"a":1}`},
		{nil, `text`, `"text"`},
		{structured, `{"specversion":"1.0","data":{"a":1}}`, `{"a":1}`},
		{structured, `{"specversion":"1.0"}`, `null`},
		{structured, `not json`, `"not json"`}, // unreadable: as published
	} {
		if got := string(DataOf(c.header, []byte(c.body))); got != c.want {
			t.Errorf("DataOf(%v, %s) = %s, want %s", c.header, c.body, got, c.want)
		}
	}
}

// Any body: ParseStructured never panics, and an event Validate accepts
// travels as NATS headers without a line break and reads back the same.
func FuzzParseStructured(f *testing.F) {
	f.Add([]byte(`{"specversion":"1.0","id":"A-1","type":"x.y","source":"/s","time":"2026-06-01T10:00:00Z","data":{"a":1}}`))
	f.Add([]byte(`{"specversion":"1.0","id":"A-1","type":"x.y","source":"/s","ext":"a\r\nb","data_base64":"AAEC"}`))
	f.Add([]byte(`{"specversion":"1.0","id":"A-1","type":"x.y","source":"/s","datacontenttype":"text/plain","data":"hi"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ce, err := ParseStructured(body)
		if err != nil || ce.Validate() != nil {
			return
		}
		h := map[string][]string{}
		for k, v := range ce.Headers() {
			if strings.ContainsAny(v, "\r\n") {
				t.Fatalf("header %s carries a line break: %q", k, v)
			}
			h[k] = []string{v}
		}
		back := FromBinary(h, ce.Data)
		if back == nil || back.ID != ce.ID || back.Type != ce.Type || back.Source != ce.Source || !back.Time.Equal(ce.Time) {
			t.Fatalf("binary form reads back as %+v, want %+v", back, ce)
		}
	})
}
