package httpapi

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/hookd/hookd/catalog"
	"github.com/hookd/hookd/internal/natsname"
	"github.com/hookd/hookd/tenant"
)

// Ids and names a request gives end up in NATS subjects, stream names and
// key-value keys, and one too long for the server's control line closes
// the connection every part of the process shares. So every one is
// checked here, before a handler sees it, against what hookd itself
// makes. The rule, the same for every route:
//
//   - a path parameter names a resource: one that cannot exist is 404
//     not_found, with "field" naming the parameter ("id", "name");
//   - a query parameter or body field is an input: one that cannot be
//     valid is 400 invalid_field, naming the field.
//
// The stores and topology check again (natsname.ValidToken, ValidKey), so
// a route that forgot would still answer 404 rather than close the
// connection.

// Ids hookd makes: event.NewID's base32 of 16 bytes after a prefix, and a
// key's first 20 hex digits of its hash.
var (
	endpointIDPattern = regexp.MustCompile(`^ep_[0-9a-z]{26}$`)
	deliveryIDPattern = regexp.MustCompile(`^dlv_[0-9a-z]{26}$`)
	keyIDPattern      = regexp.MustCompile(`^key_[0-9a-f]{20}$`)
)

// maxPathEventID bounds an event id in a path. Events published over NATS
// may carry any Nats-Msg-Id; the id is hashed before it reaches a subject
// (topology.IndexSubject), so this bound is only against absurd input.
const maxPathEventID = 1024

// idRule is what one kind of id must look like.
type idRule struct {
	// what names the resource in messages: "endpoint".
	what string
	// valid reports an id that can exist.
	valid func(string) bool
	// shape says what valid ids look like, for messages (which never
	// quote more than the start of a refused id).
	shape string
}

func validEventID(s string) bool {
	return s != "" && len(s) <= maxPathEventID && utf8.ValidString(s) &&
		!strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f })
}

var (
	endpointRule = idRule{"endpoint", endpointIDPattern.MatchString, "endpoint ids look like ep_01jb7k2m3n4p5q6r7s8t9v0wxy"}
	tenantRule   = idRule{"tenant", func(s string) bool { return tenant.ValidateID(s) == nil }, "tenant ids are 1 to 64 of A-Z a-z 0-9 _ -"}
)

// pathRules gives, for each collection of the API, what the path
// parameter after it must be: /v1/endpoints/{id} is an endpoint id.
var pathRules = map[string]idRule{
	"endpoints":  endpointRule,
	"deliveries": {"delivery", deliveryIDPattern.MatchString, "delivery ids look like dlv_0123456789abcdefghjkmnpqrs"},
	"keys":       {"key", keyIDPattern.MatchString, "key ids look like key_0123456789abcdef0123"},
	"tenants":    tenantRule,
	"event-types": {"event type", func(s string) bool { return catalog.ValidateName(s) == nil },
		"event type names are up to 255 characters of dot-separated A-Z a-z 0-9 _ -"},
	"events": {"event", validEventID, fmt.Sprintf("event ids are 1 to %d characters without control characters", maxPathEventID)},
}

type pathParam struct {
	name string
	rule idRule
}

// checkPath wraps h in the check of pattern's path parameters (pathRules).
// It panics on a parameter no rule covers: a new route must say what its
// ids look like.
func checkPath(pattern string, h http.Handler) http.Handler {
	_, path, _ := strings.Cut(pattern, " ")
	if path == "" {
		path = pattern
	}
	var params []pathParam
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		name, ok := strings.CutPrefix(seg, "{")
		if !ok {
			continue
		}
		name = strings.TrimSuffix(name, "}")
		rule, ok := pathRules[segs[max(i-1, 0)]]
		if !ok {
			panic("httpapi: no id rule for {" + name + "} in " + pattern)
		}
		params = append(params, pathParam{name: name, rule: rule})
	}
	if len(params) == 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, p := range params {
			v := r.PathValue(p.name)
			if !p.rule.valid(v) {
				writeError(w, &apiError{Status: http.StatusNotFound, Code: "not_found", Field: p.name,
					Message: fmt.Sprintf("%s %s not found: %s", p.rule.what, natsname.Truncate(v), p.rule.shape)})
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// checkField checks an id given as a query parameter or body field: 400
// invalid_field naming field when it cannot be valid; "" is left to the
// caller (usually: not given).
func checkField(field, value string, rule idRule) error {
	if value == "" {
		return nil
	}
	if !rule.valid(value) {
		return fieldError(field, "%s is not a valid %s id: %s", natsname.Truncate(value), rule.what, rule.shape)
	}
	return nil
}
