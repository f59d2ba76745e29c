package endpoint

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"

	"github.com/hookd/hookd/rules"
)

// FieldError reports an endpoint field with an unacceptable value.
type FieldError struct {
	// Field is the JSON name of the field, e.g. "filter" or "events[1]".
	Field string
	// Message says what is wrong, e.g. expr's message with line and column.
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Validate checks every field of e and compiles its rule, so an endpoint
// that would fail at routing time is never stored. Errors are *FieldError.
func (e *Endpoint) Validate() (*rules.Rule, error) {
	if err := ValidateURL(e.URL); err != nil {
		return nil, &FieldError{Field: "url", Message: err.Error()}
	}
	for i, p := range e.Events {
		if _, err := rules.ParsePattern(p); err != nil {
			return nil, &FieldError{Field: fmt.Sprintf("events[%d]", i), Message: err.Error()}
		}
	}
	if err := validateSecret(e.Secret); err != nil {
		return nil, &FieldError{Field: "secret", Message: err.Error()}
	}
	rule, err := rules.Compile(e.Events, e.Filter)
	if err != nil {
		return nil, &FieldError{Field: "filter", Message: err.Error()}
	}
	return rule, nil
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

func validateSecret(s string) error {
	raw, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return fmt.Errorf("must start with %q", SecretPrefix)
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
