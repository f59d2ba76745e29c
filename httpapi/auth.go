package httpapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/hookd/hookd/apikey"
)

type keyContext struct{}

// requireKey admits a request carrying a valid key whose scope allows it.
// Failures say nothing about what exists.
func (a *API) requireKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			writeError(w, errUnauthorized)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		key, ok := a.keys.Authenticate(ctx, token)
		cancel()
		if !ok {
			writeError(w, errUnauthorized)
			return
		}
		if !a.keyLimits.allow(key.ID) {
			w.Header().Set("Retry-After", "1")
			writeError(w, &apiError{Status: http.StatusTooManyRequests, Code: "rate_limited",
				Message: "this API key is over its request rate: retry after the Retry-After seconds"})
			return
		}
		publishing := r.Method == http.MethodPost && r.URL.Path == "/v1/events"
		if key.Scope == apikey.ScopePublish && !publishing {
			writeError(w, &apiError{Status: http.StatusForbidden, Code: "forbidden", Message: "this key may only publish events"})
			return
		}
		if key.Scope == apikey.ScopeTenant && (adminOnlyRoute(r.URL.Path) || key.Portal && publishing) {
			// Tenant keys are not told what else exists.
			routeNotFound(w, r)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyContext{}, key)))
	})
}

// bearerToken reads the token of an "Authorization: Bearer <token>"
// header. The scheme is matched without regard to case (RFC 9110, section
// 11.1: "bearer", "BEARER" are the same scheme), and the spaces around the
// token are not part of it.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

var errUnauthorized = &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "missing or invalid API key: send Authorization: Bearer <key>"}
