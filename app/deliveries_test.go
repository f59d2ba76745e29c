package app_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/internal/hookdtest"
)

type deliveryBody struct {
	ID           string `json:"id"`
	EndpointID   string `json:"endpoint_id"`
	EventID      string `json:"event_id"`
	EventType    string `json:"event_type"`
	Status       string `json:"status"`
	AttemptCount int    `json:"attempt_count"`
	Attempts     []struct {
		Attempt    int    `json:"attempt"`
		StatusCode int    `json:"status_code"`
		Outcome    string `json:"outcome"`
		Response   string `json:"response"`
	} `json:"attempts"`
}

type deliveryPage struct {
	Data       []deliveryBody `json:"data"`
	HasMore    bool           `json:"has_more"`
	NextCursor string         `json:"next_cursor"`
}

func listDeliveries(t *testing.T, h *hookdtest.Hookd, endpointID, query string) deliveryPage {
	t.Helper()
	status, out := h.Do(t, http.MethodGet, "/v1/endpoints/"+endpointID+"/deliveries?"+query, nil)
	if status != 200 {
		t.Fatalf("list deliveries ?%s: %d %s", query, status, out)
	}
	var p deliveryPage
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func getDelivery(t *testing.T, h *hookdtest.Hookd, id string) deliveryBody {
	t.Helper()
	status, out := h.Do(t, http.MethodGet, "/v1/deliveries/"+id, nil)
	if status != 200 {
		t.Fatalf("get delivery: %d %s", status, out)
	}
	var d deliveryBody
	_ = json.Unmarshal(out, &d)
	return d
}

// The delivery log answers what happened to each delivery, and dead or
// succeeded deliveries can be sent again, one by one or by time window.
func TestDeliveryLogRetryAndRecover(t *testing.T) {
	var mode atomic.Value // "ok", "fail" (400), "wait" (503)
	mode.Store("fail")
	rc := hookdtest.NewReceiver(t)
	rc.SetRespond(func(_ int, r hookdtest.Request) int {
		switch mode.Load() {
		case "ok":
			return 200
		case "wait":
			return 503
		}
		return 400
	})
	cfg := fastConfig()
	cfg.Worker.RetrySchedule = []time.Duration{20 * time.Millisecond, time.Hour}
	h := hookdtest.Start(t, cfg)
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL})
	start := time.Now().UTC()

	// Two dead deliveries.
	dead1 := h.PublishEvent(t, "order.paid", map[string]int{"n": 1})
	dead2 := h.PublishEvent(t, "order.refunded", map[string]int{"n": 2})
	h.WaitIdle(t, ep.ID)
	// One succeeded.
	mode.Store("ok")
	okID := h.PublishEvent(t, "order.paid", map[string]int{"n": 3})
	h.WaitIdle(t, ep.ID)
	// One failed, its next retry an hour away.
	mode.Store("wait")
	failID := h.PublishEvent(t, "order.paid", map[string]int{"n": 4})
	hookdtest.WaitFor(t, 10*time.Second, "failed delivery", func() bool {
		p := listDeliveries(t, h, ep.ID, "status=failed")
		return len(p.Data) == 1 && p.Data[0].AttemptCount == 2
	})

	all := listDeliveries(t, h, ep.ID, "")
	if len(all.Data) != 4 || all.Data[0].EventID != failID || all.Data[3].EventID != dead1 {
		t.Fatalf("list (newest first): %+v", all.Data)
	}
	counts := map[string]int{}
	for _, d := range all.Data {
		counts[d.Status]++
	}
	if counts["dead"] != 2 || counts["succeeded"] != 1 || counts["failed"] != 1 {
		t.Fatalf("statuses %v", counts)
	}
	if p := listDeliveries(t, h, ep.ID, "event_type=order.refunded"); len(p.Data) != 1 || p.Data[0].EventID != dead2 {
		t.Fatalf("event_type filter: %+v", p.Data)
	}
	if p := listDeliveries(t, h, ep.ID, "until="+url.QueryEscape(start.Add(-time.Hour).Format(time.RFC3339))); len(p.Data) != 0 {
		t.Fatalf("until filter: %+v", p.Data)
	}
	// Pagination walks all four, newest first, without repeats.
	var seen []string
	cursor := ""
	for i := 0; i < 10; i++ {
		p := listDeliveries(t, h, ep.ID, "limit=3&cursor="+cursor)
		for _, d := range p.Data {
			seen = append(seen, d.ID)
		}
		if !p.HasMore {
			break
		}
		cursor = p.NextCursor
	}
	if len(seen) != 4 || strings.Join(seen, ",") != func() string {
		var ids []string
		for _, d := range all.Data {
			ids = append(ids, d.ID)
		}
		return strings.Join(ids, ",")
	}() {
		t.Fatalf("paged %v, want %v", seen, all.Data)
	}
	for _, q := range []string{"status=lost", "since=yesterday", "cursor=zzz", "limit=0", "event_type=a..b"} {
		status, out := h.Do(t, http.MethodGet, "/v1/endpoints/"+ep.ID+"/deliveries?"+q, nil)
		if status != 400 || !strings.Contains(string(out), `"field":"`+strings.SplitN(q, "=", 2)[0]+`"`) {
			t.Errorf("?%s: %d %s", q, status, out)
		}
	}

	// Get shows every attempt.
	var deadDelivery deliveryBody
	for _, d := range all.Data {
		if d.EventID == dead1 {
			deadDelivery = getDelivery(t, h, d.ID)
		}
	}
	if deadDelivery.Status != "dead" || len(deadDelivery.Attempts) != 1 || deadDelivery.Attempts[0].StatusCode != 400 || deadDelivery.Attempts[0].Response != "Bad Request" {
		t.Fatalf("dead delivery: %+v", deadDelivery)
	}

	// Retry the dead one: delivered now.
	mode.Store("ok")
	status, out := h.Do(t, http.MethodPost, "/v1/deliveries/"+deadDelivery.ID+"/retry", nil)
	if status != http.StatusAccepted || !strings.Contains(string(out), `"status":"pending"`) {
		t.Fatalf("retry dead: %d %s", status, out)
	}
	hookdtest.WaitFor(t, 10*time.Second, "retried delivery succeeded", func() bool { return getDelivery(t, h, deadDelivery.ID).Status == "succeeded" })
	d := getDelivery(t, h, deadDelivery.ID)
	if len(d.Attempts) != 2 || d.Attempts[1].Attempt != 2 || d.Attempts[1].StatusCode != 200 {
		t.Fatalf("after retry: %+v", d)
	}

	// A succeeded delivery is sent again only on request.
	var okDelivery string
	for _, d := range all.Data {
		if d.EventID == okID {
			okDelivery = d.ID
		}
	}
	if status, out := h.Do(t, http.MethodPost, "/v1/deliveries/"+okDelivery+"/retry", nil); status != http.StatusConflict || !strings.Contains(string(out), "already_succeeded") {
		t.Fatalf("retry succeeded without force: %d %s", status, out)
	}
	if status, out := h.Do(t, http.MethodPost, "/v1/deliveries/"+okDelivery+"/retry", `{"force":true}`); status != http.StatusAccepted {
		t.Fatalf("forced retry: %d %s", status, out)
	}
	hookdtest.WaitFor(t, 10*time.Second, "forced redelivery", func() bool { return rc.CountByID()[okID] == 2 })

	// Recover re-queues the failed and the remaining dead delivery in the window.
	status, out = h.Do(t, http.MethodPost, "/v1/endpoints/"+ep.ID+"/recover", map[string]string{"since": start.Add(-time.Minute).Format(time.RFC3339)})
	if status != http.StatusAccepted || !strings.Contains(string(out), `"requeued":2`) {
		t.Fatalf("recover: %d %s", status, out)
	}
	hookdtest.WaitFor(t, 10*time.Second, "recovered deliveries succeeded", func() bool {
		return len(listDeliveries(t, h, ep.ID, "status=succeeded").Data) == 4
	})
	// The failed delivery's original retry (an hour away) is superseded: it
	// will not be sent again, and nothing went out twice.
	if n := rc.CountByID()[failID]; n != 3 {
		t.Fatalf("failed delivery sent %d times, want 3 (2 failures, 1 recovery)", n)
	}
	if status, out := h.Do(t, http.MethodPost, "/v1/endpoints/"+ep.ID+"/recover", `{}`); status != 400 || !strings.Contains(string(out), `"field":"since"`) {
		t.Fatalf("recover without since: %d %s", status, out)
	}
	if status, _ := h.Do(t, http.MethodGet, "/v1/deliveries/dlv_unknown", nil); status != 404 {
		t.Fatalf("unknown delivery: %d", status)
	}
}

