package event

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"
)

// CloudEvents (https://cloudevents.io, version 1.0) are understood in two
// modes, over NATS and over the HTTP API:
//
//   - binary: the attributes are "ce-<name>" headers (ce-specversion marks
//     the mode), the body is the data and Content-Type its media type;
//   - structured: Content-Type application/cloudevents+json, the body is
//     the event as JSON, with "data" (JSON) or "data_base64".
//
// How attributes become the event's fields (SetCloudEvent):
//
//   - id becomes the event's id, hence the webhook-id of its deliveries
//     (Nats-Msg-Id stays the events stream's duplicate key);
//   - type does not override the subject: the subject "events.<type>"
//     decides, except on the generic subject "events.cloudevents" (or
//     "tenants.<t>.events.cloudevents") where type decides. NATS
//     permissions are granted per subject, so the subject is what an
//     operator can authorise: a producer allowed "events.orders.>" cannot
//     emit "payments.refunded" by setting a header, and permission to
//     publish to the generic subject is the explicit grant of any type
//     (but hookd's own "hookd." types);
//   - time, when a valid RFC 3339 time, becomes the event's time (the
//     envelope's timestamp), else the time hookd accepted the event;
//   - source becomes the event's source, which filters read as `source`.
//
// Every attribute is also in the event's headers as "ce-<name>", in both
// modes, so filters read any of them (headers["ce-subject"]).
const (
	// StructuredContentType is the media type of a structured-mode event.
	StructuredContentType = "application/cloudevents+json"
	// BatchContentType is the media type of a batch of structured events,
	// which hookd does not accept.
	BatchContentType = "application/cloudevents-batch+json"
	// CloudEventsType is the subject type ("events.cloudevents") whose
	// events take their type from the CloudEvents type attribute.
	CloudEventsType = "cloudevents"
	// SpecVersion is the CloudEvents version the API accepts.
	SpecVersion = "1.0"

	ceHeaderPrefix = "ce-"
)

// CloudEvent is what hookd reads of a CloudEvent.
type CloudEvent struct {
	SpecVersion     string
	ID              string
	Source          string
	Type            string
	Subject         string
	DataContentType string
	// Time is the time attribute, zero when absent or not RFC 3339.
	Time time.Time
	// Data is the data as bytes: the body in binary mode; in structured
	// mode the JSON of "data" (a string's text when datacontenttype is not
	// JSON) or the decoded "data_base64". Nil when there is none.
	Data []byte
	// Extensions are the other attributes (dataschema included), by name,
	// as text.
	Extensions map[string]string

	rawTime    string
	structured bool
}

// AttributeError reports a CloudEvents attribute with an unacceptable
// value; Name is the attribute, as the API's error field.
type AttributeError struct {
	Name, Message string
}

func (e *AttributeError) Error() string { return e.Name + ": " + e.Message }

// IsStructured reports whether a Content-Type is the structured mode's.
func IsStructured(contentType string) bool { return mediaType(contentType) == StructuredContentType }

// IsBatch reports whether a Content-Type is the batch mode's.
func IsBatch(contentType string) bool { return mediaType(contentType) == BatchContentType }

func mediaType(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return ""
	}
	return mt
}

// ReadCloudEvent reads the CloudEvent a NATS message carries: structured
// when its Content-Type says so, else binary when it has a ce-specversion
// header. It returns nil (and no error) for a message that is neither; an
// error says a structured body is not a CloudEvent.
func ReadCloudEvent(h map[string][]string, body []byte) (*CloudEvent, error) {
	if IsStructured(header(h, "Content-Type")) {
		return ParseStructured(body)
	}
	return FromBinary(h, body), nil
}

