package payload

import (
	"errors"
	"fmt"
	"time"

	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/rules"
)

// Sample is the event a transform and header templates are checked
// against at creation when the request gives none: a Valohai-like
// execution with the fields chat formats read.
func Sample() *event.Event {
	data := []byte(`{"id":"exec_123","name":"train-model","status":"completed","title":"Execution finished: demo/train-model/#736 (completed)",` +
		`"body":"Execution #736 finished with duration 11:01.","url":"https://example.com/executions/exec_123","tenant_token":"tok_sample"}`)
	return &event.Event{
		ID: "evt_sample", Type: "execution.completed", Subject: event.Subject("execution.completed"),
		Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Data: data, Raw: data, Tenant: "default",
		Headers: map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
	}
}

// Check renders sample (Sample() when nil) in c's format, so a transform
// or header template that cannot render even one event is refused when
// the endpoint is saved, not found out at delivery. Errors are *Error.
func (c *Compiled) Check(sample *event.Event) error {
	given := sample != nil
	if !given {
		sample = Sample()
	}
	r := Renderer{Event: sample, Env: NewEnv(sample), Eval: &rules.Evaluator{}}
	_, err := r.Render(c)
	var pe *Error
	if err == nil || !errors.As(err, &pe) {
		return err
	}
	which := "the sample_event"
	if !given {
		which = "hookd's sample event (give a sample_event shaped like your events)"
	}
	return &Error{Field: pe.Field, Err: fmt.Errorf("fails on %s: %w", which, pe.Err)}
}
