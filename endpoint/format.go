package endpoint

import (
	"errors"

	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/payload"
)

// PayloadSpec is what decides the endpoint's deliveries' bodies and
// templated headers.
func (e *Endpoint) PayloadSpec() payload.Spec {
	return payload.Spec{Format: e.Format, Transform: e.Transform, Headers: e.Headers}
}

// CompilePayload compiles the endpoint's format, transform and header
// templates. Errors are *FieldError naming format, transform or the
// header.
func (e *Endpoint) CompilePayload() (*payload.Compiled, error) {
	c, err := payload.Compile(e.PayloadSpec())
	if err != nil {
		return nil, fieldOf(err)
	}
	return c, nil
}

// CheckPayload renders sample (hookd's sample event when nil) with the
// endpoint's transform and header templates, so one that fails on it is
// refused when the endpoint is saved. With before (the endpoint before a
// change) and no sample, only what changed is checked: what was checked
// when it was set (perhaps against a sample event of its own) is not
// refused for a change of something else. Errors are *FieldError.
func (e *Endpoint) CheckPayload(before *Endpoint, sample *event.Event) error {
	if _, err := e.CompilePayload(); err != nil {
		return err
	}
	spec := e.PayloadSpec()
	if before != nil && sample == nil {
		if spec.Transform == before.Transform {
			spec.Format, spec.Transform = payload.Standard, ""
		}
		spec.Headers = map[string]string{}
		for name, v := range e.Headers {
			if payload.IsTemplate(v) && before.Headers[name] != v {
				spec.Headers[name] = v
			}
		}
	}
	c, err := payload.Compile(spec)
	if err != nil {
		return fieldOf(err)
	}
	return fieldOf(c.Check(sample))
}

// fieldOf turns a payload error into the FieldError of its field.
func fieldOf(err error) error {
	var pe *payload.Error
	if errors.As(err, &pe) {
		return &FieldError{Field: pe.Field, Message: pe.Err.Error()}
	}
	return err
}
