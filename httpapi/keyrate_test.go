package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/internal/hookdtest"
)

// Each API key has its own request rate: past it, 429 rate_limited with
// Retry-After; another key is not affected.
func TestPerKeyRateLimit(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true, APIKeyRateLimit: 2}) // burst 4
	status, out := h.Do(t, http.MethodPost, "/v1/keys", `{"name":"other","scope":"admin"}`)
	var other struct{ Key string }
	if status != http.StatusCreated || json.Unmarshal(out, &other) != nil {
		t.Fatalf("create key: %d %s", status, out)
	}
	limited := 0
	for range 12 {
		req, _ := http.NewRequest(http.MethodGet, h.URL+"/v1/endpoints", nil)
		req.Header.Set("Authorization", "Bearer "+hookdtest.AdminKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Error struct{ Code string } }
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			limited++
			if body.Error.Code != "rate_limited" || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("429 without rate_limited and Retry-After: %+v %v", body, resp.Header)
			}
		}
	}
	if limited == 0 {
		t.Fatal("12 requests at once were never limited at 2/s")
	}
	req, _ := http.NewRequest(http.MethodGet, h.URL+"/v1/endpoints", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(other.Key))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("another key got %d: limits are per key", resp.StatusCode)
	}
}
