package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/hookd/hookd/event"
)

// Limits on an entry, so the catalogue stays small enough to hold in every
// process's memory.
const (
	// MaxDescription is the longest description, in bytes.
	MaxDescription = 1024
	// MaxDocument is the largest schema, and the largest example, in bytes.
	MaxDocument = 64 << 10
)

// EventType is one entry of the catalogue.
type EventType struct {
	// Name is the event type, e.g. "order.created".
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Schema is a JSON Schema (draft 2020-12 unless its $schema says
	// otherwise) the data of events of this type must match; nil for none.
	Schema json.RawMessage `json:"schema,omitempty"`
	// Example is the data of a typical event of this type; nil for none.
	Example   json.RawMessage `json:"example,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// FieldError reports a field of an event type with an unacceptable value.
type FieldError struct {
	Field, Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// namePattern keeps names usable as key-value keys: dot-separated tokens
// of letters, digits, _ and -.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)

// ValidateName checks that name is an event type the catalogue can hold.
func ValidateName(name string) error {
	if err := event.ValidateType(name); err != nil {
		return &FieldError{Field: "name", Message: err.Error()}
	}
	if !namePattern.MatchString(name) {
		return &FieldError{Field: "name", Message: fmt.Sprintf("%q: a catalogued type is dot-separated tokens of A-Z a-z 0-9 _ -", name)}
	}
	return nil
}

// normalize turns an explicit JSON null schema or example into none.
func (t *EventType) normalize() {
	if bytes.Equal(bytes.TrimSpace(t.Schema), []byte("null")) {
		t.Schema = nil
	}
	if bytes.Equal(bytes.TrimSpace(t.Example), []byte("null")) {
		t.Example = nil
	}
}

// Compile checks every field and compiles the schema; the example, when
// given, must match it. Errors are *FieldError.
func Compile(t *EventType) (*Compiled, error) {
	t.normalize()
	if err := ValidateName(t.Name); err != nil {
		return nil, err
	}
	if len(t.Description) > MaxDescription {
		return nil, &FieldError{Field: "description", Message: fmt.Sprintf("longer than %d bytes", MaxDescription)}
	}
	for _, doc := range []struct {
		field string
		raw   json.RawMessage
	}{{"schema", t.Schema}, {"example", t.Example}} {
		if len(doc.raw) > MaxDocument {
			return nil, &FieldError{Field: doc.field, Message: fmt.Sprintf("larger than %d bytes", MaxDocument)}
		}
		if doc.raw != nil && !json.Valid(doc.raw) {
			return nil, &FieldError{Field: doc.field, Message: "not JSON"}
		}
	}
	c := &Compiled{EventType: t}
	if t.Schema != nil {
		s, err := compileSchema(t.Name, t.Schema)
		if err != nil {
			return nil, &FieldError{Field: "schema", Message: err.Error()}
		}
		c.schema = s
	}
	if t.Example != nil {
		if err := c.Check(t.Example); err != nil {
			return nil, &FieldError{Field: "example", Message: err.Error()}
		}
		// Decoded as the router decodes data for filters.
		if err := json.Unmarshal(t.Example, &c.example); err != nil {
			return nil, &FieldError{Field: "example", Message: err.Error()}
		}
	}
	return c, nil
}

// Compiled is an event type ready to check events: its schema compiled,
// its example decoded.
type Compiled struct {
	*EventType
	schema  *schema // nil without a schema
	example any
}

// HasExample reports whether the type has an example.
func (c *Compiled) HasExample() bool { return c.Example != nil }

// ExampleData is the example decoded as filters see an event's data. It
// is shared: callers must not change it.
func (c *Compiled) ExampleData() any { return c.example }

// Check reports whether data (JSON) matches the type's schema: nil when it
// does or the type has no schema, else a *SchemaError.
func (c *Compiled) Check(data []byte) error {
	if c.schema == nil {
		return nil
	}
	return c.schema.check(data)
}
