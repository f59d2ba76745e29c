package delivery

import (
	"crypto/sha256"
	"encoding/base32"
	"strings"
	"time"

	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/topology"
)

// Headers carried by a delivery message in an endpoint stream, and by its
// dead letter.
const (
	HeaderEventID    = "Hookd-Event-Id"
	HeaderEventType  = "Hookd-Event-Type"
	HeaderEndpointID = "Hookd-Endpoint-Id"
	HeaderDeliveryID = "Hookd-Delivery-Id"
	// HeaderEventSeq and HeaderEventTime locate the event in the events
	// stream, so a delivery can be re-rendered and queued again.
	HeaderEventSeq  = "Hookd-Event-Seq"
	HeaderEventTime = "Hookd-Event-Time"
	// HeaderAttemptBase is the number of attempts made before this queueing
	// of the delivery (set on a manual retry).
	HeaderAttemptBase = "Hookd-Attempt-Base"
	// HeaderContentType is the content type of the delivery's body, which
	// the worker sends; absent means application/json.
	HeaderContentType = "Hookd-Content-Type"
	// HeaderRenderedHeaders holds the endpoint's templated header values
	// rendered for this delivery by the router: a JSON object, sealed
	// under the master key when one is configured.
	HeaderRenderedHeaders = "Hookd-Headers"
	// HeaderRenderError says why the delivery could not be rendered in its
	// endpoint's format (a transform failing on this event, say): the body
	// is then the standard envelope, and the worker dead-letters the
	// delivery with this error without sending anything.
	HeaderRenderError = "Hookd-Render-Error"
	// HeaderLane is the lane (1..n) of a delivery to an ordered endpoint
	// with an ordering key; absent otherwise.
	HeaderLane = "Hookd-Lane"
	// HeaderError, HeaderAttempts and HeaderStatusCode are set on dead
	// letters: the last error, how many attempts were made, and the last
	// HTTP status (absent when there was none).
	HeaderError      = "Hookd-Error"
	HeaderAttempts   = "Hookd-Attempts"
	HeaderStatusCode = "Hookd-Status-Code"
)

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// Parts of a delivery id after "dlv_": the endpoint's fingerprint
// (topology.Fingerprint), the second its event was accepted, and a hash.
const (
	idSecondLen = 7  // 35 bits: seconds since 1970 for the next thousand years
	idHashLen   = 11 // 55 bits of SHA-256
	idLen       = topology.FingerprintLen + idSecondLen + idHashLen
)

// ID returns the id of the delivery of an event to an endpoint:
// "dlv_" + the endpoint's fingerprint (8) + the second the events stream
// accepted the event (e.Accepted, 7) + a hash of event and endpoint ids
// (11). It is deterministic, so a re-routed event yields the same delivery
// id, and it locates the delivery's records: its endpoint's log subject,
// from that second on (ParseID). An event with no acceptance time (not
// stored) takes Time's.
func ID(e *event.Event, endpointID string) string {
	at := e.Accepted
	if at.IsZero() {
		at = e.Time
	}
	sum := sha256.Sum256([]byte(e.ID + "\x00" + endpointID))
	return composeID(topology.Fingerprint(endpointID), at, sum[:])
}

// LegacyID is the id an earlier release gave the delivery of an event to
// an endpoint (a hash only), under which its records in the legacy
// attempts stream are.
func LegacyID(eventID, endpointID string) string {
	sum := sha256.Sum256([]byte(eventID + "\x00" + endpointID))
	return "dlv_" + idEncoding.EncodeToString(sum[:16])
}

func composeID(fp string, at time.Time, hash []byte) string {
	var sec [5]byte
	u := uint64(max(at.Unix(), 0))
	for i := 4; i >= 0; i-- {
		sec[i] = byte(u)
		u >>= 8
	}
	b := make([]byte, 0, 4+idLen)
	b = append(b, "dlv_"...)
	b = append(b, fp...)
	// 40 bits encode to 8 characters, the first of which carries the top
	// 5 bits: zero until the year 3058, dropped.
	b = append(b, idEncoding.EncodeToString(sec[:])[8-idSecondLen:]...)
	b = append(b, idEncoding.EncodeToString(hash[:7])[:idHashLen]...)
	return string(b)
}

