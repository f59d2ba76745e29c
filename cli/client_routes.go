package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// page selects one page of a list: zero values are left to the server.
type page struct {
	limit  int
	cursor string
}

func (p page) query() url.Values {
	q := url.Values{}
	if p.limit != 0 {
		q.Set("limit", strconv.Itoa(p.limit))
	}
	if p.cursor != "" {
		q.Set("cursor", p.cursor)
	}
	return q
}

// createEndpoint: POST /v1/endpoints. body holds the fields to send.
func (c *client) createEndpoint(ctx context.Context, body map[string]any) (json.RawMessage, error) {
	return c.do(ctx, http.MethodPost, "/v1/endpoints", nil, body)
}

// listEndpoints: GET /v1/endpoints; a non-empty tenant lists only that
// tenant's endpoints.
func (c *client) listEndpoints(ctx context.Context, p page, tenant string) (json.RawMessage, error) {
	q := p.query()
	if tenant != "" {
		q.Set("tenant", tenant)
	}
	return c.do(ctx, http.MethodGet, "/v1/endpoints", q, nil)
}

// getEndpoint: GET /v1/endpoints/{id}.
func (c *client) getEndpoint(ctx context.Context, id string) (json.RawMessage, error) {
	return c.do(ctx, http.MethodGet, "/v1/endpoints/"+escape(id), nil, nil)
}

// updateEndpoint: PATCH /v1/endpoints/{id} with only the fields to change.
func (c *client) updateEndpoint(ctx context.Context, id string, body map[string]any) (json.RawMessage, error) {
	return c.do(ctx, http.MethodPatch, "/v1/endpoints/"+escape(id), nil, body)
}

// deleteEndpoint: DELETE /v1/endpoints/{id}.
func (c *client) deleteEndpoint(ctx context.Context, id string) error {
	_, err := c.do(ctx, http.MethodDelete, "/v1/endpoints/"+escape(id), nil, nil)
	return err
}

// setEndpointEnabled: POST /v1/endpoints/{id}/enable or /disable.
func (c *client) setEndpointEnabled(ctx context.Context, id string, enabled bool) (json.RawMessage, error) {
	action := "/disable"
	if enabled {
		action = "/enable"
	}
	return c.do(ctx, http.MethodPost, "/v1/endpoints/"+escape(id)+action, nil, nil)
}

// endpointSecret: GET /v1/endpoints/{id}/secret.
func (c *client) endpointSecret(ctx context.Context, id string) (json.RawMessage, error) {
	return c.do(ctx, http.MethodGet, "/v1/endpoints/"+escape(id)+"/secret", nil, nil)
}

// rotateSecret: POST /v1/endpoints/{id}/rotate-secret; an empty grace
// leaves the grace period to the server, an empty scheme the current one.
func (c *client) rotateSecret(ctx context.Context, id, grace, scheme string) (json.RawMessage, error) {
	body := map[string]any{}
	if grace != "" {
		body["grace_period"] = grace
	}
	if scheme != "" {
		body["signing"] = scheme
	}
	return c.do(ctx, http.MethodPost, "/v1/endpoints/"+escape(id)+"/rotate-secret", nil, body)
}

// testEndpoint: POST /v1/endpoints/{id}/test; empty fields are left out.
func (c *client) testEndpoint(ctx context.Context, id, eventType string, data json.RawMessage) (json.RawMessage, error) {
	body := map[string]any{}
	if eventType != "" {
		body["event_type"] = eventType
	}
	if data != nil {
		body["data"] = data
	}
	return c.do(ctx, http.MethodPost, "/v1/endpoints/"+escape(id)+"/test", nil, body)
}

// testEndpointFilter: POST /v1/endpoints/{id}/test-filter with an event
// object ({"type","data","id","headers"}).
func (c *client) testEndpointFilter(ctx context.Context, id string, event json.RawMessage) (json.RawMessage, error) {
	return c.do(ctx, http.MethodPost, "/v1/endpoints/"+escape(id)+"/test-filter", nil, map[string]any{"event": event})
}

// recoverEndpoint: POST /v1/endpoints/{id}/recover; an empty until means
// now.
func (c *client) recoverEndpoint(ctx context.Context, id, since, until string) (json.RawMessage, error) {
	body := map[string]any{"since": since}
	if until != "" {
		body["until"] = until
	}
	return c.do(ctx, http.MethodPost, "/v1/endpoints/"+escape(id)+"/recover", nil, body)
}

// deliveryFilter narrows a list of deliveries; empty fields are not sent.
type deliveryFilter struct {
	status, since, until, eventType string
	page
}

// listDeliveries: GET /v1/endpoints/{id}/deliveries.
func (c *client) listDeliveries(ctx context.Context, endpointID string, f deliveryFilter) (json.RawMessage, error) {
	q := f.query()
	for k, v := range map[string]string{"status": f.status, "since": f.since, "until": f.until, "event_type": f.eventType} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return c.do(ctx, http.MethodGet, "/v1/endpoints/"+escape(endpointID)+"/deliveries", q, nil)
}

// getDelivery: GET /v1/deliveries/{id}.
func (c *client) getDelivery(ctx context.Context, id string) (json.RawMessage, error) {
	return c.do(ctx, http.MethodGet, "/v1/deliveries/"+escape(id), nil, nil)
}

// retryDelivery: POST /v1/deliveries/{id}/retry; force is needed for a
// delivery that succeeded.
func (c *client) retryDelivery(ctx context.Context, id string, force bool) (json.RawMessage, error) {
	body := map[string]any{}
	if force {
		body["force"] = true
	}
	return c.do(ctx, http.MethodPost, "/v1/deliveries/"+escape(id)+"/retry", nil, body)
}

