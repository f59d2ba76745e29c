package httpapi

import (
	"net/http"

	"strconv"

	"github.com/hookd/hookd/tenant"
)

// pageLimit reads ?limit=: default 50, 1 to 250.
func pageLimit(r *http.Request) (int, error) {
	raw := r.URL.Query().Get("limit")
	if raw == "" {
		return 50, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > 250 {
		return 0, fieldError("limit", "must be a whole number from 1 to 250, not %q", raw)
	}
	return n, nil
}

type endpointList struct {
	Data       []endpointView `json:"data"`
	HasMore    bool           `json:"has_more"`
	NextCursor string         `json:"next_cursor"`
}

// listEndpoints pages by id, which orders by creation: the cursor is the
// last id of the previous page.
func (a *API) listEndpoints(w http.ResponseWriter, r *http.Request) {
	limit, err := pageLimit(r)
	if err != nil {
		writeError(w, err)
		return
	}
	cursor := r.URL.Query().Get("cursor")
	if cursor != "" && !endpointIDPattern.MatchString(cursor) {
		writeError(w, fieldError("cursor", "is not a cursor this API returned"))
		return
	}
	acc := accessOf(r)
	only := r.URL.Query().Get("tenant")
	if err := checkField("tenant", only, tenantRule); err != nil {
		writeError(w, err)
		return
	}
	if !acc.admin() {
		only = acc.key.Tenant
	}
	eps, err := a.store.List(r.Context())
	if err != nil {
		writeError(w, natsError("endpoints not listed", err))
		return
	}
	out := endpointList{Data: []endpointView{}}
	for _, e := range eps {
		if e.ID <= cursor || only != "" && tenant.Normalize(e.Tenant) != only {
			continue
		}
		if len(out.Data) == limit {
			out.HasMore = true
			break
		}
		out.Data = append(out.Data, view(e, false))
	}
	if out.HasMore {
		out.NextCursor = out.Data[len(out.Data)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}
