package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	valerrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel/high/base"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/worker"
)

// The OpenAPI document (openapi.json, served at GET /openapi.json) is the
// machine-readable form of docs/api.md. These tests check that it is valid
// OpenAPI 3.1, that it names exactly the routes the server registers and
// docs/api.md lists, and that every real answer of a running hookd (status,
// content type, body) conforms to it: requests built to be valid must be
// valid for the document, and requests the server refuses for a reason a
// schema can express must be refused by the document too.

const openAPIFile = "openapi.json"

var openAPI struct {
	once sync.Once
	raw  []byte
	json map[string]any // raw, decoded
	doc  libopenapi.Document
	v    validator.Validator
	err  error
}

// loadOpenAPI parses openapi.json once and returns a validator that asserts
// formats (date-time) too.
func loadOpenAPI(t *testing.T) ([]byte, libopenapi.Document, validator.Validator) {
	t.Helper()
	openAPI.once.Do(func() {
		openAPI.raw, openAPI.err = os.ReadFile(openAPIFile)
		if openAPI.err != nil {
			return
		}
		if openAPI.err = json.Unmarshal(openAPI.raw, &openAPI.json); openAPI.err != nil {
			return
		}
		openAPI.doc, openAPI.err = libopenapi.NewDocument(openAPI.raw)
		if openAPI.err != nil {
			return
		}
		v, errs := validator.NewValidator(openAPI.doc, config.WithFormatAssertions())
		if len(errs) > 0 {
			openAPI.err = fmt.Errorf("building the validator: %v", errs)
			return
		}
		openAPI.v = v
	})
	if openAPI.err != nil {
		t.Fatalf("%s: %v", openAPIFile, openAPI.err)
	}
	return openAPI.raw, openAPI.doc, openAPI.v
}

// rawDocument is openapi.json as plain JSON, for structural checks that do
// not depend on a library's model. Callers must not change it.
func rawDocument(t *testing.T) map[string]any {
	t.Helper()
	loadOpenAPI(t)
	return openAPI.json
}

func formatErrors(errs []*valerrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  - %s: %s", e.Message, e.Reason)
		for _, s := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "\n      %s (at %s, schema %s)", s.Reason, s.FieldPath, s.KeywordLocation)
		}
	}
	return b.String()
}

var httpMethods = []string{"get", "put", "post", "patch", "delete", "head", "options", "trace"}

// route is "METHOD /path" with OpenAPI-style parameters ({id}).
type route string

func documentedRoutes(t *testing.T) map[route]map[string]any {
	t.Helper()
	out := map[route]map[string]any{}
	paths, _ := rawDocument(t)["paths"].(map[string]any)
	for p, item := range paths {
		item, _ := item.(map[string]any)
		for _, m := range httpMethods {
			if op, ok := item[m].(map[string]any); ok {
				out[route(strings.ToUpper(m)+" "+p)] = op
			}
		}
	}
	return out
}

// registeredRoutes reads every mux pattern with a method ("GET /v1/x/{id}")
// registered by a non-test file of this package; patterns without a method
// ("/v1/", "/") are the not-found catch-alls.
func registeredRoutes(t *testing.T) map[route]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[route]string{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatalf("parse %s: %v (the tree may be mid-edit: retry)", name, err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "HandleFunc" && sel.Sel.Name != "Handle") {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			pattern, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			method, path, ok := strings.Cut(pattern, " ")
			if !ok {
				return true
			}
			path = strings.ReplaceAll(strings.TrimSuffix(path, "{$}"), "...}", "}")
			out[route(method+" "+path)] = fset.Position(lit.Pos()).String()
			return true
		})
	}
	if len(out) == 0 {
		t.Fatal("found no route registration in httpapi/*.go")
	}
	return out
}

