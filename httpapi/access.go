package httpapi

import (
	"net/http"
	"strings"

	"github.com/hookd/hookd/apikey"
	"github.com/hookd/hookd/tenant"
)

// access is what the request's key may see.
type access struct{ key *apikey.Key }

func accessOf(r *http.Request) access {
	k, _ := r.Context().Value(keyContext{}).(*apikey.Key)
	return access{key: k}
}

// admin reports a key that sees every tenant.
func (a access) admin() bool { return a.key != nil && a.key.Scope != apikey.ScopeTenant }

// canSee reports whether the key may see what belongs to tenantID.
func (a access) canSee(tenantID string) bool {
	return a.admin() || a.key != nil && a.key.Tenant == tenant.Normalize(tenantID)
}

// tenantFor picks the tenant a request acts for: a tenant key's own, else
// the one asked for (the default tenant when none). A tenant key naming
// another tenant gets the same answer as for an unknown one; one that
// cannot be a tenant id is 400 invalid_field naming tenant.
func (a access) tenantFor(asked string) (string, error) {
	if err := checkField("tenant", asked, tenantRule); err != nil {
		return "", err
	}
	if a.admin() {
		return tenant.Normalize(asked), nil
	}
	if asked != "" && asked != a.key.Tenant {
		return "", notFound("tenant", asked)
	}
	return a.key.Tenant, nil
}

// adminOnlyRoute reports routes a tenant key must not learn exist.
func adminOnlyRoute(path string) bool {
	return strings.HasPrefix(path, "/v1/tenants") || strings.HasPrefix(path, "/v1/keys") || path == "/metrics"
}
