package endpoint

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/hookd/hookd/rules"
	"github.com/hookd/hookd/signing"
)

// Limits on endpoint fields.
const (
	MaxTimeout     = 2 * time.Minute
	maxHeaders     = 32
	maxMetadata    = 64
	maxNameLen     = 256
	maxDescription = 2048
)

// reservedHeaders are set by hookd on every delivery and cannot be
// overridden.
var reservedHeaders = map[string]bool{
	"Webhook-Id": true, "Webhook-Timestamp": true, "Webhook-Signature": true,
	"Content-Type": true, "Content-Length": true, "User-Agent": true, "Host": true,
	"Transfer-Encoding": true, "Connection": true,
}

// FieldError reports an endpoint field with an unacceptable value.
type FieldError struct {
	// Field is the JSON name of the field, e.g. "filter" or "events[1]".
	Field string
	// Message says what is wrong, e.g. expr's message with line and column.
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Validate checks every field of e and compiles its rule, so an endpoint
// that would fail at routing time is never stored. Errors are *FieldError.
func (e *Endpoint) Validate() (*rules.Rule, error) {
	if err := ValidateURL(e.URL); err != nil {
		return nil, &FieldError{Field: "url", Message: err.Error()}
	}
	if len(e.Name) > maxNameLen {
		return nil, fieldErr("name", "longer than %d characters", maxNameLen)
	}
	if len(e.Description) > maxDescription {
		return nil, fieldErr("description", "longer than %d characters", maxDescription)
	}
	for i, p := range e.Events {
		if _, err := rules.ParsePattern(p); err != nil {
			return nil, &FieldError{Field: fmt.Sprintf("events[%d]", i), Message: err.Error()}
		}
	}
	if err := validateSecret(e.Secret); err != nil {
		return nil, &FieldError{Field: "secret", Message: err.Error()}
	}
	if err := validateHeaders(e.Headers); err != nil {
		return nil, err
	}
	if e.Timeout < 0 || e.Timeout > MaxTimeout || (e.Timeout > 0 && e.Timeout < 100*time.Millisecond) {
		return nil, fieldErr("timeout", "must be from 100ms to %s", MaxTimeout)
	}
	if err := validateMetadata(e.Metadata); err != nil {
		return nil, err
	}
	if err := e.Retry.validate(); err != nil {
		return nil, err
	}
	if e.RateLimit < 0 || e.RateLimit > 10000 {
		return nil, fieldErr("rate_limit", "must be from 0 (none) to 10000 deliveries per second")
	}
	if e.MaxInFlight < 0 || e.MaxInFlight > 10000 {
		return nil, fieldErr("max_in_flight", "must be from 0 (no cap) to 10000")
	}
	if e.Profile != "" && e.Profile != ProfileStandard && e.Profile != ProfileLangSmith {
		return nil, fieldErr("profile", "must be standard or langsmith, not %q", e.Profile)
	}
	if err := e.validateOrdering(); err != nil {
		return nil, err
	}
	if _, err := e.CompilePayload(); err != nil {
		return nil, err
	}
	if err := e.validateBatch(); err != nil {
		return nil, err
	}
	rule, err := rules.Compile(e.Events, e.Filter)
	if err != nil {
		return nil, &FieldError{Field: "filter", Message: err.Error()}
	}
	return rule, nil
}

func validateHeaders(h map[string]string) error {
	if len(h) > maxHeaders {
		return fieldErr("headers", "more than %d headers", maxHeaders)
	}
	for name, value := range h {
		field := "headers." + name
		if !httpguts.ValidHeaderFieldName(name) {
			return fieldErr(field, "is not a valid header name")
		}
		if reservedHeaders[http.CanonicalHeaderKey(name)] || strings.HasPrefix(strings.ToLower(name), "webhook-") {
			return fieldErr(field, "is set by hookd and cannot be overridden")
		}
		if !httpguts.ValidHeaderFieldValue(value) || len(value) > 4096 {
			return fieldErr(field, "value must be one line of visible characters, at most 4096 bytes")
		}
	}
	return nil
}

func validateMetadata(m map[string]string) error {
	if len(m) > maxMetadata {
		return fieldErr("metadata", "more than %d labels", maxMetadata)
	}
	for k, v := range m {
		if k == "" || len(k) > 64 {
			return fieldErr("metadata", "label names must be 1 to 64 characters")
		}
		if len(v) > 512 {
			return fieldErr("metadata."+k, "longer than 512 characters")
		}
	}
	return nil
}

// ValidateURL checks that raw is an absolute http or https URL with a host.
func ValidateURL(raw string) error {
	if raw == "" {
		return fmt.Errorf("required")
	}
	if len(raw) > 2048 {
		return fmt.Errorf("longer than 2048 characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme must be http or https, not %q", u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("has no host")
	}
	if u.User != nil {
		return fmt.Errorf("must not carry credentials: use headers")
	}
	return nil
}

// RedactedURL returns the URL with only its scheme and host in the clear,
// for logs and attempt records: a query often carries a shared secret
// (LangSmith's ?secret=...), and a path can be the credential itself
// (Slack's /services/T.../B.../<secret>, Discord's, Teams'). The path
// becomes "/redacted" and the query "redacted"; the endpoint id, in every
// log line and record, says which endpoint it was.
func RedactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.Path != "" && u.Path != "/" || u.RawPath != "" || u.Opaque != "" {
		u.Path, u.RawPath, u.Opaque = "/redacted", "", ""
	}
	if u.RawQuery != "" || u.ForceQuery {
		u.RawQuery = "redacted"
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

func validateSecret(s string) error {
	if strings.HasPrefix(s, signing.PrefixSecretKey) {
		if err := signing.CheckEd25519Secret(s); err != nil {
			return fmt.Errorf("%q secret key: the base64 of a 32-byte ed25519 seed or 64-byte private key", signing.PrefixSecretKey)
		}
		return nil
	}
	raw, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return fmt.Errorf("must start with %q (HMAC-SHA256) or %q (ed25519)", SecretPrefix, signing.PrefixSecretKey)
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return fmt.Errorf("not base64 after %q", SecretPrefix)
	}
	if len(b) < 24 || len(b) > 64 {
		return fmt.Errorf("must decode to 24 to 64 bytes, not %d", len(b))
	}
	return nil
}

// MaskSecretValue shows enough of a header value to recognise it, never the
// whole: the first 4 characters of values of 12 or more, else nothing.
func MaskSecretValue(v string) string {
	if len(v) >= 12 {
		return v[:4] + "****"
	}
	return "****"
}
