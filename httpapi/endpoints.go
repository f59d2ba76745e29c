package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/payload"
	"github.com/hookd/hookd/signing"
	"github.com/hookd/hookd/tenant"
)

// endpointInput is the body of create (url required) and of PATCH (every
// field optional: absent fields keep their value).
type endpointInput struct {
	Tenant      *string            `json:"tenant"`
	URL         *string            `json:"url"`
	Name        *string            `json:"name"`
	Description *string            `json:"description"`
	Events      *[]string          `json:"events"`
	Filter      *string            `json:"filter"`
	Headers     *map[string]string `json:"headers"`
	Timeout     *string            `json:"timeout"`
	Metadata    *map[string]string `json:"metadata"`
	Retry       *retryView         `json:"retry"`
	Profile     *string            `json:"profile"`
	Format      *string            `json:"format"`
	Transform   *string            `json:"transform"`
	// SampleEvent is what the transform and header templates are checked
	// against; hookd's sample event when absent. It is not stored.
	SampleEvent *sampleEvent `json:"sample_event"`
	Ordering    *string      `json:"ordering"`
	OrderingKey *string      `json:"ordering_key"`
	MaxInFlight *int         `json:"max_in_flight"`
	RateLimit   *float64     `json:"rate_limit"`
	// Batch is raw so that null (batching off) differs from absent.
	Batch   json.RawMessage `json:"batch"`
	Enabled *bool           `json:"enabled"`
	Secret  *string         `json:"secret"`
	Signing *string         `json:"signing"`
}

func (in *endpointInput) applyTo(e *endpoint.Endpoint) error {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&e.URL, in.URL)
	set(&e.Name, in.Name)
	set(&e.Description, in.Description)
	set(&e.Filter, in.Filter)
	set(&e.Secret, in.Secret)
	set(&e.Profile, in.Profile)
	set(&e.Format, in.Format)
	set(&e.Transform, in.Transform)
	if in.Format != nil && *in.Format != payload.TransformFormat && in.Transform == nil {
		e.Transform = "" // leaving the transform format drops its transform
	}
	set(&e.Ordering, in.Ordering)
	set(&e.OrderingKey, in.OrderingKey)
	if in.Events != nil {
		e.Events = *in.Events
	}
	if in.Headers != nil {
		e.Headers = mergeHeaders(e.Headers, *in.Headers)
	}
	if in.Metadata != nil {
		e.Metadata = *in.Metadata
	}
	if in.Enabled != nil {
		// A person decided: hookd's own reason no longer applies.
		e.Disabled, e.DisabledReason = !*in.Enabled, ""
	}
	if in.MaxInFlight != nil {
		e.MaxInFlight = *in.MaxInFlight
	}
	if in.RateLimit != nil {
		e.RateLimit = *in.RateLimit
	}
	if in.Retry != nil {
		p, err := in.Retry.policy()
		if err != nil {
			return err
		}
		e.Retry = p
	}
	if err := applyBatch(e, in.Batch); err != nil {
		return err
	}
	if in.Timeout != nil {
		d := time.Duration(0)
		if *in.Timeout != "" {
			var err error
			if d, err = time.ParseDuration(*in.Timeout); err != nil {
				return fieldError("timeout", "%q is not a duration like 5s or 30s", *in.Timeout)
			}
		}
		e.Timeout = d
	}
	return nil
}

// mergeHeaders takes the new header set, except that a value sent back
// exactly as the API showed it (masked) keeps the stored value.
func mergeHeaders(old, next map[string]string) map[string]string {
	out := make(map[string]string, len(next))
	for k, v := range next {
		if prev, ok := old[k]; ok && v == endpoint.MaskSecretValue(prev) {
			v = prev
		}
		out[k] = v
	}
	return out
}

