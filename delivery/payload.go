package delivery

import (
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/payload"
)

// Sealer seals and opens values kept at rest (see package endpoint).
type Sealer interface {
	Seal(plain string) string
	Open(value string) (string, error)
}

// maxRenderError bounds the render error a delivery carries.
const maxRenderError = 1024

// SetPayload sets a delivery message's body and content type from p, the
// endpoint's rendering of e, and its templated header values, sealed with
// s. When rendering failed (err), the body is e's standard envelope and
// the error goes along: the worker dead-letters the delivery, so the event
// is never lost and a retry renders it again.
func SetPayload(m *nats.Msg, e *event.Event, p payload.Rendered, err error, s Sealer) {
	if err != nil {
		msg := err.Error()
		if len(msg) > maxRenderError {
			msg = msg[:maxRenderError]
		}
		m.Data = e.Envelope()
		m.Header.Set(HeaderRenderError, msg)
		return
	}
	m.Data = p.Body
	if p.ContentType != payload.JSON {
		m.Header.Set(HeaderContentType, p.ContentType)
	}
	if len(p.Headers) > 0 {
		b, _ := json.Marshal(p.Headers)
		m.Header.Set(HeaderRenderedHeaders, s.Seal(string(b)))
	}
}

// Payload is what a delivery message says about its body, as the worker
// reads it.
type Payload struct {
	ContentType string
	// Headers are the templated header values rendered by the router.
	Headers map[string]string
	// RenderError is set when the delivery could not be rendered.
	RenderError string
}

// ReadPayload reads what SetPayload set, opening the rendered header values
// with s. An error means they cannot be opened (no master key, or not the
// one they were sealed with).
func ReadPayload(h nats.Header, s Sealer) (Payload, error) {
	p := Payload{ContentType: h.Get(HeaderContentType), RenderError: h.Get(HeaderRenderError)}
	if p.ContentType == "" {
		p.ContentType = payload.JSON
	}
	if v := h.Get(HeaderRenderedHeaders); v != "" {
		plain, err := s.Open(v)
		if err != nil {
			return p, fmt.Errorf("rendered headers: %w", err)
		}
		if err := json.Unmarshal([]byte(plain), &p.Headers); err != nil {
			return p, fmt.Errorf("rendered headers: %w", err)
		}
	}
	return p, nil
}
