package payload

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/rules"
	"github.com/hookd/hookd/topology"
)

// Content types of rendered bodies.
const (
	JSON        = "application/json"
	Text        = "text/plain; charset=utf-8"
	OctetStream = "application/octet-stream"
)

// MaxBody is the largest body (templated header values included) a
// delivery may carry: what the events stream accepts, so a delivery always
// fits its endpoint stream. A larger rendering is an error.
const MaxBody = topology.MaxEventSize

// maxHeaderValue bounds one rendered header value, as endpoint headers are.
const maxHeaderValue = 4096

// Rendered is one delivery's payload.
type Rendered struct {
	Body        []byte
	ContentType string
	// Headers are the templated header values, rendered; nil when the
	// endpoint has none.
	Headers map[string]string
}

// Renderer renders one event for the endpoints it goes to. Bodies of the
// formats that depend on the event only are rendered once and shared (the
// callers must not change them), so routing cost does not grow with the
// number of endpoints sharing a format. It is not safe for concurrent use.
type Renderer struct {
	Event *event.Event
	// Env is the event as expressions see it (see NewEnv).
	Env *rules.Env
	// Eval runs transforms and templates; one per goroutine.
	Eval *rules.Evaluator

	shared [numShared]struct {
		done bool
		body []byte
		ct   string
		err  error
	}
}

// NewEnv returns the event as filters, transforms and templates see it.
// Data that nests too deep, or that Go cannot hold, is nil: expressions
// see null, the body is still delivered as sent.
func NewEnv(e *event.Event) *rules.Env {
	env := &rules.Env{Type: e.Type, ID: e.ID, Subject: e.Subject, Time: e.Time, Headers: e.Headers, Tenant: e.Tenant, Source: e.Source}
	if env.Subject == "" && e.Type != "" {
		env.Subject = event.Subject(e.Type)
	}
	// As routers see it: data that is not JSON, or nests too deep, is
	// null; decoded only if something reads it.
	if !e.NotJSON {
		env.DeferData(e.Data, nil)
	}
	return env
}

// Render renders the event in c's format. Errors are *Error naming the
// endpoint field at fault (a transform or header template failing on this
// event, or a body larger than MaxBody).
func (r *Renderer) Render(c *Compiled) (Rendered, error) {
	k := kindStandard
	if c != nil {
		k = c.kind
	}
	var out Rendered
	var err error
	if k == kindTransform {
		out.Body, out.ContentType, err = r.transform(c.transform)
	} else {
		s := &r.shared[k]
		if !s.done {
			s.body, s.ct, s.err = r.render(k)
			s.done = true
		}
		out.Body, out.ContentType, err = s.body, s.ct, s.err
	}
	if err != nil {
		return Rendered{}, err
	}
	size := len(out.Body)
	if c.Templated() {
		out.Headers = make(map[string]string, len(c.templates))
		for _, t := range c.templates {
			v, err := r.Eval.Render(t.tpl, r.Env)
			if err == nil && (!httpguts.ValidHeaderFieldValue(v) || len(v) > maxHeaderValue) {
				err = fmt.Errorf("rendered %d bytes that are not one line of visible characters of at most %d bytes", len(v), maxHeaderValue)
			}
			if err != nil {
				return Rendered{}, &Error{Field: "headers." + t.name, Err: err}
			}
			out.Headers[t.name] = v
			size += len(t.name) + len(v)
		}
	}
	if size > MaxBody {
		field := "format"
		if k == kindTransform {
			field = "transform"
		}
		return Rendered{}, &Error{Field: field, Err: fmt.Errorf("the rendered delivery is %d bytes, more than the %d allowed", size, MaxBody)}
	}
	return out, nil
}

// render renders a format that depends on the event only.
func (r *Renderer) render(k kind) ([]byte, string, error) {
	switch k {
	case kindRaw:
		body, ct := raw(r.Event)
		return body, ct, nil
	case kindEnvelope:
		return envelope(r.Event), JSON, nil
	case kindSlack:
		return slack(messageOf(r.Event, r.Env)), JSON, nil
	case kindDiscord:
		return discord(messageOf(r.Event, r.Env)), JSON, nil
	case kindTeams:
		return teams(messageOf(r.Event, r.Env)), JSON, nil
	default:
		return r.Event.Envelope(), JSON, nil
	}
}

// raw is the body as published and the producer's content type: its
// Content-Type header when it is a valid media type, else JSON when the
// body is JSON, else application/octet-stream.
func raw(e *event.Event) ([]byte, string) {
	body := e.Raw
	if body == nil {
		body = e.Data // built without a raw body (a test delivery): its data
	}
	if ct := header(e.Headers, "Content-Type"); ct != "" && httpguts.ValidHeaderFieldValue(ct) {
		if _, _, err := mime.ParseMediaType(ct); err == nil {
			return body, ct
		}
	}
	if json.Valid(body) {
		return body, JSON
	}
	return body, OctetStream
}

// header returns a producer's header whatever its case: NATS headers are
// case-sensitive, producers are not consistent.
func header(h map[string]string, name string) string {
	if v, ok := h[name]; ok {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// transform runs t and encodes its result: a string is sent as text, any
// other value as JSON (nil as null).
func (r *Renderer) transform(t *rules.Transform) ([]byte, string, error) {
	out, err := r.Eval.Transform(t, r.Env)
	if err != nil {
		return nil, "", &Error{Field: "transform", Err: err}
	}
	if s, ok := out.(string); ok {
		return []byte(s), Text, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // receivers get "<" and "&" as written
	if err := enc.Encode(out); err != nil {
		return nil, "", &Error{Field: "transform", Err: fmt.Errorf("the result cannot be sent as JSON: %w", err)}
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), JSON, nil
}