// contractRoutes are the routes docs/api.md lists ("`GET /v1/x/{id}`"),
// with /healthz and /openapi.json, which it names without a method.
func contractRoutes(t *testing.T) map[route]bool {
	t.Helper()
	md, err := os.ReadFile(filepath.Join("..", "docs", "api.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[route]bool{}
	for _, m := range regexp.MustCompile("`(GET|POST|PUT|PATCH|DELETE) (/[^`?\\s]*)").FindAllStringSubmatch(string(md), -1) {
		out[route(m[1]+" "+m[2])] = true
	}
	for _, p := range []string{"/healthz", "/openapi.json"} {
		if !strings.Contains(string(md), "`"+p+"`") {
			t.Errorf("docs/api.md no longer mentions %s", p)
		}
		out[route("GET "+p)] = true
	}
	return out
}

func sortedRoutes[V any](m map[route]V) []string {
	out := make([]string, 0, len(m))
	for r := range m {
		out = append(out, string(r))
	}
	sort.Strings(out)
	return out
}

// The document is valid OpenAPI 3.1, served as is, and consistent in the
// ways a reader relies on: bearer auth on /v1 only, the error shape on every
// error, strict request bodies.
func TestOpenAPIDocument(t *testing.T) {
	raw, doc, v := loadOpenAPI(t)

	t.Run("valid OpenAPI 3.1", func(t *testing.T) {
		if got := doc.GetVersion(); got != "3.1.0" {
			t.Errorf("openapi %q, want 3.1.0", got)
		}
		if _, err := doc.BuildV3Model(); err != nil {
			t.Fatalf("model: %v", err)
		}
		if ok, errs := v.ValidateDocument(); !ok {
			t.Fatalf("not valid OpenAPI 3.1:%s", formatErrors(errs))
		}
	})

	// Every schema, named or inline, is valid JSON Schema 2020-12 (the
	// document check above does not look inside schemas).
	t.Run("every schema compiles", func(t *testing.T) {
		m, err := doc.BuildV3Model()
		if err != nil {
			t.Fatal(err)
		}
		opts := config.NewValidationOptions(config.WithFormatAssertions())
		compile := func(where string, sp *base.SchemaProxy) {
			if sp == nil {
				return
			}
			s := sp.Schema()
			if s == nil {
				t.Errorf("%s: %v", where, sp.GetBuildError())
				return
			}
			if _, err := schema_validation.CompileSchemaForValidation(s, schema_validation.SchemaValidationPurposeGeneric, opts, 3.1); err != nil {
				t.Errorf("%s: %v", where, err)
			}
		}
		for name, sp := range m.Model.Components.Schemas.FromOldest() {
			compile("components.schemas."+name, sp)
		}
		for path, item := range m.Model.Paths.PathItems.FromOldest() {
			for _, p := range item.Parameters {
				compile(path+" parameter "+p.Name, p.Schema)
			}
			for method, op := range item.GetOperations().FromOldest() {
				where := strings.ToUpper(method) + " " + path
				for _, p := range op.Parameters {
					compile(where+" parameter "+p.Name, p.Schema)
				}
				if op.RequestBody != nil {
					for mt, media := range op.RequestBody.Content.FromOldest() {
						compile(where+" request "+mt, media.Schema)
					}
				}
				for code, resp := range op.Responses.Codes.FromOldest() {
					for mt, media := range resp.Content.FromOldest() {
						compile(where+" "+code+" "+mt, media.Schema)
					}
					for name, hdr := range resp.Headers.FromOldest() {
						compile(where+" "+code+" header "+name, hdr.Schema)
					}
				}
			}
		}
	})

	t.Run("served at GET /openapi.json", func(t *testing.T) {
		h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true})
		resp, err := http.Get(h.URL + "/openapi.json")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || !bytes.Equal(body, raw) {
			t.Fatalf("GET /openapi.json: %d %s, %d bytes; want 200 application/json and %s byte for byte",
				resp.StatusCode, resp.Header.Get("Content-Type"), len(body), openAPIFile)
		}
	})

	d := rawDocument(t)
	components, _ := d["components"].(map[string]any)
	schemas, _ := components["schemas"].(map[string]any)
	responses, _ := components["responses"].(map[string]any)

	t.Run("component schemas", func(t *testing.T) {
		for _, name := range []string{"Endpoint", "EndpointCreated", "EndpointCreate", "EndpointUpdate", "EndpointList",
			"Delivery", "DeliveryList", "Attempt", "AttemptResult", "Event", "EventCreate", "EventAccepted",
			"Key", "KeyCreate", "KeyCreated", "KeyList", "FilterResult", "Error",
			"Tenant", "TenantCreate", "TenantUpdate", "TenantList", "Limits", "PortalTokenRequest", "PortalToken"} {
			if _, ok := schemas[name].(map[string]any); !ok {
				t.Errorf("components.schemas.%s is missing", name)
			}
		}
	})

	// GET /metrics is the one route outside /v1 with a key: metrics name
	// every tenant's endpoints (--metrics-listen serves them without one).
	t.Run("bearer auth on /v1 routes and /metrics only", func(t *testing.T) {
		scheme, _ := components["securitySchemes"].(map[string]any)["bearer"].(map[string]any)
		if scheme["type"] != "http" || scheme["scheme"] != "bearer" {
			t.Fatalf("components.securitySchemes.bearer = %v, want an http bearer scheme", scheme)
		}
		global, _ := json.Marshal(d["security"])
		if string(global) != `[{"bearer":[]}]` {
			t.Fatalf("global security %s, want [{\"bearer\":[]}]", global)
		}
		for r, op := range documentedRoutes(t) {
			sec, overridden := op["security"]
			enc, _ := json.Marshal(sec)
			public := !strings.Contains(string(r), " /v1/") && r != "GET /metrics"
			switch {
			case public && string(enc) != "[]":
				t.Errorf("%s needs no key but its security is %s (want [])", r, enc)
			case !public && overridden && string(enc) != `[{"bearer":[]}]`:
				t.Errorf("%s overrides security with %s", r, enc)
			}
		}
	})

	// An error answer refers to components.responses, whose schema is, or
	// is all of, the Error schema.
	isErrorResponse := func(resp any) bool {
		m, _ := resp.(map[string]any)
		ref, _ := m["$ref"].(string)
		name, ok := strings.CutPrefix(ref, "#/components/responses/")
		if !ok {
			return false
		}
		schema, _ := responses[name].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
		refs := []any{schema}
		if all, ok := schema["allOf"].([]any); ok {
			refs = all
		}
		for _, r := range refs {
			if r, _ := r.(map[string]any); r["$ref"] == "#/components/schemas/Error" {
				return true
			}
		}
		return false
	}

	t.Run("operations", func(t *testing.T) {
		ids := map[string]route{}
		for r, op := range documentedRoutes(t) {
			id, _ := op["operationId"].(string)
			if id == "" {
				t.Errorf("%s has no operationId", r)
			} else if prev, dup := ids[id]; dup {
				t.Errorf("operationId %s is used by %s and %s", id, prev, r)
			}
			ids[id] = r
			resps, _ := op["responses"].(map[string]any)
			// Every route refuses query parameters it does not declare.
			want := []string{"400"}
			if strings.Contains(string(r), " /v1/") {
				want = append(want, "401", "503")
			}
			if strings.Contains(string(r), "{id}") {
				want = append(want, "404")
			}
			if body, ok := op["requestBody"].(map[string]any); ok {
				want = append(want, "413")
				schema, _ := body["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
				ref, _ := schema["$ref"].(string)
				name, _ := strings.CutPrefix(ref, "#/components/schemas/")
				if s, _ := schemas[name].(map[string]any); s == nil || s["additionalProperties"] != false {
					t.Errorf("%s: request body %q is not a component schema with additionalProperties false (the server refuses unknown fields)", r, ref)
				}
			}
			for _, code := range want {
				if _, ok := resps[code]; !ok {
					t.Errorf("%s does not document %s", r, code)
				}
			}
			hasSuccess := false
			for code, resp := range resps {
				n, err := strconv.Atoi(code)
				switch {
				case err != nil:
					t.Errorf("%s: response %q is not a status code", r, code)
				case n < 300:
					hasSuccess = true
				case !isErrorResponse(resp):
					t.Errorf("%s: %s does not use components.responses with the Error schema", r, code)
				}
			}
			if !hasSuccess {
				t.Errorf("%s documents no success", r)
			}
		}
	})
}

// The document names every route the server registers, and every route of
// docs/api.md; the server registers every documented route.
func TestOpenAPIRouteCoverage(t *testing.T) {
	documented := documentedRoutes(t)

	t.Run("every route of docs/api.md is documented", func(t *testing.T) {
		for _, r := range sortedRoutes(contractRoutes(t)) {
			if _, ok := documented[route(r)]; !ok {
				t.Errorf("%s is in docs/api.md but not in %s", r, openAPIFile)
			}
		}
		contract := contractRoutes(t)
		for _, r := range sortedRoutes(documented) {
			if !contract[route(r)] {
				t.Errorf("%s is in %s but not in docs/api.md", r, openAPIFile)
			}
		}
	})

	registered := registeredRoutes(t)
	t.Run("every registered route is documented", func(t *testing.T) {
		for _, r := range sortedRoutes(registered) {
			if _, ok := documented[route(r)]; !ok {
				t.Errorf("%s (registered at %s) is not in %s", r, registered[route(r)], openAPIFile)
			}
		}
	})

	// Fails while the server lacks a route of docs/api.md.
	t.Run("every documented route is registered", func(t *testing.T) {
		for _, r := range sortedRoutes(documented) {
			if _, ok := registered[route(r)]; !ok {
				t.Errorf("%s is documented but not registered in httpapi (not implemented yet?)", r)
			}
		}
	})
}

// reqCheck says what the document must think of a request.
type reqCheck int

const (
	reqValid   reqCheck = iota // the document accepts it
	reqInvalid                 // the document refuses it, as the server does
	reqAny                     // not checked: a refusal no schema expresses, or a body that is not JSON
)

// Key choices for apiCall.key.
const (
	adminKey = ""  // hookdtest.AdminKey
	noKey    = "-" // no Authorization header
)

type apiCall struct {
	method, path string
	body         any // nil, a string sent as is, or a value sent as JSON
	header       map[string]string
	key          string
	want         int
	request      reqCheck
}

// conformance sends requests to a running hookd and validates each
// request and answer against the document.
type conformance struct {
	h *hookdtest.Hookd
	v validator.Validator
}

func newConformance(t *testing.T, cfg app.Config) *conformance {
	t.Helper()
	_, _, v := loadOpenAPI(t)
	return &conformance{h: hookdtest.Start(t, cfg), v: v}
}

func (c *conformance) newRequest(t *testing.T, a apiCall, body []byte) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(a.method, c.h.URL+a.path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch a.key {
	case adminKey:
		req.Header.Set("Authorization", "Bearer "+hookdtest.AdminKey)
	case noKey:
	default:
		req.Header.Set("Authorization", "Bearer "+a.key)
	}
	for k, v := range a.header {
		req.Header.Set(k, v)
	}
	return req
}

// call sends a, requires the status a.want, validates the exchange, and
// returns the answer's body. A failed status ends the test; a document
// mismatch is reported and the test goes on.
func (c *conformance) call(t *testing.T, a apiCall) []byte {
	t.Helper()
	_, out := c.exchange(t, a, a.want)
	return out
}

// exchange sends a, requires one of the statuses want, validates the
// exchange, and returns the answer (its body already read) and its body.
func (c *conformance) exchange(t *testing.T, a apiCall, want ...int) (*http.Response, []byte) {
	t.Helper()
	var body []byte
	switch b := a.body.(type) {
	case nil:
	case string:
		body = []byte(b)
	case []byte:
		body = b
	default:
		var err error
		if body, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	what := a.method + " " + a.path

	resp, err := http.DefaultClient.Do(c.newRequest(t, a, body))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	out, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s: reading the answer: %v", what, err)
	}
	if !slices.Contains(want, resp.StatusCode) {
		hint := ""
		if resp.StatusCode == http.StatusNotFound && bytes.Contains(out, []byte("no route for")) {
			hint = " (the server has no such route yet)"
		}
		t.Fatalf("%s: status %d, want %v%s: %.500s", what, resp.StatusCode, want, hint, out)
	}

	// The request, as the document sees it.
	vreq := c.newRequest(t, a, body)
	switch ok, errs := c.v.ValidateHttpRequestSync(vreq); {
	case a.request == reqValid && !ok:
		t.Errorf("%s: the request is not valid for %s:%s", what, openAPIFile, formatErrors(errs))
	case a.request == reqInvalid && ok:
		t.Errorf("%s: the server answered %d but %s accepts the request: %.300s", what, resp.StatusCode, openAPIFile, body)
	}

	// The answer: status, content type, body.
	vreq = c.newRequest(t, a, body)
	vresp := &http.Response{StatusCode: resp.StatusCode, Header: resp.Header, Request: vreq,
		Body: io.NopCloser(bytes.NewReader(out)), ContentLength: int64(len(out))}
	if ok, errs := c.v.ValidateHttpResponse(vreq, vresp); !ok {
		t.Errorf("%s: the %d answer does not conform to %s:%s\nbody: %.1000s", what, resp.StatusCode, openAPIFile, formatErrors(errs), out)
	}
	c.checkContent(t, what, a, resp, out)
	return resp, out
}

// checkContent requires a body exactly when the document declares content
// for the status (the validator skips answers without declared content).
func (c *conformance) checkContent(t *testing.T, what string, a apiCall, resp *http.Response, out []byte) {
	t.Helper()
	op := c.operation(t, a)
	if op == nil {
		return // reported by the validator
	}
	responses, _ := op["responses"].(map[string]any)
	r, _ := responses[strconv.Itoa(resp.StatusCode)].(map[string]any)
	if ref, ok := r["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/responses/")
		r, _ = rawDocument(t)["components"].(map[string]any)["responses"].(map[string]any)[name].(map[string]any)
	}
	if r == nil {
		return // reported by the validator
	}
	if _, declared := r["content"]; declared {
		if len(bytes.TrimSpace(out)) == 0 {
			t.Errorf("%s: the %d answer has no body, the document declares one", what, resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s: content type %q, want application/json", what, ct)
		}
	} else if len(out) > 0 {
		t.Errorf("%s: the %d answer has a body, the document declares none: %.300s", what, resp.StatusCode, out)
	}
}

// operation finds the documented operation a request goes to.
func (c *conformance) operation(t *testing.T, a apiCall) map[string]any {
	t.Helper()
	path, _, _ := strings.Cut(a.path, "?")
	segs := strings.Split(path, "/")
	for r, op := range documentedRoutes(t) {
		method, tmpl, _ := strings.Cut(string(r), " ")
		tsegs := strings.Split(tmpl, "/")
		if method != a.method || len(tsegs) != len(segs) {
			continue
		}
		match := true
		for i, s := range tsegs {
			if s != segs[i] && !(strings.HasPrefix(s, "{") && segs[i] != "") {
				match = false
				break
			}
		}
		if match {
			return op
		}
	}
	return nil
}

// errorOf decodes an error answer.
func errorOf(t *testing.T, out []byte) (code, field string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Field string }
	}
	if err := json.Unmarshal(out, &e); err != nil {
		t.Fatalf("error answer %s: %v", out, err)
	}
	return e.Error.Code, e.Error.Field
}

