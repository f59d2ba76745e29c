package app_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/hookdtest"
)

// deliveredMarks returns the "n" field of every delivered event's data,
// sorted.
func deliveredMarks(t *testing.T, rc *hookdtest.Receiver) []string {
	t.Helper()
	var out []string
	for _, r := range rc.Requests() {
		var env struct {
			Type string
			Data struct{ N string }
		}
		if err := json.Unmarshal(r.Body, &env); err != nil {
			t.Fatal(err)
		}
		out = append(out, env.Data.N)
	}
	sort.Strings(out)
	return out
}

func TestFilterMatchesAndNonMatches(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	h := hookdtest.Start(t, fastConfig())
	ep := h.CreateEndpoint(t, map[string]any{
		"url":    rc.URL,
		"filter": `data.execution.status in ["success", "error"] && data.name startsWith "My"`,
	})
	events := []struct {
		n, name, status string
		match           bool
	}{
		{"1", "My Flow", "success", true},
		{"2", "My Flow", "error", true},
		{"3", "My Flow", "running", false},
		{"4", "Your Flow", "success", false},
		{"5", "my flow", "success", false},
		{"6", "My", "error", true},
	}
	var want []string
	for _, e := range events {
		h.PublishEvent(t, "workflow.execution.fulfilled", map[string]any{"n": e.n, "name": e.name, "execution": map[string]string{"status": e.status}})
		if e.match {
			want = append(want, e.n)
		}
	}
	// An event whose data lacks the fields the filter reads does not match.
	h.PublishEvent(t, "workflow.execution.fulfilled", map[string]any{"n": "7"})
	h.WaitIdle(t, ep.ID)
	if got := deliveredMarks(t, rc); !slices.Equal(got, want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
}

func TestEventTypePatterns(t *testing.T) {
	h := hookdtest.Start(t, fastConfig())
	cases := []struct {
		events []string
		want   []string // marks: the event types' n
	}{
		{[]string{"workflow.execution.fulfilled"}, []string{"1"}},
		{[]string{"workflow.execution.*"}, []string{"1", "2"}},
		{[]string{"workflow.>"}, []string{"1", "2", "3"}},
		{[]string{"*.executed", "usage.>"}, []string{"4", "5"}},
		{nil, []string{"1", "2", "3", "4", "5"}},
	}
	receivers := make([]*hookdtest.Receiver, len(cases))
	var ids []string
	for i, c := range cases {
		receivers[i] = hookdtest.NewReceiver(t)
		body := map[string]any{"url": receivers[i].URL}
		if c.events != nil {
			body["events"] = c.events
		}
		ids = append(ids, h.CreateEndpoint(t, body).ID)
	}
	for i, typ := range []string{"workflow.execution.fulfilled", "workflow.execution.rejected", "workflow.usage", "function.executed", "usage.calculated"} {
		h.PublishEvent(t, typ, map[string]string{"n": string(rune('1' + i))})
	}
	h.WaitIdle(t, ids...)
	for i, c := range cases {
		if got := deliveredMarks(t, receivers[i]); !slices.Equal(got, c.want) {
			t.Errorf("events %v: delivered %v, want %v", c.events, got, c.want)
		}
	}
}

// Routers watch the endpoints bucket: a changed filter, a disable, an
// enable and a delete apply to the next events without a restart.
func TestEndpointChangesApplyLive(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	h := hookdtest.Start(t, fastConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "filter": `data.v == 1`})

	h.PublishEvent(t, "a.b", map[string]any{"v": 1, "n": "a"})
	h.WaitIdle(t, ep.ID)

	status, out := h.Do(t, http.MethodPatch, "/v1/endpoints/"+ep.ID, `{"filter":"data.v == 2"}`)
	if status != http.StatusOK || !strings.Contains(string(out), `"filter":"data.v == 2"`) {
		t.Fatalf("PATCH: %d %s", status, out)
	}
	h.WaitEndpoint(t, ep.ID, func(e *hookdtest.Endpoint) bool { return e != nil && e.Filter == "data.v == 2" })
	h.PublishEvent(t, "a.b", map[string]any{"v": 1, "n": "b"})
	h.PublishEvent(t, "a.b", map[string]any{"v": 2, "n": "c"})
	h.WaitIdle(t, ep.ID)
	if got := deliveredMarks(t, rc); !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("after filter change delivered %v, want [a c]", got)
	}

	// Disabled: matches are kept in the endpoint's stream, not delivered.
	if status, out := h.Do(t, http.MethodPost, "/v1/endpoints/"+ep.ID+"/disable", nil); status != http.StatusOK || !strings.Contains(string(out), `"enabled":false`) {
		t.Fatalf("disable: %d %s", status, out)
	}
	h.WaitEndpoint(t, ep.ID, func(e *hookdtest.Endpoint) bool { return e != nil && !e.Enabled })
	h.PublishEvent(t, "a.b", map[string]any{"v": 2, "n": "d"})
	h.WaitIdle(t) // router only: the endpoint's deliveries wait
	if rc.Count() != 2 {
		t.Fatalf("disabled endpoint received %d deliveries, want 2", rc.Count())
	}
	held := h.Queued(t, ep.ID)
	if len(held) != 1 {
		t.Fatalf("disabled endpoint holds %d deliveries, want 1", len(held))
	}
	if status, out := h.Do(t, http.MethodPost, "/v1/endpoints/"+ep.ID+"/enable", nil); status != http.StatusOK || !strings.Contains(string(out), `"enabled":true`) {
		t.Fatalf("enable: %d %s", status, out)
	}
	hookdtest.WaitFor(t, 10*time.Second, "held delivery after enable", func() bool { return rc.Count() == 3 })
	h.WaitIdle(t, ep.ID)
	if got := deliveredMarks(t, rc); !slices.Equal(got, []string{"a", "c", "d"}) {
		t.Fatalf("after enable delivered %v", got)
	}

	// Deleted: no more deliveries, and the endpoint is gone.
	if status, out := h.Do(t, http.MethodDelete, "/v1/endpoints/"+ep.ID, nil); status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", status, out)
	}
	h.WaitEndpoint(t, ep.ID, func(e *hookdtest.Endpoint) bool { return e == nil })
	h.PublishEvent(t, "a.b", map[string]any{"v": 2, "n": "e"})
	h.WaitIdle(t)
	if rc.Count() != 3 {
		t.Fatalf("deleted endpoint received a delivery")
	}
	if status, _ := h.Do(t, http.MethodGet, "/v1/endpoints/"+ep.ID, nil); status != http.StatusNotFound {
		t.Fatalf("GET deleted endpoint: %d", status)
	}
}
