package httpapi

import (
	"encoding/json"
	"time"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/payload"
	"github.com/hookd/hookd/rules"
	"github.com/hookd/hookd/tenant"
)

// renderFor renders events as ep's deliveries are rendered now: its
// format, transform and header templates, as the router does. A stored
// format that no longer compiles is the rendering's error: the delivery
// is dead-lettered with it, not sent in another format.
func renderFor(ep *endpoint.Endpoint) delivery.Render {
	c, cerr := ep.CompilePayload()
	return func(e *event.Event) (payload.Rendered, error) {
		if cerr != nil {
			return payload.Rendered{}, cerr
		}
		r := payload.Renderer{Event: e, Env: payload.NewEnv(e), Eval: &rules.Evaluator{}}
		return r.Render(c)
	}
}

// sampleEvent is the sample_event of an endpoint create or update: the
// event a transform and header templates are checked against. Every field
// is optional.
type sampleEvent struct {
	ID      string            `json:"id"`
	Type    string            `json:"type"`
	Time    *time.Time        `json:"time"`
	Data    json.RawMessage   `json:"data"`
	Headers map[string]string `json:"headers"`
}

// event returns the sample as an event of a tenant, with the defaults of
// hookd's own sample for what it leaves out; a nil sample is hookd's.
func (s *sampleEvent) event(tenantID string) (*event.Event, error) {
	if s == nil {
		return nil, nil
	}
	e := payload.Sample()
	if s.ID != "" {
		e.ID = s.ID
	}
	if s.Type != "" {
		if err := event.ValidateType(s.Type); err != nil {
			return nil, fieldError("sample_event.type", "%v", err)
		}
		e.Type, e.Subject = s.Type, event.Subject(s.Type)
	}
	if s.Time != nil {
		e.Time = s.Time.UTC()
	}
	if s.Data != nil {
		if event.TooDeep(s.Data) {
			return nil, fieldError("sample_event.data", "nests arrays and objects deeper than %d levels", event.MaxDepth)
		}
		e.Data, e.Raw = s.Data, s.Data
	}
	if s.Headers != nil {
		e.Headers = s.Headers
	}
	e.Tenant = tenant.Normalize(tenantID)
	return e, nil
}

// checkPayload renders the sample (hookd's when nil) with e's transform
// and header templates (only those changed since before, when given), so
// one that fails on it is refused with 400 naming the field, not found out
// at delivery.
func checkPayload(e, before *endpoint.Endpoint, sample *sampleEvent) error {
	ev, err := sample.event(e.Tenant)
	if err != nil {
		return err
	}
	if err := e.CheckPayload(before, ev); err != nil {
		return validationError(err)
	}
	return nil
}
