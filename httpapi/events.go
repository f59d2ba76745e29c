package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/catalog"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/ops"
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
// 503 "backpressure" (with Retry-After) when the events stream is full,
// and 503 "storage_full" at once while storage refuses writes.
// The body is hookd's JSON form, or a structured CloudEvent
// (Content-Type: application/cloudevents+json), stored in binary mode.
func (a *API) publishEvent(w http.ResponseWriter, r *http.Request) {
	var in eventInput
	var ce *event.CloudEvent
	switch ct := r.Header.Get("Content-Type"); {
	case event.IsBatch(ct):
		writeError(w, &apiError{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
			Message: "batches of CloudEvents are not accepted: send each as application/cloudevents+json"})
		return
	case event.IsStructured(ct):
		var err error
		if ce, err = readCloudEvent(w, r); err != nil {
			writeError(w, err)
			return
		}
		in = eventInput{ID: ce.ID, Type: ce.Type, Data: event.NormalizeData(ce.Data), Tenant: r.Header.Get(event.TenantHeader)}
	default:
		if err := decodeBody(w, r, MaxEventBody, &in); err != nil {
			writeError(w, err)
			return
		}
	}
	if err := event.ValidateType(in.Type); err != nil {
		writeError(w, fieldError("type", "%v", err))
		return
	}
	if ops.IsOps(in.Type) {
		// Receivers of hookd.* events must be able to trust they are
		// hookd's (an endpoint auto-disabled, a delivery exhausted).
		writeError(w, fieldError("type", "%q: the %s type space is hookd's own operational events, which no key may publish", in.Type, ops.TypePrefix))
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
	if err := a.checkData(r, in.Type, in.Data); err != nil {
		writeError(w, err)
		return
	}
	subject := a.topo.Names().EventSubject(in.Type)
	if t.ID != tenant.Default {
		subject = a.topo.Names().TenantEventSubject(t.ID, in.Type)
	}
	m := nats.NewMsg(subject)
	m.Data = in.Data
	if ce != nil {
		m.Data = ce.Data
		for k, v := range ce.Headers() {
			m.Header.Set(k, v)
		}
	}
	// The producer's trace context travels with the event as NATS headers,
	// as if it had published over NATS (the envelope format and tracing
	// read it); an invalid traceparent is dropped.
	tracing.Inject(tracing.ExtractHTTP(r.Context(), r.Header), m.Header)
	if len(m.Data) > topology.MaxEventSize {
		writeError(w, &apiError{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Field: "data",
			Message: fmt.Sprintf("data is %d bytes, more than the %d allowed", len(m.Data), topology.MaxEventSize)})
		return
	}
	if err := a.storageErr(); err != nil {
		writeError(w, storageFull("event not stored", err))
		return
	}
	// The id, scoped to the tenant, is the stream's duplicate key: a
	// CloudEvent re-sent with its id is stored once.
	ctx, stop := a.whileStorageTakes(r.Context())
	ack, err := a.js.PublishMsg(ctx, m, jetstream.WithMsgID(event.MsgIDScope(t.ID)+in.ID))
	stop()
	if err != nil {
		a.log.Warn("event not accepted", "type", in.Type, "err", err)
		if serr := a.storageErr(); serr != nil {
			writeError(w, storageFull("event not stored", serr))
			return
		}
		writeError(w, publishError("event not stored", err))
		return
	}
	writeJSON(w, http.StatusAccepted, eventAccepted{ID: in.ID, Type: in.Type, Duplicate: ack.Duplicate})
}

// readCloudEvent reads a structured CloudEvent body and checks it as
// event.CloudEvent.Validate does; errors name the attribute.
func readCloudEvent(w http.ResponseWriter, r *http.Request) (*event.CloudEvent, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxEventBody))
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return nil, &apiError{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: fmt.Sprintf("body larger than %d bytes", MaxEventBody)}
	}
	if err != nil {
		return nil, &apiError{Status: http.StatusBadRequest, Code: "invalid_json", Message: "body not read: " + err.Error()}
	}
	ce, err := event.ParseStructured(body)
	if err == nil {
		err = ce.Validate()
	}
	var ae *event.AttributeError
	switch {
	case errors.As(err, &ae):
		return nil, fieldError(ae.Name, "%s", ae.Message)
	case err != nil:
		return nil, &apiError{Status: http.StatusBadRequest, Code: "invalid_json", Message: err.Error()}
	}
	return ce, nil
}

// checkData refuses data that does not match its type's schema in the
// event-type catalogue: 400 naming `data`, with where and why.
func (a *API) checkData(r *http.Request, typ string, data json.RawMessage) error {
	err := a.catalog.Check(r.Context(), typ, data)
	var se *catalog.SchemaError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return fieldError("data", "does not match the schema of event type %s: %v", typ, se)
	default:
		return &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: err.Error()}
	}
}