func wantError(t *testing.T, out []byte, code, field string) {
	t.Helper()
	if gotCode, gotField := errorOf(t, out); gotCode != code || gotField != field {
		t.Errorf("error code %q field %q, want %q %q: %s", gotCode, gotField, code, field, out)
	}
}

func decodeJSON[T any](t *testing.T, out []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	return v
}

type idBody struct {
	ID  string `json:"id"`
	Key string `json:"key"`
}

// createEndpoint makes a fixture endpoint without validating the answer
// (each route's own subtest does that).
func (c *conformance) createEndpoint(t *testing.T, body string) string {
	t.Helper()
	status, out := c.h.Do(t, http.MethodPost, "/v1/endpoints", body)
	if status != http.StatusCreated {
		t.Fatalf("create fixture endpoint: %d %s", status, out)
	}
	return decodeJSON[idBody](t, out).ID
}

// createKey makes a fixture key and returns its id and secret.
func (c *conformance) createKey(t *testing.T, scope string) (id, key string) {
	t.Helper()
	status, out := c.h.Do(t, http.MethodPost, "/v1/keys", map[string]string{"name": "fixture " + scope, "scope": scope})
	if status != http.StatusCreated {
		t.Fatalf("create fixture key: %d %s", status, out)
	}
	k := decodeJSON[idBody](t, out)
	return k.ID, k.Key
}

// createTenantKey makes a fixture key of scope tenant and returns its id
// and secret.
func (c *conformance) createTenantKey(t *testing.T, tenantID string) (id, key string) {
	t.Helper()
	status, out := c.h.Do(t, http.MethodPost, "/v1/keys", map[string]string{"name": "fixture " + tenantID, "scope": "tenant", "tenant": tenantID})
	if status != http.StatusCreated {
		t.Fatalf("create fixture tenant key: %d %s", status, out)
	}
	k := decodeJSON[idBody](t, out)
	return k.ID, k.Key
}

// createTenant makes a fixture tenant.
func (c *conformance) createTenant(t *testing.T, body string) {
	t.Helper()
	if status, out := c.h.Do(t, http.MethodPost, "/v1/tenants", body); status != http.StatusCreated {
		t.Fatalf("create fixture tenant: %d %s", status, out)
	}
}

const (
	unknownEndpoint = "ep_0000000000000000000000000z"
	wrongKey        = "hk_not_a_key_of_this_hookd"
)

// Routes of the first API (endpoints CRUD and secret, events, keys,
// /healthz, /openapi.json), with the endpoint fields docs/api.md added
// (name, description, headers, timeout, metadata, enabled): every answer
// conforms.
func TestOpenAPIConformance(t *testing.T) {
	c := newConformance(t, app.Config{NoRouter: true, NoWorker: true})
	_, publishKey := c.createKey(t, "publish")
	epBody := `{"url":"https://x.example/hook","name":"Billing","description":"Invoices to the ledger",
		"events":["billing.invoice.*"],"filter":"data.amount > 100","headers":{"Authorization":"Bearer 0123456789abcdef","X-Short":"abc"},
		"timeout":"30s","metadata":{"team":"payments"}}`
	epID := c.createEndpoint(t, epBody)

	t.Run("GET /healthz", func(t *testing.T) {
		c.call(t, apiCall{method: "GET", path: "/healthz", key: noKey, want: 200})
	})

	t.Run("GET /readyz", func(t *testing.T) {
		hookdtest.WaitFor(t, 10*time.Second, "ready", func() bool {
			resp, err := http.Get(c.h.URL + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
		c.call(t, apiCall{method: "GET", path: "/readyz", key: noKey, want: 200})
	})

	// 200 is text, not JSON: TestMetricsNeedAnAdminKey reads it.
	t.Run("GET /metrics", func(t *testing.T) {
		wantError(t, c.call(t, apiCall{method: "GET", path: "/metrics", key: noKey, want: 401, request: reqInvalid}), "unauthorized", "")
		wantError(t, c.call(t, apiCall{method: "GET", path: "/metrics", key: publishKey, want: 403}), "forbidden", "")
	})

	t.Run("GET /openapi.json", func(t *testing.T) {
		c.call(t, apiCall{method: "GET", path: "/openapi.json", key: noKey, want: 200})
	})

	t.Run("POST /v1/endpoints", func(t *testing.T) {
		out := c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: epBody, want: 201})
		if !strings.Contains(string(out), `"secret":"whsec_`) || strings.Contains(string(out), "0123456789abcdef") {
			t.Errorf("create must show the secret and mask header values: %s", out)
		}
		c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"url":"https://x.example/min"}`, want: 201})
		c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"url":"https://x.example","enabled":false,"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}`, want: 201})
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"url":"https://x.example","filtr":"true"}`, want: 400, request: reqInvalid}), "invalid_field", "filtr")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"events":["a.b"]}`, want: 400, request: reqInvalid}), "invalid_field", "url")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"url":"ftp://x.example/hook"}`, want: 400, request: reqInvalid}), "invalid_field", "url")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"url":"https://x.example","events":"a.b"}`, want: 400, request: reqInvalid}), "invalid_field", "events")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"url":"https://x.example","filter":"data.x =="}`, want: 400}), "invalid_field", "filter")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"url":`, want: 400, request: reqAny}), "invalid_json", "")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"url":"https://x.example","filter":"` + strings.Repeat("a", 70<<10) + `"}`, want: 413, request: reqAny}), "too_large", "")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: epBody, key: noKey, want: 401, request: reqInvalid}), "unauthorized", "")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: epBody, key: wrongKey, want: 401}), "unauthorized", "")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: epBody, key: publishKey, want: 403}), "forbidden", "")
	})

	t.Run("GET /v1/endpoints", func(t *testing.T) {
		c.call(t, apiCall{method: "GET", path: "/v1/endpoints", want: 200})
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/endpoints", key: noKey, want: 401, request: reqInvalid}), "unauthorized", "")
	})

	t.Run("GET /v1/endpoints/{id}", func(t *testing.T) {
		out := c.call(t, apiCall{method: "GET", path: "/v1/endpoints/" + epID, want: 200})
		if strings.Contains(string(out), "whsec_") {
			t.Errorf("GET shows the secret: %s", out)
		}
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/endpoints/" + unknownEndpoint, want: 404}), "not_found", "")
		c.call(t, apiCall{method: "GET", path: "/v1/endpoints/" + epID, key: wrongKey, want: 401})
	})

	t.Run("PATCH /v1/endpoints/{id}", func(t *testing.T) {
		c.call(t, apiCall{method: "PATCH", path: "/v1/endpoints/" + epID, body: `{"url":"https://y.example/hook","headers":{"Authorization":"Bear****"},"timeout":""}`, want: 200})
		wantError(t, c.call(t, apiCall{method: "PATCH", path: "/v1/endpoints/" + epID, body: `{"filter":"1 +"}`, want: 400}), "invalid_field", "filter")
		wantError(t, c.call(t, apiCall{method: "PATCH", path: "/v1/endpoints/" + epID, body: `{"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}`, want: 400, request: reqInvalid}), "invalid_field", "secret")
		wantError(t, c.call(t, apiCall{method: "PATCH", path: "/v1/endpoints/" + epID, body: `{"enabled":"yes"}`, want: 400, request: reqInvalid}), "invalid_field", "enabled")
		wantError(t, c.call(t, apiCall{method: "PATCH", path: "/v1/endpoints/" + unknownEndpoint, body: `{"name":"x"}`, want: 404}), "not_found", "")
	})

	t.Run("DELETE /v1/endpoints/{id}", func(t *testing.T) {
		id := c.createEndpoint(t, `{"url":"https://x.example/doomed"}`)
		c.call(t, apiCall{method: "DELETE", path: "/v1/endpoints/" + id, want: 204})
		wantError(t, c.call(t, apiCall{method: "DELETE", path: "/v1/endpoints/" + id, want: 404}), "not_found", "")
	})

	t.Run("GET /v1/endpoints/{id}/secret", func(t *testing.T) {
		c.call(t, apiCall{method: "GET", path: "/v1/endpoints/" + epID + "/secret", want: 200})
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/endpoints/" + unknownEndpoint + "/secret", want: 404}), "not_found", "")
		c.call(t, apiCall{method: "GET", path: "/v1/endpoints/" + epID + "/secret", key: publishKey, want: 403})
	})

	t.Run("POST /v1/events", func(t *testing.T) {
		c.call(t, apiCall{method: "POST", path: "/v1/events", body: `{"type":"billing.invoice.paid","data":{"amount":120}}`, want: 202})
		c.call(t, apiCall{method: "POST", path: "/v1/events", body: `{"type":"billing.invoice.paid"}`, want: 202})
		c.call(t, apiCall{method: "POST", path: "/v1/events", body: `{"type":"a.b","id":"evt-conf-1","data":[1,"x",null]}`, key: publishKey, want: 202})
		for i := range 2 {
			out := c.call(t, apiCall{method: "POST", path: "/v1/events", body: `{"type":"a.b","data":1}`, header: map[string]string{"Idempotency-Key": "conf-key-1"}, want: 202})
			if acc := decodeJSON[struct{ Duplicate bool }](t, out); acc.Duplicate != (i == 1) {
				t.Errorf("send %d: %s", i, out)
			}
		}
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/events", body: `{"data":{}}`, want: 400, request: reqInvalid}), "invalid_field", "type")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/events", body: `{"type":"a.*","data":{}}`, want: 400, request: reqInvalid}), "invalid_field", "type")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/events", body: `{"type":"hookd.endpoint.disabled","data":{}}`, want: 400, request: reqInvalid}), "invalid_field", "type")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/events", body: `{"type":"a.b","id":"x y"}`, want: 400, request: reqInvalid}), "invalid_field", "id")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/events", body: `{"type":"a.b","payload":{}}`, want: 400, request: reqInvalid}), "invalid_field", "payload")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/events", body: `[1]`, want: 400, request: reqInvalid}), "invalid_json", "")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/events", body: `{"type":"a.b","data":"` + strings.Repeat("x", 1<<20) + `"}`, want: 413, request: reqAny}), "too_large", "")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/events", body: `{"type":"a.b","data":"` + strings.Repeat("x", 1<<20-10<<10) + `"}`, want: 413, request: reqAny}), "too_large", "data")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/events", body: `{"type":"a.b"}`, key: noKey, want: 401, request: reqInvalid}), "unauthorized", "")
	})

	t.Run("POST /v1/keys", func(t *testing.T) {
		c.call(t, apiCall{method: "POST", path: "/v1/keys", body: `{"name":"ci","scope":"admin"}`, want: 201})
		c.call(t, apiCall{method: "POST", path: "/v1/keys", body: `{"name":"producer","scope":"publish"}`, want: 201})
		c.call(t, apiCall{method: "POST", path: "/v1/keys", body: `{}`, want: 201})
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/keys", body: `{"name":"x","scope":"root"}`, want: 400, request: reqInvalid}), "invalid_field", "scope")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/keys", body: `{"name":"x","expires":"1h"}`, want: 400, request: reqInvalid}), "invalid_field", "expires")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/keys", body: `{"name":"x"}`, key: publishKey, want: 403}), "forbidden", "")
	})

	t.Run("GET /v1/keys", func(t *testing.T) {
		c.call(t, apiCall{method: "GET", path: "/v1/keys", want: 200})
		c.call(t, apiCall{method: "GET", path: "/v1/keys", key: publishKey, want: 403})
		c.call(t, apiCall{method: "GET", path: "/v1/keys", key: noKey, want: 401, request: reqInvalid})
	})

	t.Run("DELETE /v1/keys/{id}", func(t *testing.T) {
		id, key := c.createKey(t, "publish")
		c.call(t, apiCall{method: "DELETE", path: "/v1/keys/" + id, want: 204})
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/events", body: `{"type":"a.b"}`, key: key, want: 401}), "unauthorized", "")
		wantError(t, c.call(t, apiCall{method: "DELETE", path: "/v1/keys/" + id, want: 404}), "not_found", "")
	})
}

