package endpoint

import (
	"errors"
	"testing"

	"github.com/hookd/hookd/event"
)

func fieldOfErr(err error) string {
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return ""
}

// Validate refuses a format, transform or header template that does not
// compile, naming the field.
func TestValidatePayloadFields(t *testing.T) {
	base := func() *Endpoint { return &Endpoint{URL: "https://x.example", Secret: NewSecret()} }
	for field, change := range map[string]func(*Endpoint){
		"format":            func(e *Endpoint) { e.Format = "yaml" },
		"transform":         func(e *Endpoint) { e.Format, e.Transform = "transform", "{" },
		"headers.X-Token":   func(e *Endpoint) { e.Headers = map[string]string{"X-Token": "{{ data.t"} },
		"headers.X-Invalid": func(e *Endpoint) { e.Headers = map[string]string{"X-Invalid": "{{ nope() }}"} },
	} {
		e := base()
		change(e)
		if _, err := e.Validate(); fieldOfErr(err) != field {
			t.Errorf("%s: Validate() = %v", field, err)
		}
	}
}

// A change is checked for what it changes: a template checked against a
// sample event of its own when it was set is not refused for a change of
// something else; a changed one is checked again.
func TestCheckPayloadChecksWhatChanged(t *testing.T) {
	sample := &event.Event{ID: "s", Type: "t", Data: []byte(`{"org":{"token":"x"}}`)}
	before := &Endpoint{URL: "https://x.example", Secret: NewSecret(), Format: "transform", Transform: `data.org.token`,
		Headers: map[string]string{"Authorization": "Bearer {{ data.org.token }}"}}
	if err := before.CheckPayload(nil, nil); fieldOfErr(err) == "" {
		t.Fatalf("hookd's sample has no data.org: %v", err)
	}
	if err := before.CheckPayload(nil, sample); err != nil {
		t.Fatalf("with its sample: %v", err)
	}
	after := *before
	after.Format, after.Transform = "slack", ""
	if err := after.CheckPayload(before, nil); err != nil {
		t.Errorf("a change of format re-checked the unchanged template: %v", err)
	}
	after.Headers = map[string]string{"Authorization": "Bearer {{ data.org.id.x }}"}
	if err := after.CheckPayload(before, nil); fieldOfErr(err) != "headers.Authorization" {
		t.Errorf("a changed template was not checked: %v", err)
	}
	after = *before
	after.Transform = `data.org.token + "!"`
	if err := after.CheckPayload(before, nil); fieldOfErr(err) != "transform" {
		t.Errorf("a changed transform was not checked: %v", err)
	}
}