// ParseID reads the endpoint fingerprint and the acceptance second a
// delivery id made by ID (or BatchID) holds. An id of an earlier release
// (a hash only) has the same form and parses to an arbitrary
// fingerprint and time, whose log subject holds none of its records: its
// records are in the legacy attempts stream. ok is false for what cannot
// be a delivery id.
func ParseID(id string) (fp string, accepted time.Time, ok bool) {
	rest, found := strings.CutPrefix(id, "dlv_")
	if !found || len(rest) != idLen {
		return "", time.Time{}, false
	}
	fp = rest[:topology.FingerprintLen]
	raw, err := idEncoding.DecodeString("0" + rest[topology.FingerprintLen:topology.FingerprintLen+idSecondLen])
	if err != nil {
		return "", time.Time{}, false
	}
	if _, err := idEncoding.DecodeString(fp); err != nil {
		return "", time.Time{}, false
	}
	var u uint64
	for _, c := range raw {
		u = u<<8 | uint64(c)
	}
	return fp, time.Unix(int64(u), 0).UTC(), true
}

// MsgID is the Nats-Msg-Id of the delivery of an event to an endpoint: the
// endpoint stream drops a second publish of it within its duplicate window.
func MsgID(eventID, endpointID string) string { return eventID + "." + endpointID }

// Outcome is what an attempt led to.
type Outcome string

// Outcomes of an attempt.
const (
	// OutcomePending: queued by a router, not yet attempted.
	OutcomePending Outcome = "pending"
	// OutcomeSucceeded: the endpoint answered 2xx.
	OutcomeSucceeded Outcome = "succeeded"
	// OutcomeRetrying: the attempt failed and another is scheduled.
	OutcomeRetrying Outcome = "retrying"
	// OutcomeDead: the attempt failed for good; the delivery was
	// dead-lettered.
	OutcomeDead Outcome = "dead"
	// OutcomeBatched: the delivery was collected into the batch BatchID,
	// which is delivered (and retried) in its place.
	OutcomeBatched Outcome = "batched"
)

// Attempt is one record of the delivery log: a delivery queued by a router
// (Number 0, OutcomePending) or one HTTP attempt of it.
type Attempt struct {
	DeliveryID string `json:"delivery_id"`
	EventID    string `json:"event_id"`
	EventType  string `json:"event_type"`
	EndpointID string `json:"endpoint_id"`
	// EventSeq is the event's sequence in the events stream; EventTime is
	// when it was accepted.
	EventSeq  uint64    `json:"event_seq,omitempty"`
	EventTime time.Time `json:"event_time"`
	Number    int       `json:"attempt"`
	// Queue tells queueings of one delivery apart: 0 for the router's, the
	// attempt count at the time for a manual retry. A queueing older than
	// the newest in the log is superseded and dropped.
	Queue int `json:"queue,omitempty"`
	// Lane is the delivery's lane at an ordered endpoint with an ordering
	// key (1..n), 0 otherwise: a manual retry queues it in the same lane.
	Lane int       `json:"lane,omitempty"`
	Time time.Time `json:"time"`
	// StatusCode is the HTTP status, 0 when no response arrived.
	StatusCode int `json:"status_code,omitempty"`
	// Error says why the attempt failed, empty on success.
	Error string `json:"error,omitempty"`
	// DurationSeconds is the time from sending to the response's end.
	DurationSeconds float64 `json:"duration_seconds"`
	// Response is the first bytes of the response body.
	Response string  `json:"response,omitempty"`
	Outcome  Outcome `json:"outcome"`
	// NextAttemptIn is the retry delay in seconds when Outcome is retrying.
	NextAttemptInSeconds float64 `json:"next_attempt_in_seconds,omitempty"`
	// BatchID is, on a member's batched record, the batch it went into.
	BatchID string `json:"batch_id,omitempty"`
	// BatchSize is, on a batch's records, how many deliveries it holds.
	BatchSize int `json:"batch_size,omitempty"`
}
