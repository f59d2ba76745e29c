package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"

	"github.com/hookd/hookd/endpoint"
)

// batchView is an endpoint's batching as the API shows it, every field
// at its effective value.
type batchView struct {
	MaxEvents int    `json:"max_events"`
	MaxWait   string `json:"max_wait"`
	Field     string `json:"field"`
}

func batchOf(b *endpoint.Batch) *batchView {
	if b == nil {
		return nil
	}
	eff := b.WithDefaults()
	return &batchView{MaxEvents: eff.MaxEvents, MaxWait: eff.MaxWait.String(), Field: eff.Field}
}

// batchInput is the batch object of create and PATCH: absent fields keep
// their value, or take the default on an endpoint that was not batched.
type batchInput struct {
	MaxEvents *int    `json:"max_events"`
	MaxWait   *string `json:"max_wait"`
	Field     *string `json:"field"`
}

// applyBatch sets e's batching from the raw "batch" member of a request:
// absent (nil) keeps it, null turns batching off, an object turns it on or
// changes it.
func applyBatch(e *endpoint.Endpoint, raw json.RawMessage) error {
	if raw == nil {
		return nil
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		e.Batch = nil
		return nil
	}
	var in batchInput
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return fieldError("batch."+typeErr.Field, "must be %s, not JSON %s", jsonKind(typeErr.Type), typeErr.Value)
		}
		return fieldError("batch", "must be null or an object of max_events, max_wait and field: %v", err)
	}
	b := endpoint.Batch{}
	if e.Batch != nil {
		b = *e.Batch // a copy: the caller may compare with the endpoint before
	}
	if in.MaxEvents != nil {
		if *in.MaxEvents < 1 {
			return fieldError("batch.max_events", "must be from 1 to %d", endpoint.MaxBatchEvents)
		}
		b.MaxEvents = *in.MaxEvents
	}
	if in.MaxWait != nil {
		d := time.Duration(0) // "" is the default
		if *in.MaxWait != "" {
			var err error
			if d, err = time.ParseDuration(*in.MaxWait); err != nil || d <= 0 {
				return fieldError("batch.max_wait", "%q is not a duration like 10s or 5m", *in.MaxWait)
			}
		}
		b.MaxWait = d
	}
	if in.Field != nil {
		b.Field = *in.Field
	}
	e.Batch = &b
	return nil
}