// Paging of GET /v1/endpoints (has_more, next_cursor, limit, cursor).
func TestOpenAPIConformanceEndpointPages(t *testing.T) {
	c := newConformance(t, app.Config{NoRouter: true, NoWorker: true})
	for i := range 3 {
		c.createEndpoint(t, fmt.Sprintf(`{"url":"https://x.example/%d"}`, i))
	}
	type page struct {
		Data       []idBody `json:"data"`
		HasMore    bool     `json:"has_more"`
		NextCursor string   `json:"next_cursor"`
	}
	var seen []string
	cursor := ""
	for range 3 {
		p := decodeJSON[page](t, c.call(t, apiCall{method: "GET", path: "/v1/endpoints?limit=2&cursor=" + cursor, want: 200}))
		for _, e := range p.Data {
			seen = append(seen, e.ID)
		}
		if !p.HasMore {
			if p.NextCursor != "" {
				t.Errorf("last page has next_cursor %q", p.NextCursor)
			}
			break
		}
		cursor = p.NextCursor
	}
	if len(seen) != 3 || !slices.IsSorted(seen) {
		t.Errorf("pages gave %v, want the 3 endpoints in id order", seen)
	}
	wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/endpoints?cursor=nonsense", want: 400}), "invalid_field", "cursor")
	wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/endpoints?limit=0", want: 400, request: reqInvalid}), "invalid_field", "limit")
	wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/endpoints?limit=251", want: 400, request: reqInvalid}), "invalid_field", "limit")
}

