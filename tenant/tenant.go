package tenant

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"time"
)

// Default is the tenant of endpoints and events that name none.
const Default = "default"

// Limits bound what a tenant may use; 0 means unlimited.
type Limits struct {
	// MaxEndpoints is how many endpoints the tenant may have.
	MaxEndpoints int `json:"max_endpoints,omitempty"`
	// EventsPerSecond is the tenant's HTTP ingestion rate.
	EventsPerSecond float64 `json:"events_per_second,omitempty"`
}

// Tenant is one customer of the platform.
type Tenant struct {
	ID        string            `json:"id"`
	Name      string            `json:"name,omitempty"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	Limits    Limits            `json:"limits"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ErrInvalidID reports an id that cannot name a tenant: ids are used as
// subject tokens and key-value keys.
var ErrInvalidID = errors.New("tenant id must be 1 to 64 of A-Z a-z 0-9 _ -")

// ValidateID checks a tenant id.
func ValidateID(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("%w, not %q", ErrInvalidID, id)
	}
	return nil
}

// Normalize maps the empty tenant to Default.
func Normalize(id string) string {
	if id == "" {
		return Default
	}
	return id
}

// Validate checks every field; errors name the field as "field: message".
func (t *Tenant) Validate() error {
	if err := ValidateID(t.ID); err != nil {
		return &FieldError{Field: "id", Message: err.Error()}
	}
	if len(t.Name) > 256 {
		return &FieldError{Field: "name", Message: "longer than 256 characters"}
	}
	if len(t.Metadata) > 64 {
		return &FieldError{Field: "metadata", Message: "more than 64 labels"}
	}
	if t.Limits.MaxEndpoints < 0 {
		return &FieldError{Field: "limits.max_endpoints", Message: "must not be negative"}
	}
	if t.Limits.EventsPerSecond < 0 {
		return &FieldError{Field: "limits.events_per_second", Message: "must not be negative"}
	}
	return nil
}

// FieldError reports a tenant field with an unacceptable value.
type FieldError struct {
	Field, Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func sortByID(ts []*Tenant) {
	sort.Slice(ts, func(i, j int) bool { return ts[i].ID < ts[j].ID })
}