// FromBinary reads a binary-mode CloudEvent from headers (names matched
// without regard to case) and body; nil when there is no ce-specversion.
func FromBinary(h map[string][]string, body []byte) *CloudEvent {
	if header(h, ceHeaderPrefix+"specversion") == "" {
		return nil
	}
	ce := &CloudEvent{Data: body, DataContentType: header(h, "Content-Type")}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys) // two spellings of one attribute: the same one wins every time
	for _, k := range keys {
		name, ok := cutPrefixFold(k, ceHeaderPrefix)
		if !ok || len(h[k]) == 0 {
			continue
		}
		ce.set(strings.ToLower(name), h[k][0])
	}
	return ce
}

// set stores a string attribute.
func (ce *CloudEvent) set(name, v string) {
	switch name {
	case "specversion":
		ce.SpecVersion = v
	case "id":
		ce.ID = v
	case "source":
		ce.Source = v
	case "type":
		ce.Type = v
	case "subject":
		ce.Subject = v
	case "datacontenttype":
		ce.DataContentType = v
	case "time":
		ce.rawTime = v
		ce.Time, _ = time.Parse(time.RFC3339Nano, v) // zero when not RFC 3339
	default:
		if ce.Extensions == nil {
			ce.Extensions = map[string]string{}
		}
		ce.Extensions[name] = v
	}
}

// ParseStructured reads a structured-mode body. Errors are
// *AttributeError when an attribute is malformed.
func ParseStructured(body []byte) (*CloudEvent, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil || members == nil {
		return nil, errors.New("a structured CloudEvent must be a JSON object")
	}
	ce := &CloudEvent{structured: true}
	var data, data64 json.RawMessage
	for name, raw := range members {
		switch name {
		case "data":
			data = raw
			continue
		case "data_base64":
			data64 = raw
			continue
		}
		v, err := attributeText(raw)
		if err != nil {
			return nil, &AttributeError{Name: name, Message: err.Error()}
		}
		ce.set(name, v)
	}
	switch {
	case data != nil && data64 != nil:
		return nil, &AttributeError{Name: "data_base64", Message: "must not be given with data"}
	case data64 != nil:
		var s string
		if err := json.Unmarshal(data64, &s); err != nil {
			return nil, &AttributeError{Name: "data_base64", Message: "must be a string"}
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, &AttributeError{Name: "data_base64", Message: "is not base64: " + err.Error()}
		}
		ce.Data = b
	case data != nil:
		ce.Data = bytes.TrimSpace(data)
		// Data of a media type other than JSON is its text, as a string.
		var s string
		if ce.DataContentType != "" && !isJSONMedia(ce.DataContentType) && json.Unmarshal(data, &s) == nil {
			ce.Data = []byte(s)
		}
	}
	return ce, nil
}

// attributeText turns an attribute's JSON value into its text: a string as
// is, a number or boolean as written. Objects, arrays and null are not
// CloudEvents attribute values.
func attributeText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	switch v.(type) {
	case float64, bool:
		return string(raw), nil
	}
	return "", errors.New("must be a string, number or boolean")
}