func TestGetEventShowsRouting(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	h := hookdtest.Start(t, fastConfig())
	a := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "events": []string{"order.*"}})
	h.CreateEndpoint(t, map[string]any{"url": rc.URL, "events": []string{"user.*"}})
	id := h.PublishEvent(t, "order.paid", map[string]int{"total": 5})
	var ev struct {
		ID       string          `json:"id"`
		Type     string          `json:"type"`
		Data     json.RawMessage `json:"data"`
		RoutedTo []struct {
			EndpointID string `json:"endpoint_id"`
			DeliveryID string `json:"delivery_id"`
		} `json:"routed_to"`
	}
	hookdtest.WaitFor(t, 10*time.Second, "event routed", func() bool {
		status, out := h.Do(t, http.MethodGet, "/v1/events/"+id, nil)
		return status == 200 && json.Unmarshal(out, &ev) == nil
	})
	if ev.ID != id || ev.Type != "order.paid" || string(ev.Data) != `{"total":5}` || len(ev.RoutedTo) != 1 || ev.RoutedTo[0].EndpointID != a.ID {
		t.Fatalf("event %+v", ev)
	}
	if d := getDelivery(t, h, ev.RoutedTo[0].DeliveryID); d.EventID != id {
		t.Fatalf("routed delivery %+v", d)
	}
	if status, _ := h.Do(t, http.MethodGet, "/v1/events/evt_nope", nil); status != 404 {
		t.Fatalf("unknown event: %d", status)
	}
}