// endpointView is an endpoint as the API shows it: header values masked,
// the secret only in the answer to create.
type endpointView struct {
	ID          string            `json:"id"`
	Tenant      string            `json:"tenant"`
	Name        string            `json:"name"`
	Description string            `json:"description"`
	URL         string            `json:"url"`
	Events      []string          `json:"events"`
	Filter      string            `json:"filter"`
	Enabled     bool              `json:"enabled"`
	Headers     map[string]string `json:"headers"`
	Timeout     string            `json:"timeout"`
	Metadata    map[string]string `json:"metadata"`
	Retry       retryView         `json:"retry"`
	Profile     string            `json:"profile"`
	Format      string            `json:"format"`
	Transform   string            `json:"transform"`
	Ordering    string            `json:"ordering"`
	OrderingKey string            `json:"ordering_key"`
	MaxInFlight int               `json:"max_in_flight"`
	RateLimit   float64           `json:"rate_limit"`
	Batch       *batchView        `json:"batch"`
	Signing     string            `json:"signing"`
	PublicKey   string            `json:"public_key,omitempty"`
	Secret      string            `json:"secret,omitempty"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
}

func view(e *endpoint.Endpoint, withSecret bool) endpointView {
	v := endpointView{ID: e.ID, Tenant: tenant.Normalize(e.Tenant), Name: e.Name, Description: e.Description, URL: e.URL, Events: e.Events,
		Filter: e.Filter, Enabled: !e.Disabled, Headers: map[string]string{}, Metadata: e.Metadata,
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
	if v.Events == nil {
		v.Events = []string{}
	}
	if v.Metadata == nil {
		v.Metadata = map[string]string{}
	}
	for k, val := range e.Headers {
		v.Headers[k] = endpoint.MaskSecretValue(val)
	}
	if e.Timeout > 0 {
		v.Timeout = e.Timeout.String()
	}
	v.Retry = retryOf(e.Retry)
	v.Profile, v.MaxInFlight, v.RateLimit, v.Batch = e.Profile, e.MaxInFlight, e.RateLimit, batchOf(e.Batch)
	if v.Profile == "" {
		v.Profile = endpoint.ProfileStandard
	}
	v.Format, v.Transform = e.Format, e.Transform
	if v.Format == "" {
		v.Format = payload.Standard
	}
	v.Ordering, v.OrderingKey = e.Ordering, e.OrderingKey
	if v.Ordering == "" {
		v.Ordering = endpoint.OrderingNone
	}
	v.Signing = e.Signing()
	if keys := e.PublicKeys(time.Now()); v.Signing == signing.SchemeEd25519 && len(keys) > 0 {
		v.PublicKey = keys[0].PublicKey
	}
	// An ed25519 secret key never leaves hookd: receivers need only the
	// public key.
	if withSecret && v.Signing == signing.SchemeHMAC {
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
	e, err := a.buildEndpoint(accessOf(r), &in)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := a.checkEndpointLimit(r, tenant.Normalize(e.Tenant)); err != nil {
		writeError(w, err)
		return
	}
	// A creation begun is finished even if the client goes away: it
	// leaves either the endpoint or nothing.
	if err := a.storeNewEndpoint(context.WithoutCancel(r.Context()), e); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, view(e, true))
}

// buildEndpoint turns a create body into the endpoint it asks for: a new
// id and secret, the defaults, the tenant acc may create in. Every check of
// the input is here, for POST /v1/endpoints and each item of
// POST /v1/endpoints/bulk alike; nothing is stored, and the tenant's quota
// is the caller's to check. The error is an *apiError naming the field at
// fault.
func (a *API) buildEndpoint(acc access, in *endpointInput) (*endpoint.Endpoint, error) {
	scheme, err := in.signingScheme()
	if err != nil {
		return nil, err
	}
	e := &endpoint.Endpoint{ID: event.NewID("ep"), Secret: endpoint.NewSecretFor(scheme)}
	if err := in.applyTo(e); err != nil {
		return nil, err
	}
	if _, err := e.Validate(); err != nil {
		return nil, validationError(err)
	}
	if err := errors.Join(a.checkScheme(e), a.checkFilterExamples(in, e)); err != nil {
		return nil, err
	}
	asked := ""
	if in.Tenant != nil {
		asked = *in.Tenant
	}
	tenantID, err := acc.tenantFor(asked)
	if err != nil {
		return nil, err
	}
	if tenantID != tenant.Default {
		e.Tenant = tenantID
	}
	if err := checkPayload(e, nil, in.SampleEvent); err != nil {
		return nil, err
	}
	return e, nil
}

// storeNewEndpoint creates a built endpoint (buildEndpoint): a key in the
// endpoints bucket, which routers and workers watch, then where its events
// begin (routeFrom). Its deliveries wait on subjects of the shared
// delivery streams, so nothing else is made (topology.HeldStream). A
// failure is an *apiError: 503 unavailable for what a retry can fix.
func (a *API) storeNewEndpoint(ctx context.Context, e *endpoint.Endpoint) error {
	rev, err := a.putNewEndpoint(ctx, e)
	if err != nil {
		return err
	}
	return a.routeFrom(ctx, []newEndpoint{{e: e, rev: rev}})[0]
}

// putNewEndpoint is storeNewEndpoint up to the stored endpoint, which
// routers know but route nothing to yet; it returns its revision.
func (a *API) putNewEndpoint(ctx context.Context, e *endpoint.Endpoint) (uint64, error) {
	if e.Ordered() {
		if err := a.topo.EnsureOrderedRouting(ctx); err != nil {
			return 0, natsError("ordered routing not set up", err)
		}
	}
	rev, err := a.store.Create(ctx, e)
	if err != nil {
		return 0, natsError("endpoint not stored", err)
	}
	return rev, nil
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
	out := secretView{Signing: e.Signing()}
	if out.Signing == signing.SchemeHMAC {
		out.Secret = e.Secret
	} else {
		out.PublicKey = e.PublicKeys(time.Now())[0].PublicKey
	}
	writeJSON(w, http.StatusOK, out)
}

// secretView answers GET .../secret: the shared secret of an HMAC
// endpoint, the public key of an ed25519 one (its secret key is never
// shown).
type secretView struct {
	Signing   string `json:"signing"`
	Secret    string `json:"secret,omitempty"`
	PublicKey string `json:"public_key,omitempty"`
}

func (a *API) lookup(r *http.Request) (*endpoint.Endpoint, error) {
	id := r.PathValue("id")
	e, err := a.store.Get(r.Context(), id)
	if errors.Is(err, endpoint.ErrNotFound) || err == nil && !accessOf(r).canSee(e.Tenant) {
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
	if in.Secret != nil {
		writeError(w, fieldError("secret", "cannot be changed by PATCH: use POST /v1/endpoints/{id}/rotate-secret"))
		return
	}
	if in.Signing != nil {
		writeError(w, fieldError("signing", "cannot be changed by PATCH: use POST /v1/endpoints/{id}/rotate-secret with signing"))
		return
	}
	if in.Tenant != nil {
		writeError(w, fieldError("tenant", "cannot be changed: an endpoint stays with its tenant"))
		return
	}
	a.change(w, r, "updated", func(e *endpoint.Endpoint) error {
		before := *e
		if err := in.applyTo(e); err != nil {
			return err
		}
		if err := errors.Join(orderingUnchanged(&before, e), a.checkFilterExamples(&in, e)); err != nil {
			return err
		}
		if _, err := e.Validate(); err != nil {
			return validationError(err)
		}
		if err := checkPayload(e, &before, in.SampleEvent); err != nil {
			return err
		}
		if in.URL != nil {
			if err := a.checkScheme(e); err != nil {
				return err
			}
		}
		// A new max_in_flight or batching is applied by the workers, which
		// follow the endpoints bucket and update the endpoint's consumers.
		return nil
	}, func(e *endpoint.Endpoint) any { return view(e, false) })
}

// orderingUnchanged refuses a change of ordering or ordering key: events
// already routed sit in the stream laid out for the old setting, and
// routers switching at different events could skip or reorder some. A new
// endpoint with the new setting is the way to change it.
func orderingUnchanged(before, after *endpoint.Endpoint) error {
	norm := func(o string) string {
		if o == "" {
			return endpoint.OrderingNone
		}
		return o
	}
	if norm(before.Ordering) != norm(after.Ordering) {
		return fieldError("ordering", "cannot be changed after creation: create a new endpoint with the ordering you need")
	}
	if before.OrderingKey != after.OrderingKey {
		return fieldError("ordering_key", "cannot be changed after creation: create a new endpoint with the key you need")
	}
	return nil
}

func (a *API) enableEndpoint(w http.ResponseWriter, r *http.Request) {
	a.change(w, r, "enabled", func(e *endpoint.Endpoint) error { e.Disabled, e.DisabledReason = false, ""; return nil },
		func(e *endpoint.Endpoint) any { return view(e, false) })
}

func (a *API) disableEndpoint(w http.ResponseWriter, r *http.Request) {
	a.change(w, r, "disabled", func(e *endpoint.Endpoint) error { e.Disabled, e.DisabledReason = true, ""; return nil },
		func(e *endpoint.Endpoint) any { return view(e, false) })
}

// change applies fn to the stored endpoint and answers with show's view of
// the result.
func (a *API) change(w http.ResponseWriter, r *http.Request, what string, fn func(*endpoint.Endpoint) error, show func(*endpoint.Endpoint) any) {
	id := r.PathValue("id")
	e, err := a.store.Update(r.Context(), id, func(e *endpoint.Endpoint) error {
		if !accessOf(r).canSee(e.Tenant) {
			return endpoint.ErrNotFound
		}
		return fn(e)
	})
	var ae *apiError
	switch {
	case errors.Is(err, endpoint.ErrNotFound):
		writeError(w, notFound("endpoint", id))
	case errors.Is(err, endpoint.ErrConflict):
		writeError(w, &apiError{Status: http.StatusConflict, Code: "conflict", Message: err.Error() + ": retry"})
	case errors.As(err, &ae):
		writeError(w, ae)
	case err != nil:
		writeError(w, natsError("endpoint not "+what, err))
	default:
		a.log.Info("endpoint "+what, "endpoint", id)
		writeJSON(w, http.StatusOK, show(e))
	}
}

func (a *API) deleteEndpoint(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := a.lookup(r); err != nil {
		writeError(w, err)
		return
	}
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

// checkScheme refuses a plain-http URL when the server takes https only.
func (a *API) checkScheme(e *endpoint.Endpoint) error {
	if a.httpsOnly && !strings.HasPrefix(strings.ToLower(e.URL), "https://") {
		return fieldError("url", "this server delivers over https only (--https-only)")
	}
	return nil
}
