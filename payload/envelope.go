package payload

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/tenant"
)

// EnvelopeAPIVersion is the api_version of the envelope format: the
// version of Vellum's schema it follows.
const EnvelopeAPIVersion = "2024-10-25"

// envelope renders Vellum's webhook envelope:
//
//	{"id","timestamp","api_version","trace_id","span_id","parent","name","body"}
//
// id is the event id, name its type, body its data as sent. trace_id and
// span_id are UUID strings and parent an object or null, as in Vellum's
// schema; they come from the event (see traceOf).
func envelope(e *event.Event) []byte {
	tr := traceOf(e)
	data := e.Data
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	buf := make([]byte, 0, len(data)+len(tr.parent)+256)
	buf = append(buf, `{"id":`...)
	buf = appendString(buf, e.ID)
	buf = append(buf, `,"timestamp":"`...)
	buf = e.Time.UTC().AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, `","api_version":"`+EnvelopeAPIVersion+`","trace_id":`...)
	buf = appendString(buf, tr.traceID)
	buf = append(buf, `,"span_id":`...)
	buf = appendString(buf, tr.spanID)
	buf = append(buf, `,"parent":`...)
	buf = append(buf, tr.parent...)
	buf = append(buf, `,"name":`...)
	buf = appendString(buf, e.Type)
	buf = append(buf, `,"body":`...)
	buf = append(buf, data...)
	return append(buf, '}')
}

func appendString(buf []byte, s string) []byte {
	b, _ := json.Marshal(s)
	return append(buf, b...)
}

// trace is an event's place in a trace, as the envelope shows it.
type trace struct {
	traceID, spanID string
	parent          json.RawMessage // an object or null
}

// traceOf finds an event's trace, field by field, first in its data (a
// producer that sets trace_id, span_id or parent there means them), then
// in its W3C traceparent header: the trace id becomes trace_id, and the
// producer's span becomes the parent, {"span_id": ..., "parent": null}.
// Without either, trace_id starts a trace of its own and parent is null.
// span_id is the event's own span unless data names one: a UUID derived
// from the event, so every retry shows the same one.
func traceOf(e *event.Event) trace {
	tr := trace{
		traceID: derivedUUID("trace", e),
		spanID:  derivedUUID("span", e),
		parent:  json.RawMessage("null"),
	}
	if traceID, spanID, ok := parseTraceparent(header(e.Headers, "traceparent")); ok {
		tr.traceID = uuidOf(traceID)
		tr.parent = json.RawMessage(`{"span_id":"` + uuidOf(strings.Repeat("0", 16)+spanID) + `","parent":null}`)
	}
	fields := dataFields(e.Data)
	// One variable per field: unmarshalling null leaves it as it was.
	var trace, span string
	if json.Unmarshal(fields["trace_id"], &trace) == nil && trace != "" {
		tr.traceID = trace
	}
	if json.Unmarshal(fields["span_id"], &span) == nil && span != "" {
		tr.spanID = span
	}
	if p := bytes.TrimSpace(fields["parent"]); len(p) > 0 && (p[0] == '{' || string(p) == "null") {
		tr.parent = p
	}
	return tr
}

// dataFields returns the top-level fields of an object body as sent; nil
// for any other body.
func dataFields(data json.RawMessage) map[string]json.RawMessage {
	d := bytes.TrimSpace(data)
	if len(d) == 0 || d[0] != '{' || event.TooDeep(d) {
		return nil
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(d, &fields) != nil {
		return nil
	}
	return fields
}

// parseTraceparent reads a W3C traceparent
// ("00-<32 hex trace id>-<16 hex span id>-<2 hex flags>"); ok is false for
// anything else, which is ignored, as the recommendation says.
func parseTraceparent(v string) (traceID, spanID string, ok bool) {
	parts := strings.Split(strings.TrimSpace(v), "-")
	if len(parts) < 4 || len(parts[0]) != 2 || len(parts[1]) != 32 || len(parts[2]) != 16 || len(parts[3]) != 2 {
		return "", "", false
	}
	if parts[0] == "ff" || (parts[0] == "00" && len(parts) != 4) {
		return "", "", false
	}
	for _, p := range parts[:4] {
		if !isLowerHex(p) {
			return "", "", false
		}
	}
	if strings.Trim(parts[1], "0") == "" || strings.Trim(parts[2], "0") == "" {
		return "", "", false // all zeros: invalid
	}
	return parts[1], parts[2], true
}

func isLowerHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// uuidOf writes 32 hex digits in the UUID form 8-4-4-4-12: a W3C trace id
// is 16 bytes like a UUID, and receivers that parse Vellum's UUIDs parse
// it. Removing the dashes gives the W3C id back.
func uuidOf(h string) string {
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// derivedUUID is a version 8 (custom) UUID from the event's tenant and id:
// the same on every retry of every delivery of the event.
func derivedUUID(what string, e *event.Event) string {
	sum := sha256.Sum256([]byte("hookd " + what + "\x00" + tenant.Normalize(e.Tenant) + "\x00" + e.ID))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x80
	b[8] = b[8]&0x3f | 0x80
	return uuidOf(hex.EncodeToString(b))
}