// sendEvent: POST /v1/events; empty id lets the server choose, empty
// tenant sends none (the default tenant), nil data sends none.
func (c *client) sendEvent(ctx context.Context, eventType, id, tenant string, data json.RawMessage) (json.RawMessage, error) {
	body := map[string]any{"type": eventType}
	if id != "" {
		body["id"] = id
	}
	if tenant != "" {
		body["tenant"] = tenant
	}
	if data != nil {
		body["data"] = data
	}
	return c.do(ctx, http.MethodPost, "/v1/events", nil, body)
}

// getEvent: GET /v1/events/{id}; event ids are per tenant, so a
// non-empty tenant looks in that tenant's (admin keys; the server's
// default is the default tenant, or a tenant key's own).
func (c *client) getEvent(ctx context.Context, id, tenant string) (json.RawMessage, error) {
	var q url.Values
	if tenant != "" {
		q = url.Values{"tenant": {tenant}}
	}
	return c.do(ctx, http.MethodGet, "/v1/events/"+escape(id), q, nil)
}

// backfill: POST /v1/endpoints/{id}/backfill; empty fields are left to
// the server.
func (c *client) backfill(ctx context.Context, id string, w historyWindow, dryRun bool) (json.RawMessage, error) {
	body := w.body()
	body["dry_run"] = dryRun
	// The answer comes when every delivery is queued: a long window takes
	// minutes (the server allows backfills 30).
	return c.long(31*time.Minute).do(ctx, http.MethodPost, "/v1/endpoints/"+escape(id)+"/backfill", nil, body)
}

// historyWindow selects stored events; empty fields are left to the
// server.
type historyWindow struct {
	since, until string
	sampleSize   int
}

func (w historyWindow) body() map[string]any {
	body := map[string]any{"since": w.since}
	if w.until != "" {
		body["until"] = w.until
	}
	if w.sampleSize > 0 {
		body["sample_size"] = w.sampleSize
	}
	return body
}

// testRuleHistory: POST /v1/rules/test over stored events.
func (c *client) testRuleHistory(ctx context.Context, filter string, patterns []string, w historyWindow) (json.RawMessage, error) {
	body := w.body()
	body["filter"] = filter
	if patterns != nil {
		body["events"] = patterns
	}
	return c.do(ctx, http.MethodPost, "/v1/rules/test", nil, body)
}

// testRule: POST /v1/rules/test; nil patterns are not sent.
func (c *client) testRule(ctx context.Context, filter string, patterns []string, event json.RawMessage) (json.RawMessage, error) {
	body := map[string]any{"filter": filter, "event": event}
	if patterns != nil {
		body["events"] = patterns
	}
	return c.do(ctx, http.MethodPost, "/v1/rules/test", nil, body)
}

// createKey: POST /v1/keys; empty fields are left to the server.
func (c *client) createKey(ctx context.Context, name, scope, tenant string) (json.RawMessage, error) {
	body := map[string]any{}
	if name != "" {
		body["name"] = name
	}
	if scope != "" {
		body["scope"] = scope
	}
	if tenant != "" {
		body["tenant"] = tenant
	}
	return c.do(ctx, http.MethodPost, "/v1/keys", nil, body)
}

// listKeys: GET /v1/keys.
func (c *client) listKeys(ctx context.Context) (json.RawMessage, error) {
	return c.do(ctx, http.MethodGet, "/v1/keys", nil, nil)
}

// revokeKey: DELETE /v1/keys/{id}.
func (c *client) revokeKey(ctx context.Context, id string) error {
	_, err := c.do(ctx, http.MethodDelete, "/v1/keys/"+escape(id), nil, nil)
	return err
}

// createTenant: POST /v1/tenants. body holds the fields to send.
func (c *client) createTenant(ctx context.Context, body map[string]any) (json.RawMessage, error) {
	return c.do(ctx, http.MethodPost, "/v1/tenants", nil, body)
}

// listTenants: GET /v1/tenants.
func (c *client) listTenants(ctx context.Context, p page) (json.RawMessage, error) {
	return c.do(ctx, http.MethodGet, "/v1/tenants", p.query(), nil)
}

// getTenant: GET /v1/tenants/{id}.
func (c *client) getTenant(ctx context.Context, id string) (json.RawMessage, error) {
	return c.do(ctx, http.MethodGet, "/v1/tenants/"+escape(id), nil, nil)
}

// updateTenant: PATCH /v1/tenants/{id} with only the fields to change.
func (c *client) updateTenant(ctx context.Context, id string, body map[string]any) (json.RawMessage, error) {
	return c.do(ctx, http.MethodPatch, "/v1/tenants/"+escape(id), nil, body)
}

// deleteTenant: DELETE /v1/tenants/{id}.
func (c *client) deleteTenant(ctx context.Context, id string) error {
	_, err := c.do(ctx, http.MethodDelete, "/v1/tenants/"+escape(id), nil, nil)
	return err
}

// createPortalToken: POST /v1/tenants/{id}/portal-tokens; an empty ttl
// leaves it to the server.
func (c *client) createPortalToken(ctx context.Context, id, ttl string) (json.RawMessage, error) {
	body := map[string]any{}
	if ttl != "" {
		body["ttl"] = ttl
	}
	return c.do(ctx, http.MethodPost, "/v1/tenants/"+escape(id)+"/portal-tokens", nil, body)
}
