package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// The query parameters each route takes are declared once, in the OpenAPI
// document (openapi.json, embedded): the server reads them from there, so
// what the document promises and what the server accepts cannot drift
// apart. A query parameter a route does not declare is refused like an
// unknown body field (400 invalid_field naming it), so a misspelt
// ?limt=10 is an error, not a silently larger page.

// routeParams maps "METHOD /path" (the mux pattern) to the names of its
// query parameters, read from openAPIDocument.
var routeParams = mustQueryParams(openAPIDocument)

// mustQueryParams reads every operation's query parameters (its own and
// its path item's, $refs to components.parameters resolved). The document
// is embedded at build time: a document this cannot read is a broken
// build, caught by every test, hence the panic.
func mustQueryParams(doc []byte) map[string][]string {
	out, err := queryParams(doc)
	if err != nil {
		panic("httpapi: openapi.json: " + err.Error())
	}
	return out
}

type openAPIParam struct {
	Ref  string `json:"$ref"`
	Name string `json:"name"`
	In   string `json:"in"`
}

func queryParams(doc []byte) (map[string][]string, error) {
	var d struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Parameters map[string]openAPIParam `json:"parameters"`
		} `json:"components"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, err
	}
	resolve := func(ps []openAPIParam) ([]string, error) {
		var names []string
		for _, p := range ps {
			if p.Ref != "" {
				name, ok := strings.CutPrefix(p.Ref, "#/components/parameters/")
				c, found := d.Components.Parameters[name]
				if !ok || !found {
					return nil, fmt.Errorf("parameter %s not found", p.Ref)
				}
				p = c
			}
			if p.In == "query" {
				names = append(names, p.Name)
			}
		}
		return names, nil
	}
	out := map[string][]string{}
	for path, item := range d.Paths {
		var shared struct {
			Parameters []openAPIParam `json:"parameters"`
		}
		if raw, ok := item["parameters"]; ok {
			if err := json.Unmarshal(raw, &shared.Parameters); err != nil {
				return nil, fmt.Errorf("%s parameters: %w", path, err)
			}
		}
		for method, raw := range item {
			if method == "parameters" || !slices.Contains(routeMethods, strings.ToUpper(method)) {
				continue
			}
			var op struct {
				Parameters []openAPIParam `json:"parameters"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				return nil, fmt.Errorf("%s %s: %w", method, path, err)
			}
			names, err := resolve(append(slices.Clone(shared.Parameters), op.Parameters...))
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", method, path, err)
			}
			out[strings.ToUpper(method)+" "+path] = names
		}
	}
	return out, nil
}

// routeMethods are the methods routes are registered with, in the order
// an Allow header lists them.
var routeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// routes registers handlers on a mux, each behind the check of its path
// parameters (ids.go) and of its query parameters as openapi.json declares
// them.
type routes struct{ mux *http.ServeMux }

// HandleFunc registers h for pattern ("METHOD /path"), as
// http.ServeMux.HandleFunc does.
func (rs routes) HandleFunc(pattern string, h http.HandlerFunc) { rs.Handle(pattern, h) }

// Handle registers h for pattern ("METHOD /path"). A pattern openapi.json
// does not document is a programming error (TestOpenAPIRouteCoverage
// reports it too): it panics at start, not at the first request.
func (rs routes) Handle(pattern string, h http.Handler) {
	params, ok := routeParams[pattern]
	if !ok {
		panic("httpapi: route " + pattern + " is not in openapi.json")
	}
	rs.mux.Handle(pattern, onlyDeclaredQuery(params, checkPath(pattern, h)))
}

// onlyDeclaredQuery refuses a request whose query string does not parse,
// or names a parameter outside params: 400 invalid_field naming it.
func onlyDeclaredQuery(params []string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery == "" {
			next.ServeHTTP(w, r)
			return
		}
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			// Go would drop the malformed pair silently.
			writeError(w, fieldError("query", "is not a valid query string: %v", err))
			return
		}
		names := make([]string, 0, len(q))
		for name := range q {
			names = append(names, name)
		}
		slices.Sort(names) // the same parameter is named every time
		for _, name := range names {
			if slices.Contains(params, name) {
				continue
			}
			takes := "takes no query parameters"
			if len(params) > 0 {
				takes = "takes only " + strings.Join(params, ", ")
			}
			writeError(w, fieldError(name, "unknown query parameter: %s %s", r.Pattern, takes))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// methodRefusals are patterns registered only to answer 405: the path
// /v1/endpoints/bulk takes POST only, and without them its other methods
// would reach /v1/endpoints/{id} and look up an endpoint "bulk". They are
// not routes: noRoute leaves them out of Allow.
var methodRefusals = []string{"GET /v1/endpoints/bulk", "PATCH /v1/endpoints/bulk", "DELETE /v1/endpoints/bulk"}

// noRoute answers a request no pattern of mux took but its catch-all
// (catchAll, e.g. "/v1/"): 405 with Allow when the path is a route's with
// another method, else 404. Go's mux would answer 405 itself, but in plain
// text, and the catch-all (which gives unknown paths the JSON 404) matches
// every method first.
func noRoute(mux *http.ServeMux, catchAll string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range routeMethods {
			probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
			if _, pattern := mux.Handler(probe); pattern != "" && pattern != catchAll && !slices.Contains(methodRefusals, pattern) {
				allow = append(allow, m)
			}
		}
		// A handler further in (the dashboard's files) may have said which
		// methods its path takes.
		if len(allow) == 0 && w.Header().Get("Allow") != "" {
			allow = strings.Split(w.Header().Get("Allow"), ", ")
		}
		if len(allow) == 0 {
			routeNotFound(w, r)
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, &apiError{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
			Message: fmt.Sprintf("%s %s: method not allowed, the path takes %s", r.Method, r.URL.Path, strings.Join(allow, ", "))})
	}
}
