package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/tenant"
	"github.com/hookd/hookd/topology"
	"github.com/hookd/hookd/tracing"
)

// maxEventIDLen bounds a producer-chosen event id.
const maxEventIDLen = 128

type eventInput struct {
	// ID is optional: the Idempotency-Key header, or a generated id, when
	// absent. Re-sending an id within the duplicate window is a no-op.
	ID     string          `json:"id"`
	Type   string          `json:"type"`
	Data   json.RawMessage `json:"data"`
	Tenant string          `json:"tenant"`
}

type eventAccepted struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Duplicate bool   `json:"duplicate"`
}

// publishEvent answers 202 only once JetStream has acknowledged the event,
// and 503 "backpressure" (with Retry-After) when the events stream is full.
func (a *API) publishEvent(w http.ResponseWriter, r *http.Request) {
	var in eventInput
	if err := decodeBody(w, r, MaxEventBody, &in); err != nil {
		writeError(w, err)
		return
	}
	if err := event.ValidateType(in.Type); err != nil {
		writeError(w, fieldError("type", "%v", err))
		return
	}
	if in.ID == "" {
		in.ID = r.Header.Get("Idempotency-Key")
	}
	if in.ID == "" {
		in.ID = event.NewID("evt")
	} else if len(in.ID) > maxEventIDLen || strings.ContainsAny(in.ID, " \t\r\n/") {
		// "/" is reserved: a tenant's ids are scoped as "<tenant>/<id>".
		writeError(w, fieldError("id", "must be 1 to %d characters without white space or /", maxEventIDLen))
		return
	}
	if len(in.Data) == 0 {
		in.Data = json.RawMessage("null")
	}
	if event.TooDeep(in.Data) {
		writeError(w, fieldError("data", "nests arrays and objects deeper than %d levels", event.MaxDepth))
		return
	}
	tenantID, err := accessOf(r).tenantFor(in.Tenant)
	if err != nil {
		writeError(w, err)
		return
	}
	t, err := a.tenants.Get(r.Context(), tenantID)
	if errors.Is(err, tenant.ErrNotFound) {
		writeError(w, fieldError("tenant", "unknown tenant %q", tenantID))
		return
	}
	if err != nil {
		writeError(w, natsError("tenant not read", err))
		return
	}
	if !a.limiter.allow(t.ID, t.Limits.EventsPerSecond) {
		writeError(w, &apiError{Status: http.StatusTooManyRequests, Code: "limit_exceeded",
			Message: fmt.Sprintf("tenant %s publishes more than its %g events per second (limits.events_per_second)", t.ID, t.Limits.EventsPerSecond)})
		return
	}
	subject := event.Subject(in.Type)
	if t.ID != tenant.Default {
		subject = event.TenantSubject(t.ID, in.Type)
	}
	m := nats.NewMsg(subject)
	m.Data = in.Data
	// The producer's trace context travels with the event as NATS headers,
	// as if it had published over NATS; an invalid traceparent is dropped.
	tracing.Inject(tracing.ExtractHTTP(r.Context(), r.Header), m.Header)
	if len(in.Data) > topology.MaxEventSize {
		writeError(w, &apiError{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Field: "data",
			Message: fmt.Sprintf("data is %d bytes, more than the %d allowed", len(in.Data), topology.MaxEventSize)})
		return
	}
	ack, err := a.js.PublishMsg(r.Context(), m, jetstream.WithMsgID(event.MsgIDScope(t.ID)+in.ID))
	if err != nil {
		a.log.Warn("event not accepted", "type", in.Type, "err", err)
		writeError(w, publishError("event not stored", err))
		return
	}
	writeJSON(w, http.StatusAccepted, eventAccepted{ID: in.ID, Type: in.Type, Duplicate: ack.Duplicate})
}