// A delivery id is never used as a subject wildcard.
func TestDeliveryIDIsNotAWildcard(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	h := hookdtest.Start(t, fastConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL})
	h.PublishEvent(t, "a.b", nil)
	h.WaitIdle(t, ep.ID)
	for _, id := range []string{"*", ">", "dlv_*", "a.b"} {
		if status, out := h.Do(t, http.MethodGet, "/v1/deliveries/"+url.PathEscape(id), nil); status != 404 {
			t.Errorf("GET /v1/deliveries/%s: %d %s", id, status, out)
		}
	}
}

// A manual retry made while an attempt is still running replaces that
// queueing: the late attempt neither logs over the new state nor schedules
// more retries.
func TestRetryDuringAttemptSupersedesIt(t *testing.T) {
	release := make(chan struct{})
	var retried atomic.Bool
	rc := hookdtest.NewReceiver(t)
	rc.SetRespond(func(n int, _ hookdtest.Request) int {
		if n == 2 {
			<-release
			return 503
		}
		if retried.Load() {
			return 200
		}
		return 503
	})
	cfg := fastConfig()
	cfg.Worker.RetrySchedule = []time.Duration{20 * time.Millisecond, time.Hour}
	h := hookdtest.Start(t, cfg)
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL})
	id := h.PublishEvent(t, "a.b", nil)
	hookdtest.WaitFor(t, 10*time.Second, "second attempt in flight", func() bool { return rc.CountByID()[id] == 2 })
	dlv := listDeliveries(t, h, ep.ID, "").Data[0].ID
	retried.Store(true)
	if status, out := h.Do(t, http.MethodPost, "/v1/deliveries/"+dlv+"/retry", nil); status != http.StatusAccepted {
		close(release)
		t.Fatalf("retry: %d %s", status, out)
	}
	hookdtest.WaitFor(t, 10*time.Second, "retried delivery succeeded", func() bool { return getDelivery(t, h, dlv).Status == "succeeded" })
	close(release)
	h.WaitIdle(t, ep.ID) // the late attempt's message is settled, not scheduled again
	d := getDelivery(t, h, dlv)
	if d.Status != "succeeded" {
		t.Fatalf("the late attempt overwrote the state: %+v", d)
	}
	if n := rc.CountByID()[id]; n != 3 {
		t.Fatalf("receiver got %d requests, want 3", n)
	}
}

