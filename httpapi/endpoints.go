package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/event"
)

// endpointInput is the body of create (url required) and of PATCH (every
// field optional: absent fields keep their value).
type endpointInput struct {
	URL      *string   `json:"url"`
	Events   *[]string `json:"events"`
	Filter   *string   `json:"filter"`
	Secret   *string   `json:"secret"`
	Disabled *bool     `json:"disabled"`
}

func (in *endpointInput) applyTo(e *endpoint.Endpoint) {
	if in.URL != nil {
		e.URL = *in.URL
	}
	if in.Events != nil {
		e.Events = *in.Events
	}
	if in.Filter != nil {
		e.Filter = *in.Filter
	}
	if in.Secret != nil {
		e.Secret = *in.Secret
	}
	if in.Disabled != nil {
		e.Disabled = *in.Disabled
	}
}

// endpointView is an endpoint as the API shows it; the secret only appears
// in the answer to create and from GET .../secret.
type endpointView struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	Filter    string    `json:"filter"`
	Disabled  bool      `json:"disabled"`
	Secret    string    `json:"secret,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func view(e *endpoint.Endpoint, withSecret bool) endpointView {
	v := endpointView{ID: e.ID, URL: e.URL, Events: e.Events, Filter: e.Filter, Disabled: e.Disabled,
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
	if v.Events == nil {
		v.Events = []string{}
	}
	if withSecret {
		v.Secret = e.Secret
	}
	return v
}

func validationError(err error) error {
	var fe *endpoint.FieldError
	if errors.As(err, &fe) {
		return fieldError(fe.Field, "%s", fe.Message)
	}
	return err
}

func (a *API) createEndpoint(w http.ResponseWriter, r *http.Request) {
	var in endpointInput
	if err := decodeBody(w, r, maxSmallBody, &in); err != nil {
		writeError(w, err)
		return
	}
	e := &endpoint.Endpoint{ID: event.NewID("ep"), Secret: endpoint.NewSecret()}
	in.applyTo(e)
	if _, err := e.Validate(); err != nil {
		writeError(w, validationError(err))
		return
	}
	// The stream exists before the endpoint is visible to routers, so the
	// first match always has somewhere to go.
	if _, err := a.topo.EnsureEndpoint(r.Context(), e.ID); err != nil {
		writeError(w, natsError("endpoint stream not created", err))
		return
	}
	if err := a.store.Create(r.Context(), e); err != nil {
		_ = a.topo.DeleteEndpoint(r.Context(), e.ID)
		writeError(w, natsError("endpoint not stored", err))
		return
	}
	a.log.Info("endpoint created", "endpoint", e.ID, "url", e.URL)
	writeJSON(w, http.StatusCreated, view(e, true))
}

func (a *API) listEndpoints(w http.ResponseWriter, r *http.Request) {
	eps, err := a.store.List(r.Context())
	if err != nil {
		writeError(w, natsError("endpoints not listed", err))
		return
	}
	out := make([]endpointView, len(eps))
	for i, e := range eps {
		out[i] = view(e, false)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

func (a *API) getEndpoint(w http.ResponseWriter, r *http.Request) {
	e, err := a.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, view(e, false))
}

func (a *API) getSecret(w http.ResponseWriter, r *http.Request) {
	e, err := a.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"secret": e.Secret})
}

func (a *API) lookup(r *http.Request) (*endpoint.Endpoint, error) {
	id := r.PathValue("id")
	e, err := a.store.Get(r.Context(), id)
	if errors.Is(err, endpoint.ErrNotFound) {
		return nil, notFound("endpoint", id)
	}
	if err != nil {
		return nil, natsError("endpoint not read", err)
	}
	return e, nil
}

func (a *API) updateEndpoint(w http.ResponseWriter, r *http.Request) {
	var in endpointInput
	if err := decodeBody(w, r, maxSmallBody, &in); err != nil {
		writeError(w, err)
		return
	}
	id := r.PathValue("id")
	e, err := a.store.Update(r.Context(), id, func(e *endpoint.Endpoint) error {
		in.applyTo(e)
		_, err := e.Validate()
		return validationError(err)
	})
	switch {
	case errors.Is(err, endpoint.ErrNotFound):
		writeError(w, notFound("endpoint", id))
	case errors.Is(err, endpoint.ErrConflict):
		writeError(w, &apiError{Status: http.StatusConflict, Code: "conflict", Message: err.Error() + ": retry"})
	case err != nil:
		var ae *apiError
		if !errors.As(err, &ae) {
			err = natsError("endpoint not updated", err)
		}
		writeError(w, err)
	default:
		a.log.Info("endpoint updated", "endpoint", id)
		writeJSON(w, http.StatusOK, view(e, false))
	}
}

func (a *API) deleteEndpoint(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	err := a.store.Delete(r.Context(), id)
	if errors.Is(err, endpoint.ErrNotFound) {
		writeError(w, notFound("endpoint", id))
		return
	}
	if err != nil {
		writeError(w, natsError("endpoint not deleted", err))
		return
	}
	if err := a.topo.DeleteEndpoint(r.Context(), id); err != nil {
		a.log.Error("endpoint deleted but its stream was not", "endpoint", id, "err", err)
	}
	a.log.Info("endpoint deleted", "endpoint", id)
	w.WriteHeader(http.StatusNoContent)
}
