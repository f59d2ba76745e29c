package endpoint

import (
	"regexp"
	"time"

	"github.com/hookd/hookd/payload"
	"github.com/hookd/hookd/topology"
)

// Batch limits and defaults.
const (
	// DefaultBatchMaxEvents is a batch's size limit when max_events is unset.
	DefaultBatchMaxEvents = 100
	// MaxBatchEvents is the largest max_events.
	MaxBatchEvents = 1000
	// DefaultBatchMaxWait is how long a batch stays open when max_wait is
	// unset.
	DefaultBatchMaxWait = 10 * time.Second
	// MinBatchWait and MaxBatchWait bound max_wait: below a second a batch
	// is hardly one, and members are kept unacknowledged (heartbeated)
	// while it is open, which should not last for hours.
	MinBatchWait = time.Second
	MaxBatchWait = topology.MaxBatchWait
	// DefaultBatchField names the list of events in a batch body.
	DefaultBatchField = "events"
)

// Batch makes an endpoint collect its deliveries and send them as one POST,
// {"rule_id","start_time","end_time","<field>":[...]}, LangSmith's shape,
// once MaxEvents are collected or MaxWait after the first.
type Batch struct {
	// MaxEvents closes a batch when it holds this many deliveries.
	// Optional: default 100; 1 to 1000.
	MaxEvents int `json:"max_events,omitempty"`
	// MaxWait closes a batch this long after its first delivery was
	// collected. Optional: default 10s; 1s to 15m.
	MaxWait time.Duration `json:"max_wait,omitempty"`
	// Field names the list of events in the body (LangSmith's is "runs").
	// Optional: default "events".
	Field string `json:"field,omitempty"`
}

// WithDefaults returns b with every unset field at its default.
func (b Batch) WithDefaults() Batch {
	if b.MaxEvents == 0 {
		b.MaxEvents = DefaultBatchMaxEvents
	}
	if b.MaxWait == 0 {
		b.MaxWait = DefaultBatchMaxWait
	}
	if b.Field == "" {
		b.Field = DefaultBatchField
	}
	return b
}

// batchField is a field name receivers can address in any language's
// JSON tooling.
var batchField = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,63}$`)

func (b Batch) validate() error {
	if b.MaxEvents < 0 || b.MaxEvents > MaxBatchEvents {
		return fieldErr("batch.max_events", "must be from 1 to %d (0 or unset: %d)", MaxBatchEvents, DefaultBatchMaxEvents)
	}
	if b.MaxWait != 0 && (b.MaxWait < MinBatchWait || b.MaxWait > MaxBatchWait) {
		return fieldErr("batch.max_wait", "must be from %s to %s (unset: %s)", MinBatchWait, MaxBatchWait, DefaultBatchMaxWait)
	}
	if b.Field != "" && !batchField.MatchString(b.Field) {
		return fieldErr("batch.field", "must be 1 to 64 letters, digits, _ or -, not starting with a digit or -")
	}
	switch b.Field {
	case "rule_id", "start_time", "end_time":
		return fieldErr("batch.field", "%q is already a field of the batch body", b.Field)
	}
	return nil
}

// Batched reports whether the endpoint's deliveries are sent in batches.
func (e *Endpoint) Batched() bool { return e.Batch != nil }

func (e *Endpoint) validateBatch() error {
	if e.Batch == nil {
		return nil
	}
	if e.Ordered() {
		// A batch waits for its members while an ordered endpoint sends one
		// delivery at a time: the two do not compose.
		return fieldErr("batch", "cannot be combined with ordering \"ordered\"")
	}
	switch e.Format {
	case payload.Slack, payload.Discord, payload.Teams:
		// Chat services take one message per request, not a list.
		return fieldErr("batch", "cannot be combined with format %q: a chat message is one event", e.Format)
	}
	for name, v := range e.Headers {
		if payload.IsTemplate(v) {
			// One request carries many events: a value per event has no
			// single rendering.
			return fieldErr("batch", "cannot be combined with templated header %q", name)
		}
	}
	return e.Batch.validate()
}
