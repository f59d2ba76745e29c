package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/worker"
)

type statsBody struct {
	State          string   `json:"state"`
	DisabledReason string   `json:"disabled_reason"`
	Window         string   `json:"window"`
	Attempts       int      `json:"attempts"`
	Succeeded      int      `json:"succeeded"`
	Failed         int      `json:"failed"`
	Dead           int      `json:"dead"`
	SuccessRate    *float64 `json:"success_rate"`
	LastSuccessAt  *string  `json:"last_success_at"`
	LastFailure    *struct {
		DeliveryID string `json:"delivery_id"`
		Attempt    int    `json:"attempt"`
		StatusCode int    `json:"status_code"`
	} `json:"last_failure"`
	Backlog struct {
		Messages uint64 `json:"messages"`
		Pending  uint64 `json:"pending"`
		InFlight uint64 `json:"in_flight"`
	} `json:"backlog"`
}

// GET /v1/endpoints/{id}/stats against real deliveries: success rate and
// last failure from the delivery log, the backlog from the endpoint's
// stream, and the state telling hookd's disable (410 Gone) from a
// person's. Every answer conforms to the document.
func TestEndpointStats(t *testing.T) {
	c := newConformance(t, app.Config{Worker: worker.Config{RetrySchedule: []time.Duration{20 * time.Millisecond}}})
	good, failing, gone := hookdtest.NewReceiver(t), hookdtest.NewReceiver(t), hookdtest.NewReceiver(t)
	failing.SetRespond(func(int, hookdtest.Request) int { return http.StatusServiceUnavailable })
	gone.SetRespond(func(int, hookdtest.Request) int { return http.StatusGone })
	goodID := c.createEndpoint(t, fmt.Sprintf(`{"url":%q,"events":["ok.>"]}`, good.URL))
	badID := c.createEndpoint(t, fmt.Sprintf(`{"url":%q,"events":["fail.>"]}`, failing.URL))
	goneID := c.createEndpoint(t, fmt.Sprintf(`{"url":%q,"events":["gone.>"]}`, gone.URL))
	idleID := c.createEndpoint(t, `{"url":"https://x.example/idle","events":["idle.>"],"enabled":false}`)
	for _, id := range []string{goodID, badID, goneID, idleID} {
		c.h.WaitEndpoint(t, id, func(e *hookdtest.Endpoint) bool { return e != nil })
	}
	c.h.PublishEvent(t, "ok.created", nil)
	failEvent := c.h.PublishEvent(t, "fail.created", nil)
	c.h.PublishEvent(t, "gone.created", nil)
	last := func(id string) delivery.Outcome {
		if a := c.h.Attempts(t, id); len(a) > 0 {
			return a[len(a)-1].Outcome
		}
		return ""
	}
	hookdtest.WaitFor(t, 20*time.Second, "deliveries settled", func() bool {
		return last(goodID) == delivery.OutcomeSucceeded && last(badID) == delivery.OutcomeDead && len(c.h.Attempts(t, goneID)) == 1
	})
	c.h.WaitEndpoint(t, goneID, func(e *hookdtest.Endpoint) bool { return e != nil && !e.Enabled })
	stats := func(id, query string) statsBody {
		return decodeJSON[statsBody](t, c.call(t, apiCall{method: "GET", path: "/v1/endpoints/" + id + "/stats" + query, want: 200}))
	}
	// Counts are kept as the log is written: they follow it within moments.
	hookdtest.WaitFor(t, 10*time.Second, "attempts counted", func() bool {
		return stats(goodID, "").Attempts == 1 && stats(badID, "").Attempts == 2 && stats(goneID, "").Attempts == 1
	})

	t.Run("succeeding", func(t *testing.T) {
		s := stats(goodID, "")
		if s.State != "enabled" || s.Window != "24h0m0s" || s.Attempts != 1 || s.Succeeded != 1 || s.SuccessRate == nil || *s.SuccessRate != 1 ||
			s.LastSuccessAt == nil || s.LastFailure != nil || s.Backlog.Messages != 0 {
			t.Errorf("stats of a succeeding endpoint: %+v", s)
		}
	})

	t.Run("failing", func(t *testing.T) {
		s := stats(badID, "?window=1h")
		f := s.LastFailure
		if s.Attempts != 2 || s.Failed != 2 || s.Dead != 1 || s.SuccessRate == nil || *s.SuccessRate != 0 || s.LastSuccessAt != nil ||
			f == nil || f.Attempt != 2 || f.StatusCode != 503 || f.DeliveryID != c.h.DeliveryID(t, failEvent, badID) {
			t.Errorf("stats of a failing endpoint: %+v (last failure %+v)", s, f)
		}
	})

	// 410 Gone disables the endpoint and holds its delivery in the stream.
	t.Run("auto-disabled, then disabled by a person", func(t *testing.T) {
		s := stats(goneID, "")
		if s.State != "auto_disabled" || !strings.Contains(s.DisabledReason, "410") || s.Backlog.Messages != 1 || s.Backlog.Pending+s.Backlog.InFlight != 1 {
			t.Errorf("stats of an endpoint that answered 410: %+v", s)
		}
		if status, out := c.h.Do(t, http.MethodPatch, "/v1/endpoints/"+goneID, `{"enabled":false}`); status != http.StatusOK {
			t.Fatalf("PATCH enabled false: %d %s", status, out)
		}
		if s := stats(goneID, ""); s.State != "disabled" || s.DisabledReason != "" {
			t.Errorf("after a person's disable: %+v", s)
		}
	})

	t.Run("no traffic", func(t *testing.T) {
		if s := stats(idleID, ""); s.State != "disabled" || s.Attempts != 0 || s.SuccessRate != nil {
			t.Errorf("stats of an endpoint without traffic: %+v", s)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		// Out of range is the server's refusal alone; not a duration, the
		// document's too.
		for w, check := range map[string]reqCheck{"5s": reqAny, "200h": reqAny, "soon": reqInvalid} {
			wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/endpoints/" + goodID + "/stats?window=" + w, want: 400, request: check}), "invalid_field", "window")
		}
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/endpoints/" + unknownEndpoint + "/stats", want: 404}), "not_found", "")
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/endpoints/" + goodID + "/stats", key: noKey, want: 401, request: reqInvalid}), "unauthorized", "")
	})
}

type logBody struct {
	Data []struct {
		Seq        uint64 `json:"seq"`
		DeliveryID string `json:"delivery_id"`
		EndpointID string `json:"endpoint_id"`
		Attempt    int    `json:"attempt"`
		Outcome    string `json:"outcome"`
	} `json:"data"`
	NextAfter uint64 `json:"next_after"`
}

// GET /v1/delivery-log as a live tail: the newest records first time,
// then only what follows next_after; narrowed to one endpoint; a tenant
// key sees only its tenant's endpoints.
func TestDeliveryLogTail(t *testing.T) {
	c := newConformance(t, app.Config{})
	rc := hookdtest.NewReceiver(t)
	c.createTenant(t, `{"id":"acme"}`)
	_, acmeKey := c.createTenantKey(t, "acme")
	ownID := c.createEndpoint(t, fmt.Sprintf(`{"url":%q,"events":["a.>"]}`, rc.URL))
	acmeID := c.createEndpoint(t, fmt.Sprintf(`{"url":%q,"events":["a.>"],"tenant":"acme"}`, rc.URL))
	for _, id := range []string{ownID, acmeID} {
		c.h.WaitEndpoint(t, id, func(e *hookdtest.Endpoint) bool { return e != nil })
	}
	tail := func(query, key string) logBody {
		return decodeJSON[logBody](t, c.call(t, apiCall{method: "GET", path: "/v1/delivery-log" + query, key: key, want: 200}))
	}
	c.h.PublishEvent(t, "a.one", nil)
	c.h.PublishEventAs(t, "acme", "a.one", nil)
	hookdtest.WaitFor(t, 20*time.Second, "both delivered", func() bool {
		return len(c.h.Attempts(t, ownID)) == 1 && len(c.h.Attempts(t, acmeID)) == 1
	})

	all := tail("", adminKey)
	var outcomes []string
	for i, r := range all.Data {
		if i > 0 && r.Seq <= all.Data[i-1].Seq {
			t.Errorf("records out of order: %+v", all.Data)
		}
		if r.EndpointID == ownID {
			outcomes = append(outcomes, r.Outcome)
		}
	}
	// A routed delivery has no "pending" record: one record each.
	if len(all.Data) != 2 || !slices.Equal(outcomes, []string{"succeeded"}) || all.NextAfter != all.Data[len(all.Data)-1].Seq {
		t.Fatalf("first tail: %+v", all)
	}
	if page := tail("?limit=1", adminKey); len(page.Data) != 1 || page.Data[0].Seq != all.NextAfter {
		t.Errorf("limit=1 without after gives %+v, want the newest record", page)
	}
	if page := tail(fmt.Sprintf("?after=%d", all.NextAfter), adminKey); len(page.Data) != 0 || page.NextAfter != all.NextAfter {
		t.Errorf("nothing new: %+v", page)
	}

	second := c.h.PublishEvent(t, "a.two", nil)
	hookdtest.WaitFor(t, 20*time.Second, "second delivered", func() bool { return len(c.h.Attempts(t, ownID)) == 2 })
	page := tail(fmt.Sprintf("?after=%d&endpoint_id=%s", all.NextAfter, ownID), adminKey)
	if len(page.Data) != 1 || page.Data[0].DeliveryID != c.h.DeliveryID(t, second, ownID) || page.Data[0].Outcome != "succeeded" {
		t.Errorf("tail after %d: %+v", all.NextAfter, page)
	}

	t.Run("tenant key", func(t *testing.T) {
		for _, r := range tail("", acmeKey).Data {
			if r.EndpointID != acmeID {
				t.Errorf("acme's key sees a record of %s", r.EndpointID)
			}
		}
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/delivery-log?endpoint_id=" + ownID, key: acmeKey, want: 404}), "not_found", "")
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/endpoints/" + ownID + "/stats", key: acmeKey, want: 404}), "not_found", "")
		if got := tail("?endpoint_id="+acmeID, acmeKey); len(got.Data) != 1 {
			t.Errorf("acme's endpoint's records: %+v", got)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/delivery-log?after=x", want: 400, request: reqInvalid}), "invalid_field", "after")
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/delivery-log?limit=0", want: 400, request: reqInvalid}), "invalid_field", "limit")
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/delivery-log?endpoint_id=" + unknownEndpoint, want: 404}), "not_found", "")
		wantError(t, c.call(t, apiCall{method: "GET", path: "/v1/delivery-log", key: noKey, want: 401, request: reqInvalid}), "unauthorized", "")
	})
}

// statsAttempts is enough attempts in a window for a scan of the log to
// take a second or more (about 6 CPU-seconds per 100,000).
const statsAttempts = 20000

// GET /v1/endpoints/{id}/stats reads kept counters: with 20,000 attempts
// in its window it answers as fast as with none, and counts them all.
func TestEndpointStatsCostDoesNotGrowWithAttempts(t *testing.T) {
	h := hookdtest.Start(t, app.Config{})
	ep := h.CreateEndpoint(t, `{"url":"https://x.example/busy","events":["busy.>"],"enabled":false}`)
	js := h.App.JetStream()
	// Stored as a worker stores them: group-committed, each counted by the
	// process that stored it.
	committer, err := delivery.NewCommitter(delivery.CommitterConfig{JetStream: js, Names: h.App.Names(), Stored: h.App.Counters()})
	if err != nil {
		t.Fatal(err)
	}
	commits := make([]*delivery.Commit, 0, statsAttempts)
	for i := range statsAttempts {
		a := delivery.Attempt{DeliveryID: fmt.Sprintf("dlv_busy%d", i/2), EventType: "busy.x", EndpointID: ep.ID, Number: i%2 + 1,
			Time: time.Now().UTC(), Outcome: delivery.OutcomeSucceeded}
		if i%2 == 0 {
			a.Outcome, a.StatusCode = delivery.OutcomeRetrying, 503
		}
		commits = append(commits, committer.Add(a))
	}
	committer.Close(t.Context())
	for _, c := range commits {
		if _, err := c.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	stats := func() statsBody {
		status, out := h.Do(t, http.MethodGet, "/v1/endpoints/"+ep.ID+"/stats", nil)
		if status != http.StatusOK {
			t.Fatalf("stats: %d %s", status, out)
		}
		var s statsBody
		if err := json.Unmarshal(out, &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	hookdtest.WaitFor(t, time.Minute, "every attempt counted", func() bool { return stats().Attempts == statsAttempts })
	s := stats()
	if s.Succeeded != statsAttempts/2 || s.Failed != statsAttempts/2 || s.LastFailure == nil || s.LastFailure.StatusCode != 503 {
		t.Errorf("stats of %d attempts: %+v", statsAttempts, s)
	}
	// What a call reads, not how long it takes (this machine is shared):
	// a scan of the log would bring every record to this process; the
	// counters are a few small keys.
	info, err := js.Stream(t.Context(), h.App.Names().LogStream())
	if err != nil {
		t.Fatal(err)
	}
	logBytes := info.CachedInfo().State.Bytes
	before := js.Conn().Stats().InBytes
	const calls = 5
	for range calls {
		stats()
	}
	read := js.Conn().Stats().InBytes - before
	t.Logf("%d stats calls over %d attempts (%d bytes of log) read %d bytes", calls, statsAttempts, logBytes, read)
	if read*10 > logBytes {
		t.Errorf("%d stats calls read %d bytes, the log holds %d: they read more than their counters", calls, read, logBytes)
	}
}
