package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/internal/natsname"
	"github.com/hookd/hookd/topology"
)

// apiError is the body of every error answer:
// {"error":{"code":"invalid_field","field":"filter","message":"..."}}.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	// RetryAfter is the Retry-After of a 503 or 429, in seconds. Optional:
	// default 1.
	RetryAfter int `json:"-"`
}

func (e *apiError) Error() string { return e.Message }

func fieldError(field, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "invalid_field", Field: field, Message: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // filters are full of && and <
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: err.Error()}
	}
	if ae.Status == http.StatusServiceUnavailable || ae.Status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(max(ae.RetryAfter, 1)))
	}
	writeJSON(w, ae.Status, map[string]*apiError{"error": ae})
}

// decodeBody decodes one JSON object of at most limit bytes into v,
// refusing unknown fields so a misspelt field is an error, not ignored.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	return decodeStrict(http.MaxBytesReader(w, r.Body, limit), "body", limit, v)
}

// decodeStrict decodes the one JSON object rd holds into v, refusing
// unknown fields and anything after the object. what names the input in
// messages ("body", "item"); limit is the size a MaxBytesReader under rd
// enforces, for its message.
func decodeStrict(rd io.Reader, what string, limit int64, v any) error {
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var maxErr *http.MaxBytesError
		var typeErr *json.UnmarshalTypeError
		var syntaxErr *json.SyntaxError
		switch {
		case errors.As(err, &maxErr):
			return &apiError{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: fmt.Sprintf("%s larger than %d bytes", what, limit)}
		case errors.As(err, &typeErr) && typeErr.Field == "":
			return &apiError{Status: http.StatusBadRequest, Code: "invalid_json", Message: what + " must be a JSON object, not JSON " + typeErr.Value}
		case errors.As(err, &typeErr):
			return fieldError(typeErr.Field, "must be %s, not JSON %s", jsonKind(typeErr.Type), typeErr.Value)
		case errors.As(err, &syntaxErr):
			return &apiError{Status: http.StatusBadRequest, Code: "invalid_json", Message: fmt.Sprintf("%s is not valid JSON at byte %d: %v", what, syntaxErr.Offset, err)}
		case errors.Is(err, io.EOF):
			return &apiError{Status: http.StatusBadRequest, Code: "invalid_json", Message: what + " is empty: a JSON object is required"}
		case errors.Is(err, io.ErrUnexpectedEOF):
			return &apiError{Status: http.StatusBadRequest, Code: "invalid_json", Message: what + " is not valid JSON: it ends early"}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return fieldError(field, "unknown field")
		default:
			return &apiError{Status: http.StatusBadRequest, Code: "invalid_json", Message: err.Error()}
		}
	}
	if dec.More() {
		return &apiError{Status: http.StatusBadRequest, Code: "invalid_json", Message: what + " has data after the JSON object"}
	}
	return nil
}

// natsError maps a failure to reach or use JetStream to an answer: too
// large is the client's to fix (413), anything else is ours and passing
// (503 with Retry-After), never a 500 for what a retry can fix. An id no
// edge check caught but the store refused before asking the server
// (natsname.ErrInvalidName) names nothing that can exist: 404.
func natsError(what string, err error) *apiError {
	switch {
	case errors.Is(err, natsname.ErrInvalidName):
		return &apiError{Status: http.StatusNotFound, Code: "not_found", Message: what + ": " + err.Error()}
	case errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum), errors.Is(err, nats.ErrMaxPayload):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: what + ": " + err.Error()}
	default:
		return &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: what + ": " + err.Error()}
	}
}

// backpressureRetryAfter is the Retry-After, in seconds, of a publish
// refused because a stream is full: room comes back as routers and
// workers drain the streams, not within a second.
const backpressureRetryAfter = 5

// publishError maps a failed publish to an answer like natsError does, but
// a stream that refuses the message because it reached a limit is
// backpressure: 503 "backpressure" with Retry-After, so the producer slows
// down and retries; the server's or account's storage exhausted is 503
// "storage_full".
func publishError(what string, err error) *apiError {
	if topology.IsStorageFull(err) {
		return storageFull(what, err)
	}
	if topology.IsStreamFull(err) {
		reason := err.Error()
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) {
			reason = apiErr.Description
		}
		return &apiError{Status: http.StatusServiceUnavailable, Code: "backpressure", RetryAfter: backpressureRetryAfter,
			Message: fmt.Sprintf("%s: stream full (%s), retry after %d seconds", what, reason, backpressureRetryAfter)}
	}
	return natsError(what, err)
}

func notFound(what, id string) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: "not_found", Message: fmt.Sprintf("%s %q not found", what, id)}
}

// jsonKind names a Go type the way a JSON client thinks of it: "an
// object", not "httpapi.sampleEvent".
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return t.String()
}
