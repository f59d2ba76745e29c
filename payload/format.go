package payload

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hookd/hookd/rules"
)

// Formats an endpoint can ask for.
const (
	// Standard (also "") is hookd's {"type","timestamp","data"} envelope.
	Standard = "standard"
	// Raw is the event body exactly as published, with the producer's
	// content type.
	Raw = "raw"
	// Envelope is Vellum's webhook envelope: id, timestamp, api_version,
	// trace_id, span_id, parent, name, body.
	Envelope = "envelope"
	// Slack is a Slack incoming-webhook message: {"text": ...}.
	Slack = "slack"
	// Discord is a Discord webhook message: {"content": ...}.
	Discord = "discord"
	// Teams is a Microsoft Teams Workflows message holding an Adaptive Card.
	Teams = "teams"
	// TransformFormat builds the body with the endpoint's expr transform.
	TransformFormat = "transform"
)

// kind indexes a format; the formats before kindTransform depend on the
// event only, so one rendering serves every endpoint.
type kind int

const (
	kindStandard kind = iota
	kindRaw
	kindEnvelope
	kindSlack
	kindDiscord
	kindTeams
	kindTransform
	numShared = int(kindTransform)
)

var kinds = map[string]kind{
	"": kindStandard, Standard: kindStandard, Raw: kindRaw, Envelope: kindEnvelope,
	Slack: kindSlack, Discord: kindDiscord, Teams: kindTeams, TransformFormat: kindTransform,
}

// Formats returns every format's name, sorted.
func Formats() []string {
	out := make([]string, 0, len(kinds))
	for name := range kinds {
		if name != "" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Spec is the part of an endpoint that decides what it receives.
type Spec struct {
	// Format is one of the format constants; "" is Standard.
	Format string
	// Transform is the expr expression of the transform format.
	Transform string
	// Headers are the endpoint's headers: a value holding "{{" is a
	// template rendered per delivery, any other is static.
	Headers map[string]string
}

// Error is a format, transform or header template that cannot be used:
// Field is the endpoint field at fault ("format", "transform" or
// "headers.<name>").
type Error struct {
	Field string
	Err   error
}

func (e *Error) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Compiled is an endpoint's spec, ready to render. It is immutable and safe
// for concurrent use; a nil *Compiled renders the standard format.
type Compiled struct {
	kind      kind
	transform *rules.Transform
	// templates are the templated headers by name, in name order.
	templates []namedTemplate
}

type namedTemplate struct {
	name string
	tpl  *rules.Template
}

// Compile checks and compiles s. Errors are *Error.
func Compile(s Spec) (*Compiled, error) {
	k, ok := kinds[s.Format]
	if !ok {
		return nil, &Error{Field: "format", Err: fmt.Errorf("must be one of %s, not %q", strings.Join(Formats(), ", "), s.Format)}
	}
	c := &Compiled{kind: k}
	switch {
	case k == kindTransform && s.Transform == "":
		return nil, &Error{Field: "transform", Err: fmt.Errorf("required with format %q", TransformFormat)}
	case k != kindTransform && s.Transform != "":
		return nil, &Error{Field: "transform", Err: fmt.Errorf("needs format %q", TransformFormat)}
	case k == kindTransform:
		t, err := rules.CompileTransform(s.Transform)
		if err != nil {
			return nil, &Error{Field: "transform", Err: err}
		}
		c.transform = t
	}
	names := make([]string, 0, len(s.Headers))
	for name := range s.Headers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		tpl, err := rules.CompileTemplate(s.Headers[name])
		if err != nil {
			return nil, &Error{Field: "headers." + name, Err: err}
		}
		if tpl != nil {
			c.templates = append(c.templates, namedTemplate{name: name, tpl: tpl})
		}
	}
	return c, nil
}

// Format returns the compiled format's name.
func (c *Compiled) Format() string {
	if c == nil {
		return Standard
	}
	for name, k := range kinds {
		if k == c.kind && name != "" {
			return name
		}
	}
	return Standard
}

// Templated reports whether the endpoint has header values rendered per
// delivery.
func (c *Compiled) Templated() bool { return c != nil && len(c.templates) > 0 }

// IsTemplate reports whether a header value is a template, rendered per
// delivery by the router rather than sent as it is by the worker.
func IsTemplate(value string) bool { return rules.IsTemplate(value) }