// A routed delivery costs no log record until its first attempt: while it
// waits (here, its first attempt hangs on a receiver that is down) the
// delivery list and GET /v1/deliveries/{id} read it from the endpoint's
// backlog as pending, with the fields a pending record had, and the log
// holds nothing for it.
func TestRoutedDeliveryIsPendingWithoutARecord(t *testing.T) {
	release := make(chan struct{})
	var once atomic.Bool
	rc := hookdtest.NewReceiver(t)
	rc.SetRespond(func(int, hookdtest.Request) int {
		<-release
		return 500
	})
	defer func() {
		if once.CompareAndSwap(false, true) {
			close(release)
		}
	}()
	h := hookdtest.Start(t, fastConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL})
	records := func() uint64 {
		return storedMsgs(t, h, h.App.Names().AttemptsStream()) + storedMsgs(t, h, h.App.Names().LogStream())
	}
	before := records()
	id := h.PublishEvent(t, "order.paid", map[string]int{"n": 1})
	hookdtest.WaitFor(t, 10*time.Second, "first attempt in flight", func() bool { return rc.Count() == 1 })

	for _, q := range []string{"", "status=pending"} {
		p := listDeliveries(t, h, ep.ID, q)
		if len(p.Data) != 1 || p.Data[0].EventID != id || p.Data[0].Status != "pending" || p.Data[0].EventType != "order.paid" ||
			p.Data[0].EndpointID != ep.ID || p.Data[0].AttemptCount != 0 {
			t.Fatalf("list ?%s before the first attempt: %+v", q, p.Data)
		}
	}
	dlv := listDeliveries(t, h, ep.ID, "").Data[0].ID
	if d := getDelivery(t, h, dlv); d.Status != "pending" || d.EventID != id || d.Attempts == nil || len(d.Attempts) != 0 {
		t.Fatalf("GET before the first attempt: %+v", d)
	}
	if status, out := h.Do(t, http.MethodPost, "/v1/deliveries/"+dlv+"/retry", nil); status != http.StatusConflict || !strings.Contains(string(out), "already_queued") {
		t.Fatalf("retry of a pending delivery: %d %s", status, out)
	}
	if n := records(); n != before {
		t.Fatalf("the delivery log holds %d records for a delivery not attempted yet, want none", n-before)
	}

	once.Store(true)
	close(release)
	hookdtest.WaitFor(t, 10*time.Second, "the attempt logged", func() bool { return getDelivery(t, h, dlv).Status != "pending" })
	if d := getDelivery(t, h, dlv); d.AttemptCount < 1 || len(d.Attempts) < 1 || d.Attempts[0].StatusCode != 500 {
		t.Fatalf("after the attempt: %+v", d)
	}
}

// The delivery log's subjects are as many as the endpoints, however many
// deliveries: records are group-committed per endpoint onto one subject
// each, and still read back per delivery.
func TestDeliveryLogSubjectsBoundedByEndpoints(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	h := hookdtest.Start(t, fastConfig())
	var eps []string
	for range 3 {
		eps = append(eps, h.CreateEndpoint(t, map[string]any{"url": rc.URL, "events": []string{"order.*"}}).ID)
	}
	const events = 40
	var last string
	for i := range events {
		last = h.PublishEvent(t, "order.paid", map[string]int{"n": i})
	}
	hookdtest.WaitFor(t, 30*time.Second, "every delivery made", func() bool { return rc.Count() == 3*events })
	h.WaitIdle(t, eps...)
	names := h.App.Names()
	s, err := h.App.JetStream().Stream(t.Context(), names.LogStream())
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context(), jetstream.WithSubjectFilter(names.LogFingerprintSubject("*")))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(info.State.Subjects); n == 0 || n > len(eps) {
		t.Fatalf("%d deliveries logged on %d subjects, want 1 to %d: %v", 3*events, n, len(eps), info.State.Subjects)
	}
	if n := storedMsgs(t, h, names.AttemptsStream()); n != 0 {
		t.Errorf("the legacy attempts stream got %d records", n)
	}
	t.Logf("%d deliveries: %d log messages", 3*events, info.State.Msgs)
	for _, ep := range eps {
		if d := getDelivery(t, h, h.DeliveryID(t, last, ep)); d.Status != "succeeded" || len(d.Attempts) != 1 || d.EventID != last {
			t.Errorf("delivery of %s to %s: %+v", last, ep, d)
		}
		if p := listDeliveries(t, h, ep, "status=succeeded&limit=100"); len(p.Data) != events {
			t.Errorf("%s lists %d succeeded deliveries, want %d", ep, len(p.Data), events)
		}
	}
}
