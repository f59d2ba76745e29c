package httpapi_test

import (
	"strings"
	"testing"

	"github.com/hookd/hookd/app"
)

const orderSchema = `{"type":"object","required":["order_id","amount"],"properties":{"order_id":{"type":"string"},"amount":{"type":"number","minimum":0},"customer":{"type":"object"}}}`

// The event-type catalogue (docs/api.md "## Event types"): CRUD, who may
// change it, schema and example checks; events checked against it; filters
// checked against its examples. Every answer conforms.
func TestOpenAPIConformanceEventTypes(t *testing.T) {
	c := newConformance(t, app.Config{NoRouter: true, NoWorker: true})
	_, publishKey := c.createKey(t, "publish")
	c.createTenant(t, `{"id":"acme"}`)
	_, acmeKey := c.createTenantKey(t, "acme")
	created := `{"name":"order.created","description":"An order was placed.","schema":` + orderSchema + `,"example":{"order_id":"o_1","amount":42.5}}`

	t.Run("POST /v1/event-types", func(t *testing.T) {
		out := string(c.call(t, apiCall{method: "POST", path: "/v1/event-types", body: created, want: 201}))
		if !strings.Contains(out, `"name":"order.created"`) || !strings.Contains(out, `"example":{"order_id":"o_1","amount":42.5}`) {
			t.Errorf("create answered %s", out)
		}
		c.call(t, apiCall{method: "POST", path: "/v1/event-types", body: `{"name":"user.signed_up"}`, want: 201})
		c.call(t, apiCall{method: "POST", path: "/v1/event-types", body: `{"name":"a-1.b_2","schema":null,"example":null}`, want: 201})
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/event-types", body: created, want: 409}), "conflict", "name")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/event-types", body: `{"name":"x.bad","schema":{"type":"strin"}}`, want: 400}), "invalid_field", "schema")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/event-types", body: `{"name":"x.bad","schema":{"$ref":"https://example.com/s.json"}}`, want: 400}), "invalid_field", "schema")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/event-types", body: `{"name":"x.bad","schema":` + orderSchema + `,"example":{"order_id":"o_1","amount":-1}}`, want: 400}), "invalid_field", "example")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/event-types", body: `{"description":"no name"}`, want: 400, request: reqInvalid}), "invalid_field", "name")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/event-types", body: `{"name":"a.*"}`, want: 400, request: reqInvalid}), "invalid_field", "name")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/event-types", body: `{"name":"x.y","version":2}`, want: 400, request: reqInvalid}), "invalid_field", "version")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/event-types", body: `{"name":"x.y"}`, key: acmeKey, want: 403}), "forbidden", "")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/event-types", body: `{"name":"x.y"}`, key: publishKey, want: 403}), "forbidden", "")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/event-types", body: `{"name":"x.y"}`, key: noKey, want: 401, request: reqInvalid}), "unauthorized", "")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/event-types", body: `{"name":"x.y","schema":"` + strings.Repeat("x", 200<<10) + `"}`, want: 413, request: reqAny}), "too_large", "")
	})

	t.Run("GET /v1/event-types", func(t *testing.T) {
		type listing struct {
			Data       []struct{ Name string }
			HasMore    bool   `json:"has_more"`
			NextCursor string `json:"next_cursor"`
		}
		first := decodeJSON[listing](t, c.call(t, apiCall{method: "GET", path: "/v1/event-types?limit=2", want: 200}))
		if len(first.Data) != 2 || first.Data[0].Name != "a-1.b_2" || first.Data[1].Name != "order.created" || !first.HasMore || first.NextCursor != "order.created" {
			t.Fatalf("first page %+v", first)
		}
		// Any key reads the catalogue, a tenant's included.
		rest := decodeJSON[listing](t, c.call(t, apiCall{method: "GET", path: "/v1/event-types?cursor=order.created", key: acmeKey, want: 200}))
		if len(rest.Data) != 1 || rest.Data[0].Name != "user.signed_up" || rest.HasMore || rest.NextCursor != "" {
			t.Fatalf("second page %+v", rest)
		}
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/event-types?limit=0", want: 400, request: reqInvalid}), "invalid_field", "limit")
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/event-types?cursor=a%20b", want: 400}), "invalid_field", "cursor")
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/event-types", key: publishKey, want: 403}), "forbidden", "")
	})

	t.Run("GET /v1/event-types/{name}", func(t *testing.T) {
		out := string(c.call(t, apiCall{method: "GET", path: "/v1/event-types/user.signed_up", key: acmeKey, want: 200}))
		if !strings.Contains(out, `"schema":null`) || !strings.Contains(out, `"description":""`) {
			t.Errorf("get answered %s", out)
		}
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/event-types/no.such", want: 404}), "not_found", "")
	})

	t.Run("PATCH /v1/event-types/{name}", func(t *testing.T) {
		out := string(c.call(t, apiCall{method: "PATCH", path: "/v1/event-types/user.signed_up", want: 200,
			body: `{"description":"A user signed up.","schema":{"type":"object","required":["email"]},"example":{"email":"a@example.com"}}`}))
		if !strings.Contains(out, `"description":"A user signed up."`) || !strings.Contains(out, `"required":["email"]`) {
			t.Errorf("patch answered %s", out)
		}
		// A schema the stored example fails: refused, naming the example.
		wantError(t, c.call(t, apiCall{method: "PATCH", path: "/v1/event-types/user.signed_up", body: `{"schema":{"type":"object","required":["id"]}}`, want: 400}), "invalid_field", "example")
		wantError(t, c.call(t, apiCall{method: "PATCH", path: "/v1/event-types/user.signed_up", body: `{"schema":{"minLength":"x"}}`, want: 400}), "invalid_field", "schema")
		wantError(t, c.call(t, apiCall{method: "PATCH", path: "/v1/event-types/user.signed_up", body: `{"name":"user.created"}`, want: 400}), "invalid_field", "name")
		out = string(c.call(t, apiCall{method: "PATCH", path: "/v1/event-types/user.signed_up", body: `{"schema":null,"example":null}`, want: 200}))
		if !strings.Contains(out, `"schema":null`) || !strings.Contains(out, `"example":null`) {
			t.Errorf("null did not remove: %s", out)
		}
		wantError(t, c.call(t, apiCall{method: "PATCH", path: "/v1/event-types/no.such", body: `{"description":"x"}`, want: 404}), "not_found", "")
		wantError(t, c.call(t, apiCall{method: "PATCH", path: "/v1/event-types/user.signed_up", body: `{"description":"x"}`, key: acmeKey, want: 403}), "forbidden", "")
	})

	t.Run("DELETE /v1/event-types/{name}", func(t *testing.T) {
		wantError(t, c.call(t, apiCall{method: "DELETE", path: "/v1/event-types/a-1.b_2", key: acmeKey, want: 403}), "forbidden", "")
		c.call(t, apiCall{method: "DELETE", path: "/v1/event-types/a-1.b_2", want: 204})
		wantError(t, c.call(t, apiCall{method: "DELETE", path: "/v1/event-types/a-1.b_2", want: 404}), "not_found", "")
	})

	t.Run("POST /v1/events checks the schema", func(t *testing.T) {
		c.call(t, apiCall{method: "POST", path: "/v1/events", body: `{"type":"order.created","data":{"order_id":"o_2","amount":10}}`, want: 202})
		out := c.call(t, apiCall{method: "POST", path: "/v1/events", body: `{"type":"order.created","data":{"order_id":"o_3","amount":"10"}}`, want: 400})
		wantError(t, out, "invalid_field", "data")
		if !strings.Contains(string(out), "order.created") || !strings.Contains(string(out), "at /amount: got string, want number") {
			t.Errorf("the error does not say where and why: %s", out)
		}
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/events", body: `{"type":"order.created"}`, key: publishKey, want: 400}), "invalid_field", "data")
		// A type without a catalogue entry, or without a schema, is not checked.
		c.call(t, apiCall{method: "POST", path: "/v1/events", body: `{"type":"order.paid","data":"anything"}`, want: 202})
		c.call(t, apiCall{method: "POST", path: "/v1/events", body: `{"type":"user.signed_up","data":[1]}`, want: 202})
	})

	ceJSON := map[string]string{"Content-Type": "application/cloudevents+json"}
	t.Run("POST /v1/events with a CloudEvent", func(t *testing.T) {
		out := c.call(t, apiCall{method: "POST", path: "/v1/events", header: ceJSON, want: 202,
			body: `{"specversion":"1.0","id":"ce-conf-1","source":"/orders","type":"order.created","time":"2026-06-01T12:00:00Z","data":{"order_id":"o_4","amount":1}}`})
		if acc := decodeJSON[struct {
			ID, Type  string
			Duplicate bool
		}](t, out); acc.ID != "ce-conf-1" || acc.Type != "order.created" || acc.Duplicate {
			t.Errorf("answered %s", out)
		}
		// The CloudEvent's id is the duplicate key.
		out = c.call(t, apiCall{method: "POST", path: "/v1/events", header: ceJSON, want: 202,
			body: `{"specversion":"1.0","id":"ce-conf-1","source":"/orders","type":"order.created","data":{"order_id":"o_4","amount":1}}`})
		if !strings.Contains(string(out), `"duplicate":true`) {
			t.Errorf("a re-sent CloudEvent id was not a duplicate: %s", out)
		}
		c.call(t, apiCall{method: "POST", path: "/v1/events", header: map[string]string{"Content-Type": "application/cloudevents+json", "Hookd-Tenant": "acme"}, want: 202,
			body: `{"specversion":"1.0","id":"ce-conf-2","source":"urn:x","type":"blob.put","datacontenttype":"application/octet-stream","data_base64":"AAEC"}`})
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/events", header: ceJSON, want: 400,
			body: `{"specversion":"1.0","id":"ce-conf-3","source":"/orders","type":"order.created","data":{"order_id":"o_5"}}`}), "invalid_field", "data")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/events", header: ceJSON, want: 400, request: reqInvalid,
			body: `{"specversion":"1.0","id":"ce-conf-4","type":"a.b"}`}), "invalid_field", "source")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/events", header: ceJSON, want: 400, request: reqInvalid,
			body: `{"specversion":"0.3","id":"ce-conf-4","source":"s","type":"a.b"}`}), "invalid_field", "specversion")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/events", header: ceJSON, want: 400, request: reqInvalid,
			body: `{"specversion":"1.0","id":"ce-conf-4","source":"s","type":"a.b","time":"yesterday"}`}), "invalid_field", "time")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/events", header: ceJSON, want: 400, request: reqInvalid,
			body: `{"specversion":"1.0","id":"a/b","source":"s","type":"a.b"}`}), "invalid_field", "id")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/events", header: ceJSON, want: 400, request: reqInvalid,
			body: `{"specversion":"1.0","id":"x","source":"s","type":"a.*"}`}), "invalid_field", "type")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/events", header: ceJSON, want: 400, request: reqInvalid,
			body: `{"specversion":"1.0","id":"x","source":"s","type":"a.b","data":1,"data_base64":"AA=="}`}), "invalid_field", "data_base64")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/events", header: map[string]string{"Content-Type": "application/cloudevents+json", "Hookd-Tenant": "nope"}, want: 400,
			body: `{"specversion":"1.0","id":"x","source":"s","type":"a.b"}`}), "invalid_field", "tenant")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/events", header: ceJSON, want: 400, request: reqInvalid, body: `[1]`}), "invalid_json", "")
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/events", header: map[string]string{"Content-Type": "application/cloudevents-batch+json"}, want: 415, request: reqAny,
			body: `[{"specversion":"1.0","id":"x","source":"s","type":"a.b"}]`}), "unsupported_media_type", "")
	})

	t.Run("endpoint filters meet the examples", func(t *testing.T) {
		bad := `{"url":"https://x.example/hook","events":["order.*"],"filter":"data.customer.id == \"c_1\""}`
		out := c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: bad, want: 400})
		wantError(t, out, "invalid_field", "filter")
		if !strings.Contains(string(out), "order.created") {
			t.Errorf("the error does not name the type: %s", out)
		}
		// Safe navigation passes; so does a filter whose events match no
		// type with an example.
		id := c.createEndpoint(t, `{"url":"https://x.example/hook","events":["order.*"],"filter":"data.customer?.id == \"c_1\""}`)
		c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"url":"https://x.example/hook","events":["user.*"],"filter":"data.customer.id == \"c_1\""}`, want: 201})
		wantError(t, c.call(t, apiCall{method: "PATCH", path: "/v1/endpoints/" + id, body: `{"filter":"data.customer.id == \"c_2\""}`, want: 400}), "invalid_field", "filter")
		wantError(t, c.call(t, apiCall{method: "PATCH", path: "/v1/endpoints/" + id, body: `{"events":["order.created"],"filter":"data.total.cents > 0"}`, want: 400}), "invalid_field", "filter")
		c.call(t, apiCall{method: "PATCH", path: "/v1/endpoints/" + id, body: `{"name":"unrelated change"}`, want: 200})
		// A filter whose result on the example is not a boolean (a field
		// the example lacks is nil) is refused too: it would be a rule
		// error on every such event.
		out = c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"url":"https://x.example/hook","events":["order.*"],"filter":"data.paid"}`, want: 400})
		wantError(t, out, "invalid_field", "filter")
		if !strings.Contains(string(out), "not true or false") {
			t.Errorf("the error does not say the result is not a boolean: %s", out)
		}
		c.call(t, apiCall{method: "POST", path: "/v1/endpoints", body: `{"url":"https://x.example/hook","events":["order.*"],"filter":"data.paid ?? false"}`, want: 201})
		// So is one over its budget on the example.
		wantError(t, c.call(t, apiCall{method: "POST", path: "/v1/endpoints", want: 400,
			body: `{"url":"https://x.example/hook","events":["order.*"],"filter":"len(repeat(data.order_id, 100000000)) > 0"}`}), "invalid_field", "filter")
	})
}