// Routes docs/api.md added to the first API (enable, disable,
// rotate-secret, test, test-filter, rules/test, events/{id}, deliveries,
// retry, recover), kept apart from the first ones: a subtest whose route
// the server lacks fails with "the server has no such route yet".
func TestOpenAPIConformanceNewRoutes(t *testing.T) {
	// One quick retry, then one an hour later: a failing delivery stays
	// "failed" (with next_attempt_at) for the whole test.
	c := newConformance(t, app.Config{Worker: worker.Config{RetrySchedule: []time.Duration{20 * time.Millisecond, time.Hour}}})
	_, publishKey := c.createKey(t, "publish")
	good := hookdtest.NewReceiver(t)
	failing := hookdtest.NewReceiver(t)
	failing.SetRespond(func(int, hookdtest.Request) int { return http.StatusServiceUnavailable })
	gone := hookdtest.NewReceiver(t)
	gone.SetRespond(func(int, hookdtest.Request) int { return http.StatusNotFound })

	goodID := c.createEndpoint(t, fmt.Sprintf(`{"url":%q,"events":["ok.>"],"filter":"data.n > 0"}`, good.URL+"/hook"))
	badID := c.createEndpoint(t, fmt.Sprintf(`{"url":%q,"events":["fail.>"]}`, failing.URL+"/hook"))
	deadID := c.createEndpoint(t, fmt.Sprintf(`{"url":%q,"events":["gone.>"]}`, gone.URL+"/hook"))
	heldID := c.createEndpoint(t, fmt.Sprintf(`{"url":%q,"events":["held.>"],"enabled":false}`, good.URL+"/held"))
	for _, id := range []string{goodID, badID, deadID, heldID} {
		c.h.WaitEndpoint(t, id, func(e *hookdtest.Endpoint) bool { return e != nil })
	}
	before := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)

	// A delivery in each state: succeeded, failed (retry scheduled), dead
	// (404 is permanent), and pending (held by a disabled endpoint, never
	// attempted).
	okEvent := c.h.PublishEvent(t, "ok.created", map[string]int{"n": 1})
	failEvent := c.h.PublishEvent(t, "fail.created", map[string]int{"n": 1})
	deadEvent := c.h.PublishEvent(t, "gone.created", map[string]int{"n": 1})
	heldEvent := c.h.PublishEvent(t, "held.created", nil)
	okDelivery, failDelivery := c.h.DeliveryID(t, okEvent, goodID), c.h.DeliveryID(t, failEvent, badID)
	deadDelivery, heldDelivery := c.h.DeliveryID(t, deadEvent, deadID), c.h.DeliveryID(t, heldEvent, heldID)
	last := func(id string) delivery.Outcome {
		a := c.h.Attempts(t, id)
		if len(a) == 0 {
			return ""
		}
		return a[len(a)-1].Outcome
	}
	hookdtest.WaitFor(t, 20*time.Second, "a delivery in each state", func() bool {
		return last(goodID) == delivery.OutcomeSucceeded && len(c.h.Attempts(t, badID)) >= 2 &&
			last(deadID) == delivery.OutcomeDead && len(c.h.Queued(t, heldID)) >= 1
	})

	t.Run("POST /v1/endpoints/{id}/disable and enable", func(t *testing.T) {
		out := c.call(t, apiCall{method: "POST", path: "/v1/endpoints/" + goodID + "/disable", want: 200})
		if !strings.Contains(string(out), `"enabled":false`) {
			t.Errorf("disable: %s", out)
		}
		out = c.call(t, apiCall{method: "POST", path: "/v1/endpoints/" + goodID + "/enable", want: 200})
		if !strings.Contains(string(out), `"enabled":true`) {
			t.Errorf("enable: %s", out)
		}
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints/" + unknownEndpoint + "/disable", want: 404}), "not_found", "")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints/" + unknownEndpoint + "/enable", want: 404}), "not_found", "")
		c.call(t, apiCall{method: "POST", path: "/v1/endpoints/" + goodID + "/disable", key: publishKey, want: 403})
	})

	t.Run("POST /v1/endpoints/{id}/rotate-secret", func(t *testing.T) {
		id := c.createEndpoint(t, `{"url":"https://x.example/rotate"}`)
		c.call(t, apiCall{method: "POST", path: "/v1/endpoints/" + id + "/rotate-secret", want: 200})
		c.call(t, apiCall{method: "POST", path: "/v1/endpoints/" + id + "/rotate-secret", body: `{"grace_period":"1h"}`, want: 200})
		c.call(t, apiCall{method: "POST", path: "/v1/endpoints/" + id + "/rotate-secret", body: `{"grace_period":"0s"}`, want: 200})
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints/" + id + "/rotate-secret", body: `{"grace_period":"soon"}`, want: 400, request: reqInvalid}), "invalid_field", "grace_period")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints/" + id + "/rotate-secret", body: `{"grace":"1h"}`, want: 400, request: reqInvalid}), "invalid_field", "grace")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints/" + unknownEndpoint + "/rotate-secret", want: 404}), "not_found", "")
	})

	t.Run("POST /v1/endpoints/{id}/test", func(t *testing.T) {
		out := c.call(t, apiCall{method: "POST", path: "/v1/endpoints/" + goodID + "/test", want: 200})
		if r := decodeJSON[struct{ Succeeded bool }](t, out); !r.Succeeded {
			t.Errorf("test to a 200 receiver: %s", out)
		}
		c.call(t, apiCall{method: "POST", path: "/v1/endpoints/" + goodID + "/test", body: `{"event_type":"ok.test","data":{"n":2}}`, want: 200})
		out = c.call(t, apiCall{method: "POST", path: "/v1/endpoints/" + badID + "/test", body: `{}`, want: 200})
		if r := decodeJSON[struct{ Succeeded bool }](t, out); r.Succeeded {
			t.Errorf("test to a 503 receiver: %s", out)
		}
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints/" + goodID + "/test", body: `{"type":"x"}`, want: 400, request: reqInvalid}), "invalid_field", "type")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints/" + unknownEndpoint + "/test", want: 404}), "not_found", "")
	})

	t.Run("POST /v1/endpoints/{id}/test-filter", func(t *testing.T) {
		out := c.call(t, apiCall{method: "POST", path: "/v1/endpoints/" + goodID + "/test-filter", body: `{"event":{"type":"ok.created","data":{"n":5},"id":"e1","headers":{}}}`, want: 200})
		if r := decodeJSON[struct{ Matched bool }](t, out); !r.Matched {
			t.Errorf("matching event: %s", out)
		}
		out = c.call(t, apiCall{method: "POST", path: "/v1/endpoints/" + goodID + "/test-filter", body: `{"event":{"type":"ok.created","data":{"n":0}}}`, want: 200})
		if r := decodeJSON[struct{ Matched bool }](t, out); r.Matched {
			t.Errorf("event the filter refuses: %s", out)
		}
		c.call(t, apiCall{method: "POST", path: "/v1/endpoints/" + goodID + "/test-filter", body: `{"event":{"type":"ok.created","data":{}}}`, want: 200})
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints/" + goodID + "/test-filter", body: `{"evnt":{}}`, want: 400, request: reqInvalid}), "invalid_field", "evnt")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints/" + unknownEndpoint + "/test-filter", body: `{"event":{"type":"a.b"}}`, want: 404}), "not_found", "")
	})

	t.Run("POST /v1/rules/test", func(t *testing.T) {
		out := c.call(t, apiCall{method: "POST", path: "/v1/rules/test", body: `{"filter":"data.n > 1","events":["a.*"],"event":{"type":"a.b","data":{"n":2}}}`, want: 200})
		if r := decodeJSON[struct{ Matched bool }](t, out); !r.Matched {
			t.Errorf("matching rule: %s", out)
		}
		c.call(t, apiCall{method: "POST", path: "/v1/rules/test", body: `{"events":["b.*"],"event":{"type":"a.b","data":{}}}`, want: 200})
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/rules/test", body: `{"filter":"data.n >","event":{"type":"a.b","data":{}}}`, want: 400}), "invalid_field", "filter")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/rules/test", body: `{"filter":"true","event":{"type":"a.b"},"extra":1}`, want: 400, request: reqInvalid}), "invalid_field", "extra")
		c.call(t, apiCall{method: "POST", path: "/v1/rules/test", body: `{"event":{"type":"a.b"}}`, key: publishKey, want: 403})
	})

	t.Run("GET /v1/events/{id}", func(t *testing.T) {
		out := c.call(t, apiCall{method: "GET", path: "/v1/events/" + okEvent, want: 200})
		if !strings.Contains(string(out), okDelivery) {
			t.Errorf("routed_to lacks delivery %s: %s", okDelivery, out)
		}
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/events/evt_unknown", want: 404}), "not_found", "")
	})

	t.Run("GET /v1/endpoints/{id}/deliveries", func(t *testing.T) {
		out := c.call(t, apiCall{method: "GET", path: "/v1/endpoints/" + goodID + "/deliveries", want: 200})
		if !strings.Contains(string(out), okDelivery) {
			t.Errorf("list lacks delivery %s: %s", okDelivery, out)
		}
		c.call(t, apiCall{method: "GET", path: "/v1/endpoints/" + badID + "/deliveries?status=failed&event_type=fail.*&since=" + before + "&limit=10", want: 200})
		c.call(t, apiCall{method: "GET", path: "/v1/endpoints/" + deadID + "/deliveries?status=dead", want: 200})
		c.call(t, apiCall{method: "GET", path: "/v1/endpoints/" + goodID + "/deliveries?limit=1", want: 200})
		c.call(t, apiCall{method: "GET", path: "/v1/endpoints/" + heldID + "/deliveries?status=pending", want: 200})
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/endpoints/" + goodID + "/deliveries?status=lost", want: 400, request: reqInvalid}), "invalid_field", "status")
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/endpoints/" + goodID + "/deliveries?since=yesterday", want: 400, request: reqInvalid}), "invalid_field", "since")
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/endpoints/" + unknownEndpoint + "/deliveries", want: 404}), "not_found", "")
	})

	t.Run("GET /v1/deliveries/{id}", func(t *testing.T) {
		c.call(t, apiCall{method: "GET", path: "/v1/deliveries/" + okDelivery, want: 200})
		out := c.call(t, apiCall{method: "GET", path: "/v1/deliveries/" + failDelivery, want: 200})
		if !strings.Contains(string(out), `"status":"failed"`) || !strings.Contains(string(out), `"next_attempt_at"`) {
			t.Errorf("failed delivery: %s", out)
		}
		out = c.call(t, apiCall{method: "GET", path: "/v1/deliveries/" + deadDelivery, want: 200})
		if !strings.Contains(string(out), `"status":"dead"`) {
			t.Errorf("dead-lettered delivery: %s", out)
		}
		// Never attempted: "attempts" is [], not absent.
		out = c.call(t, apiCall{method: "GET", path: "/v1/deliveries/" + heldDelivery, want: 200})
		if !strings.Contains(string(out), `"status":"pending"`) {
			t.Errorf("held delivery: %s", out)
		}
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/deliveries/dlv_00000000000000000000000000", want: 404}), "not_found", "")
		// Not a delivery id at all: 404 naming the parameter.
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/deliveries/dlv_unknown", want: 404, request: reqInvalid}), "not_found", "id")
		c.call(t, apiCall{method: "GET", path: "/v1/deliveries/" + okDelivery, key: publishKey, want: 403})
	})

	t.Run("POST /v1/deliveries/{id}/retry", func(t *testing.T) {
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/deliveries/" + okDelivery + "/retry", want: 409}), "already_succeeded", "")
		// Disabled endpoints hold their deliveries, so a retried delivery
		// stays pending: the answer's status does not race the worker.
		for _, id := range []string{goodID, badID, deadID} {
			if status, out := c.h.Do(t, http.MethodPost, "/v1/endpoints/"+id+"/disable", nil); status != http.StatusOK {
				t.Fatalf("disable fixture endpoint: %d %s", status, out)
			}
			c.h.WaitEndpoint(t, id, func(e *hookdtest.Endpoint) bool { return e != nil && !e.Enabled })
		}
		defer func() {
			for _, id := range []string{goodID, badID, deadID} {
				c.h.Do(t, http.MethodPost, "/v1/endpoints/"+id+"/enable", nil)
			}
		}()
		c.call(t, apiCall{method: "POST", path: "/v1/deliveries/" + okDelivery + "/retry", body: `{"force":true}`, want: 202})
		c.call(t, apiCall{method: "POST", path: "/v1/deliveries/" + failDelivery + "/retry", body: `{}`, want: 202})
		c.call(t, apiCall{method: "POST", path: "/v1/deliveries/" + deadDelivery + "/retry", want: 202})
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/deliveries/" + failDelivery + "/retry", want: 409}), "already_queued", "")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/deliveries/" + okDelivery + "/retry", body: `{"force":"yes"}`, want: 400, request: reqInvalid}), "invalid_field", "force")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/deliveries/dlv_00000000000000000000000000/retry", want: 404}), "not_found", "")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/deliveries/dlv_unknown/retry", want: 404, request: reqInvalid}), "not_found", "id")
	})

	t.Run("POST /v1/endpoints/{id}/recover", func(t *testing.T) {
		c.call(t, apiCall{method: "POST", path: "/v1/endpoints/" + deadID + "/recover", body: map[string]string{"since": before}, want: 202})
		c.call(t, apiCall{method: "POST", path: "/v1/endpoints/" + deadID + "/recover", body: map[string]string{"since": before, "until": time.Now().UTC().Format(time.RFC3339Nano)}, want: 202})
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints/" + deadID + "/recover", body: `{}`, want: 400, request: reqInvalid}), "invalid_field", "since")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints/" + deadID + "/recover", body: `{"since":"last week"}`, want: 400, request: reqInvalid}), "invalid_field", "since")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints/" + unknownEndpoint + "/recover", body: map[string]string{"since": before}, want: 404}), "not_found", "")
	})
}

