package httpapi

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/hookd/hookd/apikey"
)

type keyInput struct {
	Name   string `json:"name"`
	Scope  string `json:"scope"`
	Tenant string `json:"tenant"`
}

type keyView struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Scope     string     `json:"scope"`
	Tenant    string     `json:"tenant,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	Key       string     `json:"key,omitempty"`
}

func keyOf(k *apikey.Key) keyView {
	return keyView{ID: k.ID, Name: k.Name, Scope: string(k.Scope), Tenant: k.Tenant, ExpiresAt: k.ExpiresAt, CreatedAt: k.CreatedAt}
}

func (a *API) createKey(w http.ResponseWriter, r *http.Request) {
	var in keyInput
	if err := decodeBody(w, r, maxSmallBody, &in); err != nil {
		writeError(w, err)
		return
	}
	if in.Scope == "" {
		in.Scope = string(apikey.ScopeAdmin)
	}
	if !apikey.Scope(in.Scope).Valid() {
		writeError(w, fieldError("scope", "must be admin, publish or tenant, not %q", in.Scope))
		return
	}
	switch {
	case in.Scope == string(apikey.ScopeTenant) && in.Tenant == "":
		writeError(w, fieldError("tenant", "required with scope tenant"))
		return
	case in.Scope != string(apikey.ScopeTenant) && in.Tenant != "":
		writeError(w, fieldError("tenant", "only a tenant-scoped key has a tenant"))
		return
	case in.Tenant != "":
		if _, err := a.tenants.Get(r.Context(), in.Tenant); err != nil {
			writeError(w, fieldError("tenant", "unknown tenant %q", in.Tenant))
			return
		}
	}
	if len(in.Name) > 256 || strings.ContainsAny(in.Name, "\r\n") {
		writeError(w, fieldError("name", "must be one line of at most 256 characters"))
		return
	}
	k, token, err := a.keys.CreateKey(r.Context(), apikey.Key{Name: in.Name, Scope: apikey.Scope(in.Scope), Tenant: in.Tenant})
	if err != nil {
		writeError(w, natsError("key not stored", err))
		return
	}
	a.log.Info("api key created", "key", k.ID, "scope", k.Scope)
	v := keyOf(k)
	v.Key = token
	writeJSON(w, http.StatusCreated, v)
}

func (a *API) listKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := a.keys.List(r.Context())
	if err != nil {
		writeError(w, natsError("keys not listed", err))
		return
	}
	out := make([]keyView, len(keys))
	for i, k := range keys {
		out[i] = keyOf(k)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

func (a *API) revokeKey(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	err := a.keys.Revoke(r.Context(), id)
	switch {
	case errors.Is(err, apikey.ErrNotFound):
		writeError(w, notFound("key", id))
	case err != nil:
		writeError(w, natsError("key not revoked", err))
	default:
		a.log.Info("api key revoked", "key", id)
		w.WriteHeader(http.StatusNoContent)
	}
}
