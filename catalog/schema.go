package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/pb33f/jsonschema/v6"
)

// The JSON Schema library is github.com/pb33f/jsonschema/v6, the fork of
// santhosh-tekuri/jsonschema/v6 that hookd already depends on through its
// OpenAPI validator: no new module for the same code.

// schema is a compiled JSON Schema.
type schema struct{ s *jsonschema.Schema }

// schemaBase is where a type's schema lives for the compiler. It is never
// fetched: relative $refs resolve under it and are refused like any other
// reference outside the document.
const schemaBase = "https://hookd.invalid/event-types/"

// refuseLoader loads nothing. The compiler's default loader reads local
// files ("$ref": "file:///etc/passwd"), and any loader reaching the
// network would let a schema make hookd fetch URLs: schemas must be
// self-contained ($defs and local $refs).
type refuseLoader struct{}

func (refuseLoader) Load(string) (any, error) {
	return nil, errors.New("schemas must be self-contained (use $defs): references to other documents are not loaded")
}

// compileSchema compiles raw, checked against its draft's metaschema.
// Formats ("format": "email") are asserted, not only annotations: a
// producer who writes one means it.
func compileSchema(name string, raw []byte) (*schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(refuseLoader{})
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	loc := schemaBase + name
	if err := c.AddResource(loc, doc); err != nil {
		return nil, err
	}
	s, err := c.Compile(loc)
	if err != nil {
		return nil, errors.New(schemaErrorText(err))
	}
	return &schema{s: s}, nil
}

// schemaErrorText is a compile error on one line: for a schema the
// metaschema refuses, where in the schema and why.
func schemaErrorText(err error) string {
	var sve *jsonschema.SchemaValidationError
	var ve *jsonschema.ValidationError
	if errors.As(err, &sve) && errors.As(sve.Err, &ve) {
		if leaves := leavesOf(ve); len(leaves) > 0 {
			return "not a valid JSON Schema: " + leaves[0].Error()
		}
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

// SchemaError says where and why data does not match a schema.
type SchemaError struct {
	// Path is the JSON Pointer of the offending value in the data, ""
	// for the data itself.
	Path string
	// Message is the schema library's reason, e.g. "got string, want
	// number".
	Message string
	// More counts further mismatches not described.
	More int
}

func (e *SchemaError) Error() string {
	where := e.Path
	if where == "" {
		where = "(root)"
	}
	msg := "at " + where + ": " + e.Message
	if e.More > 0 {
		msg += fmt.Sprintf(" (and %d more)", e.More)
	}
	return msg
}

// check validates data (JSON) against the schema.
func (s *schema) check(data []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return &SchemaError{Message: "not JSON: " + err.Error()}
	}
	err = s.s.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return &SchemaError{Message: err.Error()}
	}
	leaves := leavesOf(ve)
	if len(leaves) == 0 {
		return &SchemaError{Message: strings.Join(strings.Fields(ve.Error()), " ")}
	}
	first := leaves[0]
	first.More = len(leaves) - 1
	return first
}

// leavesOf lists the most specific reasons of a validation error (not the
// "allOf failed" around them), ordered by where they are in the data, so
// the first is the same on every run.
func leavesOf(ve *jsonschema.ValidationError) []*SchemaError {
	units := ve.BasicOutput().Errors
	// Sorted by keyword location, a unit's descendants are found by binary
	// search: comparing every pair would be quadratic in the errors, which
	// an event's data (an array of 500,000 wrong items) decides.
	locs := make([]string, len(units))
	for i, u := range units {
		locs[i] = u.KeywordLocation
	}
	slices.Sort(locs)
	var out []*SchemaError
	for _, u := range units {
		if u.Error == nil {
			continue
		}
		prefix := u.KeywordLocation + "/"
		i, _ := slices.BinarySearch(locs, prefix)
		leaf := i == len(locs) || !strings.HasPrefix(locs[i], prefix) // else u only summarises them
		if leaf {
			out = append(out, &SchemaError{Path: u.InstanceLocation, Message: u.Error.String()})
		}
	}
	// Stable: reasons at one place keep the schema's order (anyOf's).
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
