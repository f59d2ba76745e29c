package cli

import (
	"context"
	"encoding/json"
	"net/http"
)

// createEventType: POST /v1/event-types. body holds the fields to send.
func (c *client) createEventType(ctx context.Context, body map[string]any) (json.RawMessage, error) {
	return c.do(ctx, http.MethodPost, "/v1/event-types", nil, body)
}

// listEventTypes: GET /v1/event-types.
func (c *client) listEventTypes(ctx context.Context, p page) (json.RawMessage, error) {
	return c.do(ctx, http.MethodGet, "/v1/event-types", p.query(), nil)
}

// getEventType: GET /v1/event-types/{name}.
func (c *client) getEventType(ctx context.Context, name string) (json.RawMessage, error) {
	return c.do(ctx, http.MethodGet, "/v1/event-types/"+escape(name), nil, nil)
}

// updateEventType: PATCH /v1/event-types/{name} with only the fields to
// change.
func (c *client) updateEventType(ctx context.Context, name string, body map[string]any) (json.RawMessage, error) {
	return c.do(ctx, http.MethodPatch, "/v1/event-types/"+escape(name), nil, body)
}

// deleteEventType: DELETE /v1/event-types/{name}.
func (c *client) deleteEventType(ctx context.Context, name string) error {
	_, err := c.do(ctx, http.MethodDelete, "/v1/event-types/"+escape(name), nil, nil)
	return err
}