// isJSONMedia reports a JSON media type: application/json or any +json.
func isJSONMedia(contentType string) bool {
	mt := mediaType(contentType)
	return mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

var extensionName = regexp.MustCompile(`^[a-z0-9]{1,20}$`)

// Validate checks what the API requires of a CloudEvent it accepts: the
// required attributes, specversion 1.0, an RFC 3339 time, a URI-reference
// source, extension names of 1 to 20 lowercase letters and digits, and no
// line breaks anywhere (attributes travel as NATS headers). Errors are
// *AttributeError.
func (ce *CloudEvent) Validate() error {
	if ce.SpecVersion != SpecVersion {
		return &AttributeError{Name: "specversion", Message: fmt.Sprintf("must be %q, not %q", SpecVersion, ce.SpecVersion)}
	}
	for _, req := range []struct{ name, v string }{{"id", ce.ID}, {"source", ce.Source}, {"type", ce.Type}} {
		if req.v == "" {
			return &AttributeError{Name: req.name, Message: "required"}
		}
	}
	if _, err := url.Parse(ce.Source); err != nil {
		return &AttributeError{Name: "source", Message: "must be a URI-reference: " + err.Error()}
	}
	if ce.rawTime != "" && ce.Time.IsZero() {
		return &AttributeError{Name: "time", Message: fmt.Sprintf("%q is not an RFC 3339 time", ce.rawTime)}
	}
	for name := range ce.Extensions {
		if !extensionName.MatchString(name) {
			return &AttributeError{Name: name, Message: "is not an attribute name: 1 to 20 of a-z and 0-9"}
		}
	}
	for name, v := range ce.Headers() {
		if strings.ContainsAny(v, "\r\n") {
			return &AttributeError{Name: strings.TrimPrefix(strings.ToLower(name), ceHeaderPrefix), Message: "must not contain a line break"}
		}
	}
	return nil
}

// Headers returns the binary-mode headers of ce: "ce-<name>" for every
// attribute, and Content-Type for datacontenttype (application/json for
// structured JSON data without one).
func (ce *CloudEvent) Headers() map[string]string {
	h := make(map[string]string, 8+len(ce.Extensions))
	put := func(name, v string) {
		if v != "" {
			h[ceHeaderPrefix+name] = v
		}
	}
	put("specversion", ce.SpecVersion)
	put("id", ce.ID)
	put("source", ce.Source)
	put("type", ce.Type)
	put("subject", ce.Subject)
	put("time", ce.rawTime)
	for name, v := range ce.Extensions {
		put(name, v)
	}
	ct := ce.DataContentType
	if ct == "" && ce.structured && ce.Data != nil {
		ct = "application/json"
	}
	if ct != "" {
		h["Content-Type"] = ct
	}
	return h
}

// SetCloudEvent makes e the event ce describes, by the precedence in this
// file's comment. e must be decoded from its message already: its type is
// the subject's.
func (e *Event) SetCloudEvent(ce *CloudEvent) {
	if ce.ID != "" {
		e.ID = ce.ID
	}
	// hookd's own operational types (ops.TypePrefix) need their subject:
	// permission to publish to the generic one does not grant them.
	if e.Type == CloudEventsType && ValidateType(ce.Type) == nil && !strings.HasPrefix(ce.Type, "hookd.") {
		e.Type = ce.Type
	}
	if !ce.Time.IsZero() {
		e.Time = ce.Time.UTC()
	}
	e.Source = ce.Source
	// Attributes as lower-case "ce-<name>" headers whatever the mode and
	// the producer's spelling, so one filter reads both.
	if e.Headers == nil {
		e.Headers = map[string]string{}
	}
	for k := range e.Headers {
		if _, ok := cutPrefixFold(k, ceHeaderPrefix); ok || ce.structured && strings.EqualFold(k, "Content-Type") {
			delete(e.Headers, k)
		}
	}
	for k, v := range ce.Headers() {
		if k != "Content-Type" || ce.structured {
			e.Headers[k] = v
		}
	}
	if ce.structured {
		// The body was the whole event: what endpoints get is its data.
		e.Raw = ce.Data
		var isJSON bool
		e.Data, isJSON = Normalize(ce.Data)
		e.NotJSON = !isJSON
	}
}

// DataOf returns the data of an events-stream message, as NormalizeData
// does, but for a structured CloudEvent the data inside it.
func DataOf(h map[string][]string, body []byte) json.RawMessage {
	if IsStructured(header(h, "Content-Type")) {
		if ce, err := ParseStructured(body); err == nil {
			return NormalizeData(ce.Data)
		}
	}
	return NormalizeData(body)
}

// header returns the first value of the header name, matched without
// regard to case (NATS headers are case-sensitive; producers vary).
func header(h map[string][]string, name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	best := ""
	found := false
	for k, v := range h {
		// The smallest spelling wins: deterministic when several are present.
		if strings.EqualFold(k, name) && len(v) > 0 && (!found || k < best) {
			best, found = k, true
		}
	}
	if !found {
		return ""
	}
	return h[best][0]
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}
