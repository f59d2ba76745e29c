package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/internal/hookdtest"
)

type endpointBody struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Enabled     bool              `json:"enabled"`
	Headers     map[string]string `json:"headers"`
	Timeout     string            `json:"timeout"`
	Metadata    map[string]string `json:"metadata"`
	Secret      string            `json:"secret"`
}

// Header values are secrets: shown masked, and a masked value sent back
// keeps what is stored.
func TestEndpointFieldsAndMaskedHeaders(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true})
	status, out := h.Do(t, http.MethodPost, "/v1/endpoints", `{"url":"https://x.example/hook","name":"Billing","description":"to the ledger",
		"headers":{"Authorization":"Bearer s3cr3t-token-value","X-Short":"abc"},"timeout":"5s","metadata":{"team":"payments"},"enabled":false}`)
	if status != http.StatusCreated {
		t.Fatalf("%d %s", status, out)
	}
	var ep endpointBody
	_ = json.Unmarshal(out, &ep)
	if ep.Name != "Billing" || ep.Description != "to the ledger" || ep.Timeout != "5s" || ep.Metadata["team"] != "payments" || ep.Enabled {
		t.Fatalf("fields not kept: %s", out)
	}
	if strings.Contains(string(out), "s3cr3t") || ep.Headers["Authorization"] != "Bear****" || ep.Headers["X-Short"] != "****" {
		t.Fatalf("header values not masked: %s", out)
	}
	// PATCH with the masked value back keeps the secret; a new value replaces it.
	status, out = h.Do(t, http.MethodPatch, "/v1/endpoints/"+ep.ID, `{"headers":{"Authorization":"Bear****","X-Short":"xyz"}}`)
	if status != http.StatusOK {
		t.Fatalf("%d %s", status, out)
	}
	stored := h.App.Registry()
	hookdtest.WaitFor(t, 5*time.Second, "registry update", func() bool {
		c := stored.Snapshot().Get(ep.ID)
		return c != nil && c.Headers["X-Short"] == "xyz"
	})
	if got := stored.Snapshot().Get(ep.ID).Headers["Authorization"]; got != "Bearer s3cr3t-token-value" {
		t.Fatalf("masked value sent back replaced the secret: %q", got)
	}
	status, out = h.Do(t, http.MethodPatch, "/v1/endpoints/"+ep.ID, `{"timeout":""}`)
	if status != http.StatusOK || !strings.Contains(string(out), `"timeout":""`) {
		t.Fatalf("clearing timeout: %d %s", status, out)
	}
	status, out = h.Do(t, http.MethodPatch, "/v1/endpoints/"+ep.ID, `{"secret":"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`)
	if status != http.StatusBadRequest || decodeError(t, out).Error.Field != "secret" {
		t.Fatalf("secret via PATCH: %d %s", status, out)
	}
}

func TestEnableDisable(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true})
	ep := h.CreateEndpoint(t, `{"url":"https://x.example"}`)
	for _, c := range []struct {
		path    string
		enabled bool
	}{{"/disable", false}, {"/disable", false}, {"/enable", true}} {
		status, out := h.Do(t, http.MethodPost, "/v1/endpoints/"+ep.ID+c.path, nil)
		if status != 200 || !strings.Contains(string(out), fmt.Sprintf(`"enabled":%v`, c.enabled)) {
			t.Fatalf("%s: %d %s", c.path, status, out)
		}
	}
	if status, _ := h.Do(t, http.MethodPost, "/v1/endpoints/ep_nope/enable", nil); status != 404 {
		t.Fatalf("enable unknown: %d", status)
	}
}

func TestListPagination(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true})
	var ids []string
	for i := range 5 {
		ids = append(ids, h.CreateEndpoint(t, fmt.Sprintf(`{"url":"https://x.example/%d"}`, i)).ID)
	}
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		status, out := h.Do(t, http.MethodGet, "/v1/endpoints?limit=2&cursor="+cursor, nil)
		if status != 200 {
			t.Fatalf("%d %s", status, out)
		}
		var page struct {
			Data       []endpointBody `json:"data"`
			HasMore    bool           `json:"has_more"`
			NextCursor string         `json:"next_cursor"`
		}
		_ = json.Unmarshal(out, &page)
		for _, e := range page.Data {
			seen = append(seen, e.ID)
		}
		if !page.HasMore {
			if page.NextCursor != "" {
				t.Fatalf("last page has a cursor: %s", out)
			}
			break
		}
		cursor = page.NextCursor
	}
	if strings.Join(seen, ",") != strings.Join(ids, ",") {
		t.Fatalf("pages gave %v, want %v in creation order", seen, ids)
	}
	for _, q := range []string{"limit=0", "limit=251", "limit=x", "cursor=garbage"} {
		status, out := h.Do(t, http.MethodGet, "/v1/endpoints?"+q, nil)
		field := strings.SplitN(q, "=", 2)[0]
		if status != 400 || decodeError(t, out).Error.Field != field {
			t.Errorf("%s: %d %s", q, status, out)
		}
	}
}
