package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// SubjectPrefix is the subject namespace producers publish events under:
// an event of type "function.executed" is published to
// "events.function.executed". A deployment with a prefix puts its own in
// front ("<prefix>.events.function.executed"): topology.Names composes the
// subjects hookd really uses from the ones here.
const SubjectPrefix = "events."

// TenantHeader addresses an event published to "events.<type>" to a
// tenant.
const TenantHeader = "Hookd-Tenant"

// TenantSubject returns the subject an event of type typ addressed to
// tenant is published to: "tenants.<tenant>.events.<type>".
func TenantSubject(tenant, typ string) string { return "tenants." + tenant + "." + SubjectPrefix + typ }

// ParseSubject splits an events-stream subject into the tenant it addresses
// ("" for "events.<type>") and the event type.
func ParseSubject(subject string) (tenant, typ string) {
	if rest, ok := strings.CutPrefix(subject, "tenants."); ok {
		if t, after, ok := strings.Cut(rest, "."); ok {
			if typ, ok := strings.CutPrefix(after, SubjectPrefix); ok {
				return t, typ
			}
		}
	}
	return "", strings.TrimPrefix(subject, SubjectPrefix)
}

// MsgIDScope is the prefix of a tenant's event ids in Nats-Msg-Id: ""
// for the default tenant, "<tenant>/" otherwise.
func MsgIDScope(tenantID string) string {
	if tenantID == "" || tenantID == "default" {
		return ""
	}
	return tenantID + "/"
}

// Event is one thing that happened in the producer's system.
type Event struct {
	// ID identifies the event; it is the Standard Webhooks webhook-id of
	// every delivery made for it, so receivers can de-duplicate.
	ID string
	// Type is the dotted event type, e.g. "workflow.execution.fulfilled".
	Type string
	// Subject is the NATS subject the event was accepted on, without the
	// deployment's prefix (topology.Names.Unprefixed): "events.<type>" or
	// "tenants.<tenant>.events.<type>", so filters and templates read the
	// same whatever the prefix.
	Subject string
	// Time is when the event happened: a CloudEvent's time attribute when
	// it has a valid one, else when hookd accepted the event.
	Time time.Time
	// Source is a CloudEvent's source attribute, "" for other events.
	Source string
	// Data is the event's JSON payload, as the producer sent it (a body
	// that is not JSON becomes a JSON string, see NormalizeData).
	Data json.RawMessage
	// Raw is the body exactly as published, JSON or not; its content type,
	// when the producer gave one, is Headers["Content-Type"].
	Raw []byte
	// NotJSON says Raw is not JSON: Data holds it as a JSON string, and
	// filters see data null.
	NotJSON bool
	// Headers are the NATS headers the producer set (first value of each).
	Headers map[string]string
	// Seq is the event's sequence in the events stream, 0 before it is
	// stored.
	Seq uint64
	// Tenant is the tenant the event is addressed to (tenant.Default when
	// it names none).
	Tenant string
	// Accepted is when the events stream stored the event (its stream
	// timestamp, whatever Time says): part of the event's delivery ids,
	// which locate their records from it. Zero before it is stored.
	Accepted time.Time
}

// ErrInvalidType reports an event type that cannot be a NATS subject suffix.
var ErrInvalidType = errors.New("invalid event type")

// Subject returns the NATS subject an event of type typ is published to,
// without a deployment's prefix (see topology.Names.EventSubject).
func Subject(typ string) string { return SubjectPrefix + typ }

// TypeFromSubject returns the event type carried by a subject, that is the
// subject without the "events." prefix.
func TypeFromSubject(subject string) (string, error) {
	typ, ok := strings.CutPrefix(subject, SubjectPrefix)
	if !ok {
		return "", fmt.Errorf("%w: subject %q lacks the %q prefix", ErrInvalidType, subject, SubjectPrefix)
	}
	return typ, ValidateType(typ)
}

// ValidateType checks that typ is a non-empty, dot-separated list of tokens
// without wildcards or white space, so it is a valid subject suffix.
func ValidateType(typ string) error {
	if typ == "" {
		return fmt.Errorf("%w: empty", ErrInvalidType)
	}
	if len(typ) > 255 {
		return fmt.Errorf("%w: longer than 255 characters", ErrInvalidType)
	}
	for _, tok := range strings.Split(typ, ".") {
		if tok == "" {
			return fmt.Errorf("%w: %q has an empty token", ErrInvalidType, typ)
		}
		if tok == "*" || tok == ">" || strings.ContainsAny(tok, " \t\r\n*>") {
			return fmt.Errorf("%w: %q contains a wildcard or white space", ErrInvalidType, typ)
		}
	}
	return nil
}

// NormalizeData returns data as a JSON value. A body that is not JSON is
// delivered as a JSON string rather than dropped; an empty body becomes null.
func NormalizeData(body []byte) json.RawMessage {
	data, _ := Normalize(body)
	return data
}

// Normalize is NormalizeData, and also reports whether body was JSON (an
// empty body counts as JSON null): filters see data null for a body that
// was not.
func Normalize(body []byte) (data json.RawMessage, isJSON bool) {
	if len(body) == 0 {
		return json.RawMessage("null"), true
	}
	if json.Valid(body) {
		return json.RawMessage(body), true
	}
	s, _ := json.Marshal(string(body))
	return s, false
}
