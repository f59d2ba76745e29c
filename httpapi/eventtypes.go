package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/hookd/hookd/catalog"
)

// maxEventTypeBody holds a schema and an example of the largest size, and
// the rest.
const maxEventTypeBody = 2*catalog.MaxDocument + 16<<10

// eventTypeInput is the body of create (name required) and of PATCH
// (every field optional; schema or example null removes it).
type eventTypeInput struct {
	Name        *string         `json:"name"`
	Description *string         `json:"description"`
	Schema      json.RawMessage `json:"schema"`
	Example     json.RawMessage `json:"example"`
}

func (in *eventTypeInput) applyTo(t *catalog.EventType) {
	if in.Description != nil {
		t.Description = *in.Description
	}
	if in.Schema != nil {
		t.Schema = in.Schema
	}
	if in.Example != nil {
		t.Example = in.Example
	}
}

type eventTypeView struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema"`
	Example     json.RawMessage `json:"example"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

func eventTypeOf(t *catalog.EventType) eventTypeView {
	v := eventTypeView{Name: t.Name, Description: t.Description, Schema: t.Schema, Example: t.Example, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
	if v.Schema == nil {
		v.Schema = json.RawMessage("null")
	}
	if v.Example == nil {
		v.Example = json.RawMessage("null")
	}
	return v
}

// catalogError maps the catalogue's errors to answers.
func catalogError(what, name string, err error) error {
	var fe *catalog.FieldError
	switch {
	case errors.As(err, &fe):
		return fieldError(fe.Field, "%s", fe.Message)
	case errors.Is(err, catalog.ErrNotFound):
		return notFound("event type", name)
	case errors.Is(err, catalog.ErrExists):
		return &apiError{Status: http.StatusConflict, Code: "conflict", Field: "name", Message: "event type " + name + " exists: PATCH it"}
	case errors.Is(err, catalog.ErrConflict):
		return &apiError{Status: http.StatusConflict, Code: "conflict", Message: err.Error() + ": retry"}
	}
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	return natsError(what, err)
}

// catalogAdmin refuses a change of the catalogue by a key that is not an
// admin's: the catalogue is every tenant's (any key reads it).
func catalogAdmin(r *http.Request) error {
	if accessOf(r).admin() {
		return nil
	}
	return &apiError{Status: http.StatusForbidden, Code: "forbidden", Message: "the event-type catalogue is changed with admin keys only"}
}

func (a *API) createEventType(w http.ResponseWriter, r *http.Request) {
	if err := catalogAdmin(r); err != nil {
		writeError(w, err)
		return
	}
	var in eventTypeInput
	if err := decodeBody(w, r, maxEventTypeBody, &in); err != nil {
		writeError(w, err)
		return
	}
	if in.Name == nil || *in.Name == "" {
		writeError(w, fieldError("name", "required: the event type, e.g. order.created"))
		return
	}
	t := &catalog.EventType{Name: *in.Name}
	in.applyTo(t)
	if err := a.catalog.Create(r.Context(), t); err != nil {
		writeError(w, catalogError("event type not stored", t.Name, err))
		return
	}
	a.log.Info("event type created", "type", t.Name)
	writeJSON(w, http.StatusCreated, eventTypeOf(t))
}

type eventTypeList struct {
	Data       []eventTypeView `json:"data"`
	HasMore    bool            `json:"has_more"`
	NextCursor string          `json:"next_cursor"`
}

// listEventTypes pages by name: the cursor is the last name of the
// previous page.
func (a *API) listEventTypes(w http.ResponseWriter, r *http.Request) {
	limit, err := pageLimit(r)
	if err != nil {
		writeError(w, err)
		return
	}
	cursor := r.URL.Query().Get("cursor")
	if cursor != "" && catalog.ValidateName(cursor) != nil {
		writeError(w, fieldError("cursor", "is not a cursor this API returned"))
		return
	}
	all, err := a.catalog.List(r.Context())
	if err != nil {
		writeError(w, natsError("event types not listed", err))
		return
	}
	out := eventTypeList{Data: []eventTypeView{}}
	for _, t := range all {
		if t.Name <= cursor {
			continue
		}
		if len(out.Data) == limit {
			out.HasMore = true
			break
		}
		out.Data = append(out.Data, eventTypeOf(t))
	}
	if out.HasMore {
		out.NextCursor = out.Data[len(out.Data)-1].Name
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) getEventType(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	t, err := a.catalog.Get(r.Context(), name)
	if err != nil {
		writeError(w, catalogError("event type not read", name, err))
		return
	}
	writeJSON(w, http.StatusOK, eventTypeOf(t))
}

func (a *API) updateEventType(w http.ResponseWriter, r *http.Request) {
	if err := catalogAdmin(r); err != nil {
		writeError(w, err)
		return
	}
	var in eventTypeInput
	if err := decodeBody(w, r, maxEventTypeBody, &in); err != nil {
		writeError(w, err)
		return
	}
	name := r.PathValue("name")
	if in.Name != nil && *in.Name != name {
		writeError(w, fieldError("name", "cannot be changed: create the new type and delete this one"))
		return
	}
	t, err := a.catalog.Update(r.Context(), name, func(t *catalog.EventType) error {
		in.applyTo(t)
		return nil
	})
	if err != nil {
		writeError(w, catalogError("event type not updated", name, err))
		return
	}
	a.log.Info("event type updated", "type", name)
	writeJSON(w, http.StatusOK, eventTypeOf(t))
}

func (a *API) deleteEventType(w http.ResponseWriter, r *http.Request) {
	if err := catalogAdmin(r); err != nil {
		writeError(w, err)
		return
	}
	name := r.PathValue("name")
	if err := a.catalog.Delete(r.Context(), name); err != nil {
		writeError(w, catalogError("event type not deleted", name, err))
		return
	}
	a.log.Info("event type deleted", "type", name)
	w.WriteHeader(http.StatusNoContent)
}