// rawStatus sends a request without checking it against the document (to
// wait for a state): the status of the answer.
func (c *conformance) rawStatus(t *testing.T, method, path, key string) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(c.newRequest(t, apiCall{method: method, path: path, key: key}, nil))
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// Tenants (docs/api.md "## Tenants"): the tenant routes; the tenant of
// endpoints, events and keys; limits; and what a tenant key sees: only its
// tenant, everything else being 404, never 403.
func TestOpenAPIConformanceTenants(t *testing.T) {
	// A router (GET /v1/events/{id} shows routed events, and routing writes
	// pending deliveries) but no worker: deliveries stay pending.
	c := newConformance(t, app.Config{NoWorker: true})
	_, publishKey := c.createKey(t, "publish")
	c.createTenant(t, `{"id":"acme","name":"Acme Corp","metadata":{"plan":"pro"}}`)
	c.createTenant(t, `{"id":"globex"}`)
	acmeKeyID, acmeKey := c.createTenantKey(t, "acme")
	_, globexKey := c.createTenantKey(t, "globex")
	acmeEP := c.createEndpoint(t, `{"url":"https://acme.example/hook","tenant":"acme","events":["order.>"]}`)
	globexEP := c.createEndpoint(t, `{"url":"https://globex.example/hook","tenant":"globex","events":["order.>"]}`)
	defaultEP := c.createEndpoint(t, `{"url":"https://default.example/hook","events":["order.>"]}`)
	for _, id := range []string{acmeEP, globexEP, defaultEP} {
		c.h.WaitEndpoint(t, id, func(e *hookdtest.Endpoint) bool { return e != nil })
	}

	type tenantBody struct {
		ID     string            `json:"id"`
		Name   string            `json:"name"`
		Limits map[string]any    `json:"limits"`
		Meta   map[string]string `json:"metadata"`
	}
	type endpointBody struct {
		ID     string `json:"id"`
		Tenant string `json:"tenant"`
	}
	type page struct {
		Data       []endpointBody `json:"data"`
		HasMore    bool           `json:"has_more"`
		NextCursor string         `json:"next_cursor"`
	}

	t.Run("POST /v1/tenants", func(t *testing.T) {
		out := c.call(t, apiCall{method: "POST", path: "/v1/tenants", want: 201,
			body: `{"id":"Initech_2-b","name":"Initech","metadata":{"plan":"pro"},"limits":{"max_endpoints":10,"events_per_second":50}}`})
		if tb := decodeJSON[tenantBody](t, out); tb.ID != "Initech_2-b" || tb.Name != "Initech" || tb.Meta["plan"] != "pro" {
			t.Errorf("create answered %s", out)
		}
		c.call(t, apiCall{method: "POST", path: "/v1/tenants", body: `{"id":"` + strings.Repeat("x", 64) + `"}`, want: 201})
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/tenants", body: `{"id":"acme"}`, want: 409}), "conflict", "id")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/tenants", body: `{"id":"default"}`, want: 409}), "conflict", "id")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/tenants", body: `{"id":"bad id"}`, want: 400, request: reqInvalid}), "invalid_field", "id")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/tenants", body: `{"id":"tenants.x"}`, want: 400, request: reqInvalid}), "invalid_field", "id")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/tenants", body: `{"id":"` + strings.Repeat("x", 65) + `"}`, want: 400, request: reqInvalid}), "invalid_field", "id")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/tenants", body: `{"name":"no id"}`, want: 400, request: reqInvalid}), "invalid_field", "id")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/tenants", body: `{"id":"x1","plan":"pro"}`, want: 400, request: reqInvalid}), "invalid_field", "plan")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/tenants", body: `{"id":"x1","limits":{"max_endpoints":-1}}`, want: 400, request: reqInvalid}), "invalid_field", "limits.max_endpoints")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/tenants", body: `{"id":"x1","limits":{"events_per_second":-1}}`, want: 400, request: reqInvalid}), "invalid_field", "limits.events_per_second")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/tenants", body: `{"id":"x1","limits":{"max_events":1}}`, want: 400, request: reqInvalid}), "invalid_field", "max_events")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/tenants", body: `{"id":`, want: 400, request: reqAny}), "invalid_json", "")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/tenants", body: `{"id":"x1"}`, key: noKey, want: 401, request: reqInvalid}), "unauthorized", "")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/tenants", body: `{"id":"x1"}`, key: publishKey, want: 403}), "forbidden", "")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/tenants", body: `{"id":"x1"}`, key: acmeKey, want: 404}), "not_found", "")
	})

	t.Run("GET /v1/tenants", func(t *testing.T) {
		type tenantPage struct {
			Data       []tenantBody `json:"data"`
			HasMore    bool         `json:"has_more"`
			NextCursor string       `json:"next_cursor"`
		}
		var seen []string
		cursor := ""
		for range 20 {
			p := decodeJSON[tenantPage](t, c.call(t, apiCall{method: "GET", path: "/v1/tenants?limit=1&cursor=" + cursor, want: 200}))
			for _, tb := range p.Data {
				seen = append(seen, tb.ID)
			}
			if !p.HasMore {
				if p.NextCursor != "" {
					t.Errorf("last page has next_cursor %q", p.NextCursor)
				}
				break
			}
			cursor = p.NextCursor
		}
		if !slices.IsSorted(seen) || !slices.Contains(seen, "acme") || !slices.Contains(seen, "globex") || !slices.Contains(seen, "default") {
			t.Errorf("pages of one gave %v, want every tenant in id order", seen)
		}
		c.call(t, apiCall{method: "GET", path: "/v1/tenants", want: 200})
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/tenants?limit=0", want: 400, request: reqInvalid}), "invalid_field", "limit")
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/tenants?cursor=not.an.id", want: 400}), "invalid_field", "cursor")
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/tenants", key: noKey, want: 401, request: reqInvalid}), "unauthorized", "")
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/tenants", key: publishKey, want: 403}), "forbidden", "")
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/tenants", key: acmeKey, want: 404}), "not_found", "")
	})

	t.Run("GET /v1/tenants/{id}", func(t *testing.T) {
		out := c.call(t, apiCall{method: "GET", path: "/v1/tenants/acme", want: 200})
		if tb := decodeJSON[tenantBody](t, out); tb.ID != "acme" || tb.Name != "Acme Corp" {
			t.Errorf("GET acme: %s", out)
		}
		c.call(t, apiCall{method: "GET", path: "/v1/tenants/default", want: 200}) // always exists
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/tenants/nosuch", want: 404}), "not_found", "")
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/tenants/bad.id", want: 404, request: reqInvalid}), "not_found", "id")
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/tenants/acme", key: acmeKey, want: 404}), "not_found", "")
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/tenants/acme", key: publishKey, want: 403}), "forbidden", "")
	})

	t.Run("PATCH /v1/tenants/{id}", func(t *testing.T) {
		c.createTenant(t, `{"id":"patched","name":"Before","metadata":{"a":"1"}}`)
		out := c.call(t, apiCall{method: "PATCH", path: "/v1/tenants/patched", body: `{"name":"After","limits":{"max_endpoints":3}}`, want: 200})
		if tb := decodeJSON[tenantBody](t, out); tb.Name != "After" || tb.Meta["a"] != "1" || tb.Limits["max_endpoints"] != 3.0 {
			t.Errorf("PATCH name and limits: %s", out)
		}
		out = c.call(t, apiCall{method: "PATCH", path: "/v1/tenants/patched", body: `{"metadata":{"b":"2"},"limits":{}}`, want: 200})
		if tb := decodeJSON[tenantBody](t, out); tb.Name != "After" || len(tb.Meta) != 1 || tb.Meta["b"] != "2" || len(tb.Limits) != 0 {
			t.Errorf("PATCH replaces metadata and limits whole: %s", out)
		}
		c.call(t, apiCall{method: "PATCH", path: "/v1/tenants/patched", body: `{}`, want: 200})
		wantError(t, c.call(t, apiCall{method: "PATCH", path: "/v1/tenants/patched", body: `{"id":"renamed"}`, want: 400, request: reqInvalid}), "invalid_field", "id")
		wantError(t, c.call(t, apiCall{method: "PATCH", path: "/v1/tenants/patched", body: `{"limits":{"max_endpoints":"ten"}}`, want: 400, request: reqInvalid}), "invalid_field", "limits.max_endpoints")
		wantError(t, c.call(t, apiCall{method: "PATCH", path: "/v1/tenants/patched", body: `{"limits":{"events_per_second":-5}}`, want: 400, request: reqInvalid}), "invalid_field", "limits.events_per_second")
		wantError(t, c.call(t, apiCall{method: "PATCH", path: "/v1/tenants/nosuch", body: `{"name":"x"}`, want: 404}), "not_found", "")
		wantError(t, c.call(t, apiCall{method: "PATCH", path: "/v1/tenants/patched", body: `{"name":"x"}`, key: acmeKey, want: 404}), "not_found", "")
		c.call(t, apiCall{method: "PATCH", path: "/v1/tenants/default", body: `{"name":"Everyone else"}`, want: 200})
	})

	t.Run("DELETE /v1/tenants/{id}", func(t *testing.T) {
		c.createTenant(t, `{"id":"doomed"}`)
		ep := c.createEndpoint(t, `{"url":"https://doomed.example/hook","tenant":"doomed"}`)
		_, key := c.createTenantKey(t, "doomed")
		c.call(t, apiCall{method: "GET", path: "/v1/endpoints/" + ep, key: key, want: 200})
		wantError(t, c.call(t, apiCall{method: "DELETE", path: "/v1/tenants/doomed", key: key, want: 404}), "not_found", "")
		c.call(t, apiCall{method: "DELETE", path: "/v1/tenants/doomed", want: 204})
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/tenants/doomed", want: 404}), "not_found", "")
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/endpoints/" + ep, want: 404}), "not_found", "")
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/endpoints", key: key, want: 401}), "unauthorized", "")
		wantError(t, c.call(t, apiCall{method: "DELETE", path: "/v1/tenants/doomed", want: 404}), "not_found", "")
		wantError(t, c.call(t, apiCall{method: "DELETE", path: "/v1/tenants/default", want: 409}), "conflict", "")
		wantError(t, c.call(t, apiCall{method: "DELETE", path: "/v1/tenants/nosuch", want: 404}), "not_found", "")
		wantError(t, c.call(t, apiCall{method: "DELETE", path: "/v1/tenants/globex", key: publishKey, want: 403}), "forbidden", "")
	})

	t.Run("POST /v1/tenants/{id}/portal-tokens", func(t *testing.T) {
		type token struct {
			Token     string    `json:"token"`
			Tenant    string    `json:"tenant"`
			ExpiresAt time.Time `json:"expires_at"`
		}
		start := time.Now()
		tok := decodeJSON[token](t, c.call(t, apiCall{method: "POST", path: "/v1/tenants/acme/portal-tokens", want: 201}))
		if tok.Tenant != "acme" || tok.ExpiresAt.Before(start.Add(time.Hour-time.Minute)) || tok.ExpiresAt.After(time.Now().Add(time.Hour+time.Minute)) {
			t.Errorf("default token: %+v, want tenant acme expiring in 1h", tok)
		}
		long := decodeJSON[token](t, c.call(t, apiCall{method: "POST", path: "/v1/tenants/acme/portal-tokens", body: `{"ttl":"720h"}`, want: 201}))
		if d := time.Until(long.ExpiresAt); d < 719*time.Hour || d > 721*time.Hour {
			t.Errorf("720h token expires in %s", d)
		}
		c.call(t, apiCall{method: "POST", path: "/v1/tenants/acme/portal-tokens", body: `{"ttl":"5m"}`, want: 201})
		c.call(t, apiCall{method: "POST", path: "/v1/tenants/default/portal-tokens", body: `{}`, want: 201})

		// The token manages the tenant's endpoints, and nothing else.
		p := decodeJSON[page](t, c.call(t, apiCall{method: "GET", path: "/v1/endpoints", key: tok.Token, want: 200}))
		for _, e := range p.Data {
			if e.Tenant != "acme" {
				t.Errorf("acme's portal token lists %+v", e)
			}
		}
		c.call(t, apiCall{method: "GET", path: "/v1/endpoints/" + acmeEP, key: tok.Token, want: 200})
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/endpoints/" + globexEP, key: tok.Token, want: 404}), "not_found", "")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/events", body: `{"type":"order.created"}`, key: tok.Token, want: 404}), "not_found", "")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/tenants/acme/portal-tokens", key: tok.Token, want: 404}), "not_found", "")

		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/tenants/acme/portal-tokens", body: `{"ttl":"1m"}`, want: 400, request: reqAny}), "invalid_field", "ttl")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/tenants/acme/portal-tokens", body: `{"ttl":"721h"}`, want: 400, request: reqAny}), "invalid_field", "ttl")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/tenants/acme/portal-tokens", body: `{"ttl":"30d"}`, want: 400, request: reqInvalid}), "invalid_field", "ttl")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/tenants/acme/portal-tokens", body: `{"expires":"1h"}`, want: 400, request: reqInvalid}), "invalid_field", "expires")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/tenants/nosuch/portal-tokens", want: 404}), "not_found", "")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/tenants/acme/portal-tokens", key: acmeKey, want: 404}), "not_found", "")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/tenants/acme/portal-tokens", key: publishKey, want: 403}), "forbidden", "")
	})

	t.Run("endpoints of a tenant", func(t *testing.T) {
		out := c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"url":"https://acme.example/2","tenant":"acme"}`, want: 201})
		if e := decodeJSON[endpointBody](t, out); e.Tenant != "acme" {
			t.Errorf("created in acme: %s", out)
		}
		out = c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"url":"https://x.example/3"}`, want: 201})
		if e := decodeJSON[endpointBody](t, out); e.Tenant != "default" {
			t.Errorf("created without a tenant: %s", out)
		}
		out = c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"url":"https://acme.example/4"}`, key: acmeKey, want: 201})
		if e := decodeJSON[endpointBody](t, out); e.Tenant != "acme" {
			t.Errorf("created by acme's key: %s", out)
		}
		c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"url":"https://acme.example/5","tenant":"acme"}`, key: acmeKey, want: 201})
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"url":"https://acme.example/6","tenant":"globex"}`, key: acmeKey, want: 404}), "not_found", "")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"url":"https://x.example/7","tenant":"nosuch"}`, want: 400}), "invalid_field", "tenant")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"url":"https://x.example/8","tenant":"bad id"}`, want: 400, request: reqInvalid}), "invalid_field", "tenant")
		wantError(t, c.call(t, apiCall{method: "PATCH", path: "/v1/endpoints/" + acmeEP, body: `{"tenant":"globex"}`, want: 400, request: reqInvalid}), "invalid_field", "tenant")

		for _, tc := range []struct{ path, key, tenant string }{
			{"/v1/endpoints?tenant=acme", adminKey, "acme"},
			{"/v1/endpoints?tenant=default", adminKey, "default"},
			{"/v1/endpoints?tenant=nosuch", adminKey, "nosuch"},
			{"/v1/endpoints", acmeKey, "acme"},
			{"/v1/endpoints?tenant=globex", acmeKey, "acme"}, // a tenant key sees only its own
			{"/v1/endpoints", globexKey, "globex"},
		} {
			p := decodeJSON[page](t, c.call(t, apiCall{method: "GET", path: tc.path, key: tc.key, want: 200}))
			for _, e := range p.Data {
				if e.Tenant != tc.tenant {
					t.Errorf("GET %s (key %.12s) lists %+v", tc.path, tc.key, e)
				}
			}
		}

		// Another tenant's endpoint does not exist for a tenant key.
		for _, a := range []apiCall{
			{method: "GET", path: "/v1/endpoints/" + globexEP},
			{method: "PATCH", path: "/v1/endpoints/" + globexEP, body: `{"name":"mine"}`},
			{method: "DELETE", path: "/v1/endpoints/" + globexEP},
			{method: "GET", path: "/v1/endpoints/" + globexEP + "/secret"},
			{method: "POST", path: "/v1/endpoints/" + globexEP + "/disable"},
			{method: "POST", path: "/v1/endpoints/" + globexEP + "/rotate-secret"},
			{method: "GET", path: "/v1/endpoints/" + globexEP + "/deliveries"},
			{method: "GET", path: "/v1/endpoints/" + defaultEP},
		} {
			a.key, a.want = acmeKey, 404
			wantError(t, c.call(t, a), "not_found", "")
		}
		c.call(t, apiCall{method: "GET", path: "/v1/endpoints/" + acmeEP, key: acmeKey, want: 200})
		c.call(t, apiCall{method: "PATCH", path: "/v1/endpoints/" + acmeEP, body: `{"name":"Acme orders"}`, key: acmeKey, want: 200})
		c.call(t, apiCall{method: "GET", path: "/v1/endpoints/" + globexEP, want: 200}) // admin sees all
	})

	t.Run("events of a tenant", func(t *testing.T) {
		type accepted struct{ ID string }
		acmeEvent := decodeJSON[accepted](t, c.call(t, apiCall{method: "POST", path: "/v1/events", body: `{"type":"order.created","tenant":"acme","data":{"n":1}}`, want: 202})).ID
		ownEvent := decodeJSON[accepted](t, c.call(t, apiCall{method: "POST", path: "/v1/events", body: `{"type":"order.created","data":{"n":2}}`, key: acmeKey, want: 202})).ID
		plainEvent := decodeJSON[accepted](t, c.call(t, apiCall{method: "POST", path: "/v1/events", body: `{"type":"order.created"}`, want: 202})).ID
		c.call(t, apiCall{method: "POST", path: "/v1/events", body: `{"type":"order.created","tenant":"acme"}`, key: acmeKey, want: 202})
		c.call(t, apiCall{method: "POST", path: "/v1/events", body: `{"type":"order.created","tenant":"default"}`, key: publishKey, want: 202})
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/events", body: `{"type":"order.created","tenant":"globex"}`, key: acmeKey, want: 404}), "not_found", "")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/events", body: `{"type":"order.created","tenant":"bad id"}`, want: 400, request: reqInvalid}), "invalid_field", "tenant")

		type shown struct {
			Tenant   string `json:"tenant"`
			RoutedTo []struct {
				EndpointID string `json:"endpoint_id"`
				DeliveryID string `json:"delivery_id"`
			} `json:"routed_to"`
		}
		// Each event is considered only by its tenant's endpoints. Event ids
		// are per tenant: an admin key names the tenant with ?tenant=.
		for _, tc := range []struct{ path, key, tenant, endpoint string }{
			{"/v1/events/" + acmeEvent, acmeKey, "acme", acmeEP},
			{"/v1/events/" + ownEvent, acmeKey, "acme", acmeEP},
			{"/v1/events/" + acmeEvent + "?tenant=acme", adminKey, "acme", acmeEP},
			{"/v1/events/" + plainEvent, adminKey, "default", defaultEP},
			{"/v1/events/" + plainEvent + "?tenant=default", adminKey, "default", defaultEP},
		} {
			hookdtest.WaitFor(t, 10*time.Second, tc.path+" routed", func() bool { return c.rawStatus(t, "GET", tc.path, tc.key) == 200 })
			e := decodeJSON[shown](t, c.call(t, apiCall{method: "GET", path: tc.path, key: tc.key, want: 200}))
			var routed []string
			for _, r := range e.RoutedTo {
				routed = append(routed, r.EndpointID)
			}
			otherTenant := func(id string) bool {
				return id != tc.endpoint && slices.Contains([]string{acmeEP, globexEP, defaultEP}, id)
			}
			if e.Tenant != tc.tenant || !slices.Contains(routed, tc.endpoint) || slices.ContainsFunc(routed, otherTenant) {
				t.Errorf("GET %s: %+v, want tenant %s, routed to %s and no other tenant's endpoint", tc.path, e, tc.tenant, tc.endpoint)
			}
		}
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/events/" + acmeEvent, key: globexKey, want: 404}), "not_found", "")
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/events/" + acmeEvent + "?tenant=acme", key: globexKey, want: 404}), "not_found", "")
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/events/" + plainEvent, key: acmeKey, want: 404}), "not_found", "")
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/events/" + acmeEvent + "?tenant=bad.id", want: 400, request: reqInvalid}), "invalid_field", "tenant")

		// A delivery of another tenant's endpoint does not exist for a
		// tenant key.
		dlv := "/v1/deliveries/" + c.h.DeliveryID(t, acmeEvent, acmeEP)
		hookdtest.WaitFor(t, 10*time.Second, dlv+" pending", func() bool { return c.rawStatus(t, "GET", dlv, adminKey) == 200 })
		c.call(t, apiCall{method: "GET", path: dlv, key: acmeKey, want: 200})
		wantError(t, c.call(t, apiCall{method: "GET", path: dlv, key: globexKey, want: 404}), "not_found", "")
		wantError(t, c.call(t, apiCall{method: "POST", path: dlv + "/retry", key: globexKey, want: 404}), "not_found", "")
	})

	t.Run("POST /v1/keys with tenant", func(t *testing.T) {
		type key struct {
			Scope, Tenant string
			ExpiresAt     *time.Time `json:"expires_at"`
		}
		k := decodeJSON[key](t, c.call(t, apiCall{method: "POST", path: "/v1/keys", body: `{"name":"acme ci","scope":"tenant","tenant":"acme"}`, want: 201}))
		if k.Scope != "tenant" || k.Tenant != "acme" || k.ExpiresAt != nil {
			t.Errorf("tenant key: %+v", k)
		}
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/keys", body: `{"name":"x","scope":"tenant"}`, want: 400, request: reqInvalid}), "invalid_field", "tenant")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/keys", body: `{"name":"x","scope":"tenant","tenant":"bad id"}`, want: 400, request: reqInvalid}), "invalid_field", "tenant")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/keys", body: `{"name":"x","scope":"admin","tenant":"acme"}`, want: 400, request: reqInvalid}), "invalid_field", "tenant")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/keys", body: `{"name":"x","scope":"tenant","tenant":"nosuch"}`, want: 400}), "invalid_field", "tenant")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/keys", body: `{"name":"x"}`, key: acmeKey, want: 404}), "not_found", "")
	})

	t.Run("GET /v1/keys and DELETE /v1/keys/{id} with tenant keys", func(t *testing.T) {
		// Portal tokens are keys with a tenant and an expiry.
		c.call(t, apiCall{method: "POST", path: "/v1/tenants/globex/portal-tokens", want: 201})
		out := c.call(t, apiCall{method: "GET", path: "/v1/keys", want: 200})
		if !strings.Contains(string(out), `"tenant":"globex"`) || !strings.Contains(string(out), `"expires_at"`) {
			t.Errorf("keys lack a tenant key or a portal token: %s", out)
		}
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/keys", key: acmeKey, want: 404}), "not_found", "")
		wantError(t, c.call(t, apiCall{method: "DELETE", path: "/v1/keys/" + acmeKeyID, key: acmeKey, want: 404}), "not_found", "")
	})

	t.Run("limits", func(t *testing.T) {
		c.createTenant(t, `{"id":"tiny","limits":{"max_endpoints":1,"events_per_second":1}}`)
		c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"url":"https://tiny.example/1","tenant":"tiny"}`, want: 201})
		// A quota: no Retry-After, waiting does not lift it.
		resp, out := c.exchange(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"url":"https://tiny.example/2","tenant":"tiny"}`}, 409)
		wantError(t, out, "quota_exceeded", "")
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			t.Errorf("quota refusal with Retry-After %q", ra)
		}
		_, tinyKey := c.createTenantKey(t, "tiny")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"url":"https://tiny.example/3"}`, key: tinyKey, want: 409}), "quota_exceeded", "")

		limited := false
		for i := 0; i < 50 && !limited; i++ {
			resp, out := c.exchange(t, apiCall{method: "POST", path: "/v1/events", body: `{"type":"order.created","tenant":"tiny"}`}, 202, 429)
			if resp.StatusCode == 429 {
				limited = true
				wantError(t, out, "limit_exceeded", "")
				if resp.Header.Get("Retry-After") == "" {
					t.Errorf("429 without Retry-After")
				}
			}
		}
		if !limited {
			t.Errorf("50 events at once to a tenant limited to 1 a second: none refused")
		}
		// Other tenants are not limited by it.
		c.call(t, apiCall{method: "POST", path: "/v1/events", body: `{"type":"order.created","tenant":"acme"}`, want: 202})

		// 0 is unlimited.
		c.call(t, apiCall{method: "PATCH", path: "/v1/tenants/tiny", body: `{"limits":{"max_endpoints":0,"events_per_second":0}}`, want: 200})
		c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"url":"https://tiny.example/4","tenant":"tiny"}`, want: 201})
		for range 5 {
			c.call(t, apiCall{method: "POST", path: "/v1/events", body: `{"type":"order.created","tenant":"tiny"}`, want: 202})
		}
	})
}
