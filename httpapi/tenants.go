package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hookd/hookd/apikey"
	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/tenant"
)

type tenantInput struct {
	ID       *string            `json:"id"`
	Name     *string            `json:"name"`
	Metadata *map[string]string `json:"metadata"`
	Limits   *tenant.Limits     `json:"limits"`
}

func (in *tenantInput) applyTo(t *tenant.Tenant) {
	if in.Name != nil {
		t.Name = *in.Name
	}
	if in.Metadata != nil {
		t.Metadata = *in.Metadata
	}
	if in.Limits != nil {
		t.Limits = *in.Limits
	}
}

type tenantView struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Metadata  map[string]string `json:"metadata"`
	Limits    tenant.Limits     `json:"limits"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

func tenantOf(t *tenant.Tenant) tenantView {
	v := tenantView{ID: t.ID, Name: t.Name, Metadata: t.Metadata, Limits: t.Limits, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
	if v.Metadata == nil {
		v.Metadata = map[string]string{}
	}
	return v
}

func tenantFieldError(err error) error {
	var fe *tenant.FieldError
	if errors.As(err, &fe) {
		return fieldError(fe.Field, "%s", fe.Message)
	}
	return err
}

func (a *API) createTenant(w http.ResponseWriter, r *http.Request) {
	var in tenantInput
	if err := decodeBody(w, r, maxSmallBody, &in); err != nil {
		writeError(w, err)
		return
	}
	if in.ID == nil || *in.ID == "" {
		writeError(w, fieldError("id", "required: the tenant's id, e.g. your customer id"))
		return
	}
	t := &tenant.Tenant{ID: *in.ID}
	in.applyTo(t)
	if err := t.Validate(); err != nil {
		writeError(w, tenantFieldError(err))
		return
	}
	if t.ID == tenant.Default {
		writeError(w, &apiError{Status: http.StatusConflict, Code: "conflict", Field: "id", Message: "the default tenant always exists: PATCH it"})
		return
	}
	err := a.tenants.Create(r.Context(), t)
	switch {
	case errors.Is(err, tenant.ErrExists):
		writeError(w, &apiError{Status: http.StatusConflict, Code: "conflict", Field: "id", Message: "tenant " + t.ID + " exists"})
	case err != nil:
		writeError(w, natsError("tenant not stored", err))
	default:
		a.log.Info("tenant created", "tenant", t.ID)
		writeJSON(w, http.StatusCreated, tenantOf(t))
	}
}

type tenantList struct {
	Data       []tenantView `json:"data"`
	HasMore    bool         `json:"has_more"`
	NextCursor string       `json:"next_cursor"`
}

func (a *API) listTenants(w http.ResponseWriter, r *http.Request) {
	limit, err := pageLimit(r)
	if err != nil {
		writeError(w, err)
		return
	}
	cursor := r.URL.Query().Get("cursor")
	if cursor != "" && tenant.ValidateID(cursor) != nil {
		writeError(w, fieldError("cursor", "is not a cursor this API returned"))
		return
	}
	all, err := a.tenants.List(r.Context())
	if err != nil {
		writeError(w, natsError("tenants not listed", err))
		return
	}
	out := tenantList{Data: []tenantView{}}
	for _, t := range all {
		if t.ID <= cursor {
			continue
		}
		if len(out.Data) == limit {
			out.HasMore = true
			break
		}
		out.Data = append(out.Data, tenantOf(t))
	}
	if out.HasMore {
		out.NextCursor = out.Data[len(out.Data)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) lookupTenant(r *http.Request) (*tenant.Tenant, error) {
	id := r.PathValue("id")
	t, err := a.tenants.Get(r.Context(), id)
	if errors.Is(err, tenant.ErrNotFound) {
		return nil, notFound("tenant", id)
	}
	if err != nil {
		return nil, natsError("tenant not read", err)
	}
	return t, nil
}

func (a *API) getTenant(w http.ResponseWriter, r *http.Request) {
	t, err := a.lookupTenant(r)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, tenantOf(t))
}

func (a *API) updateTenant(w http.ResponseWriter, r *http.Request) {
	var in tenantInput
	if err := decodeBody(w, r, maxSmallBody, &in); err != nil {
		writeError(w, err)
		return
	}
	if in.ID != nil {
		writeError(w, fieldError("id", "cannot be changed"))
		return
	}
	id := r.PathValue("id")
	t, err := a.tenants.Update(r.Context(), id, func(t *tenant.Tenant) error {
		in.applyTo(t)
		return tenantFieldError(t.Validate())
	})
	var ae *apiError
	switch {
	case errors.Is(err, tenant.ErrNotFound):
		writeError(w, notFound("tenant", id))
	case errors.Is(err, tenant.ErrConflict):
		writeError(w, &apiError{Status: http.StatusConflict, Code: "conflict", Message: err.Error() + ": retry"})
	case errors.As(err, &ae):
		writeError(w, ae)
	case err != nil:
		writeError(w, natsError("tenant not updated", err))
	default:
		a.limiter.forget(id)
		writeJSON(w, http.StatusOK, tenantOf(t))
	}
}

// deleteTenant deletes the tenant's endpoints (and their streams) and keys,
// then the tenant.
func (a *API) deleteTenant(w http.ResponseWriter, r *http.Request) {
	t, err := a.lookupTenant(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if t.ID == tenant.Default {
		writeError(w, &apiError{Status: http.StatusConflict, Code: "conflict", Message: "the default tenant cannot be deleted"})
		return
	}
	ctx := r.Context()
	// Sweep, delete the record (so no new endpoint or key can be made for
	// it), then sweep again for what was created meanwhile.
	if err := a.sweepTenant(r, t.ID); err != nil {
		writeError(w, err)
		return
	}
	if err := a.tenants.Delete(ctx, t.ID); err != nil {
		writeError(w, natsError("tenant not deleted", err))
		return
	}
	if err := a.sweepTenant(r, t.ID); err != nil {
		writeError(w, err)
		return
	}
	a.limiter.forget(t.ID)
	a.log.Info("tenant deleted", "tenant", t.ID)
	w.WriteHeader(http.StatusNoContent)
}

// sweepTenant deletes a tenant's endpoints (with their streams) and keys.
func (a *API) sweepTenant(r *http.Request, tenantID string) error {
	ctx := r.Context()
	eps, err := a.store.List(ctx)
	if err != nil {
		return natsError("endpoints not listed", err)
	}
	for _, e := range eps {
		if e.Tenant != tenantID {
			continue
		}
		if err := a.store.Delete(ctx, e.ID); err != nil && !errors.Is(err, endpoint.ErrNotFound) {
			return natsError("endpoint "+e.ID+" not deleted", err)
		}
		if err := a.topo.DeleteEndpoint(ctx, e.ID); err != nil {
			return natsError("endpoint stream "+e.ID+" not deleted", err)
		}
	}
	keys, err := a.keys.List(ctx)
	if err != nil {
		return natsError("keys not listed", err)
	}
	for _, k := range keys {
		if k.Tenant == tenantID {
			if err := a.keys.Revoke(ctx, k.ID); err != nil && !errors.Is(err, apikey.ErrNotFound) {
				return natsError("key not revoked", err)
			}
		}
	}
	return nil
}

type portalInput struct {
	TTL string `json:"ttl"`
}

type portalToken struct {
	Token     string    `json:"token"`
	Tenant    string    `json:"tenant"`
	ExpiresAt time.Time `json:"expires_at"`
}

// createPortalToken hands out an expiring tenant key that cannot publish:
// what a platform gives its customer to manage their own endpoints.
func (a *API) createPortalToken(w http.ResponseWriter, r *http.Request) {
	var in portalInput
	if r.ContentLength != 0 {
		if err := decodeBody(w, r, maxSmallBody, &in); err != nil {
			writeError(w, err)
			return
		}
	}
	ttl := time.Hour
	if in.TTL != "" {
		d, err := time.ParseDuration(in.TTL)
		if err != nil || d < 5*time.Minute || d > 30*24*time.Hour {
			writeError(w, fieldError("ttl", "must be a duration from 5m to 720h, like 1h"))
			return
		}
		ttl = d
	}
	t, err := a.lookupTenant(r)
	if err != nil {
		writeError(w, err)
		return
	}
	exp := time.Now().Add(ttl).UTC()
	_, token, err := a.keys.CreateKey(r.Context(), apikey.Key{Name: "portal", Scope: apikey.ScopeTenant, Tenant: t.ID, ExpiresAt: &exp, Portal: true})
	if err != nil {
		writeError(w, natsError("token not stored", err))
		return
	}
	writeJSON(w, http.StatusCreated, portalToken{Token: token, Tenant: t.ID, ExpiresAt: exp})
}

// checkEndpointLimit answers 409 quota_exceeded when the tenant has all
// the endpoints its limit allows. A quota is not a rate: waiting does not
// lift it (deleting an endpoint or raising the limit does), so the answer
// is not a 429 and has no Retry-After, which would have clients retry in a
// loop.
func (a *API) checkEndpointLimit(r *http.Request, tenantID string) error {
	q, err := a.endpointQuota(r.Context(), tenantID)
	if err != nil {
		return err
	}
	return q.take()
}

// endpointQuota is a tenant's max_endpoints and the endpoints it has, as
// read once for a request: a bulk create counts its own items against it
// without reading every endpoint again for each.
type endpointQuota struct {
	tenant string
	max    int // limits.max_endpoints; 0 is no quota
	count  int // the tenant's endpoints, counted only when max > 0
}

// endpointQuota reads tenantID's quota and, when it has one, counts its
// endpoints. An unknown tenant is 400 naming tenant; a failure to read is
// 503.
func (a *API) endpointQuota(ctx context.Context, tenantID string) (*endpointQuota, error) {
	t, err := a.tenants.Get(ctx, tenantID)
	if errors.Is(err, tenant.ErrNotFound) {
		return nil, fieldError("tenant", "unknown tenant %q: create it first", tenantID)
	}
	if err != nil {
		return nil, natsError("tenant not read", err)
	}
	q := &endpointQuota{tenant: t.ID, max: t.Limits.MaxEndpoints}
	if q.max == 0 {
		return q, nil
	}
	eps, err := a.store.List(ctx)
	if err != nil {
		return nil, natsError("endpoints not counted", err)
	}
	for _, e := range eps {
		if tenant.Normalize(e.Tenant) == t.ID {
			q.count++
		}
	}
	return q, nil
}

// take counts one more endpoint against the quota, or answers 409
// quota_exceeded when it is full.
func (q *endpointQuota) take() error {
	if q.max > 0 && q.count >= q.max {
		return &apiError{Status: http.StatusConflict, Code: "quota_exceeded",
			Message: fmt.Sprintf("tenant %s has %d endpoints, its quota (limits.max_endpoints %d): delete one or raise the limit", q.tenant, q.count, q.max)}
	}
	q.count++
	return nil
}
