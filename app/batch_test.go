package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/topology"
	"github.com/nats-io/nats.go"
)

// sentBatch is one request a batch receiver got.
type sentBatch struct {
	id      string // webhook-id
	members []int  // the test's "n" of each member, in the body's order
	status  int    // what the receiver answered
	at      time.Time
	req     hookdtest.Request
}

// batchLog records what a batching endpoint's receiver got.
type batchLog struct {
	mu   sync.Mutex
	sent []sentBatch
}

// newBatchReceiver starts a receiver of batches whose list is field; status
// decides the answer to the n-th request of a webhook-id (nil: 200).
func newBatchReceiver(t *testing.T, field string, status func(n int) int) (*hookdtest.Receiver, *batchLog) {
	t.Helper()
	bl := &batchLog{}
	rc := hookdtest.NewReceiver(t)
	rc.SetRespond(func(n int, r hookdtest.Request) int {
		st := http.StatusOK
		if status != nil {
			st = status(n)
		}
		var body map[string]json.RawMessage
		var list []struct {
			Data struct {
				N int `json:"n"`
			} `json:"data"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Errorf("batch body %q: %v", r.Body, err)
		} else if err := json.Unmarshal(body[field], &list); err != nil {
			t.Errorf("batch body %q has no list %q: %v", r.Body, field, err)
		}
		b := sentBatch{id: r.Header.Get("webhook-id"), status: st, at: time.Now(), req: r}
		for _, m := range list {
			b.members = append(b.members, m.Data.N)
		}
		bl.mu.Lock()
		bl.sent = append(bl.sent, b)
		bl.mu.Unlock()
		return st
	})
	return rc, bl
}

// all returns every request, in arrival order.
func (bl *batchLog) all() []sentBatch {
	bl.mu.Lock()
	defer bl.mu.Unlock()
	return slices.Clone(bl.sent)
}

// delivered returns the requests answered 2xx, in arrival order.
func (bl *batchLog) delivered() []sentBatch {
	var out []sentBatch
	for _, b := range bl.all() {
		if b.status < 300 {
			out = append(out, b)
		}
	}
	return out
}

// assertEachOnce requires events 0..n-1 to have arrived in exactly one
// delivered batch each, counted over every 2xx answer.
func (bl *batchLog) assertEachOnce(t *testing.T, n int) {
	t.Helper()
	count := map[int]int{}
	for _, b := range bl.delivered() {
		for _, m := range b.members {
			count[m]++
		}
	}
	for i := range n {
		if count[i] != 1 {
			t.Errorf("event %d arrived in %d delivered batches, want 1", i, count[i])
		}
	}
	if len(count) != n {
		t.Errorf("delivered batches hold %d distinct events, want %d", len(count), n)
	}
}

func publishN(t *testing.T, h *hookdtest.Hookd, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		h.PublishEvent(t, "run.finished", map[string]int{"n": i})
	}
}

// Twelve events with max_events 5 arrive as batches of 5, 5 and, once
// max_wait has passed with no more events, 2.
func TestBatchByCount(t *testing.T) {
	rc, bl := newBatchReceiver(t, "events", nil)
	h := hookdtest.Start(t, fastConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "batch": map[string]any{"max_events": 5, "max_wait": "3s"}})
	publishN(t, h, 0, 12)
	hookdtest.WaitFor(t, 20*time.Second, "three batches", func() bool { return len(bl.delivered()) >= 3 })
	h.WaitIdle(t, ep.ID)
	got := bl.delivered()
	var sizes []int
	for _, b := range got {
		sizes = append(sizes, len(b.members))
	}
	if !slices.Equal(sizes, []int{5, 5, 2}) {
		t.Fatalf("batch sizes %v, want [5 5 2] (full ones first, the partial one at max_wait)", sizes)
	}
	if len(bl.all()) != 3 {
		t.Fatalf("%d requests, want 3", len(bl.all()))
	}
	bl.assertEachOnce(t, 12)
	for _, b := range got {
		verify(t, ep.Secret, b.req)
	}
}

// Three events and max_wait 1s (max_events 100 by default): one batch of
// three, sent only once max_wait has passed.
func TestBatchByTime(t *testing.T) {
	rc, bl := newBatchReceiver(t, "events", nil)
	h := hookdtest.Start(t, fastConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "batch": map[string]any{"max_wait": "1s"}})
	start := time.Now()
	publishN(t, h, 0, 3)
	hookdtest.WaitFor(t, 15*time.Second, "a batch", func() bool { return len(bl.delivered()) >= 1 })
	h.WaitIdle(t, ep.ID)
	got := bl.delivered()
	if len(got) != 1 || len(got[0].members) != 3 {
		t.Fatalf("batches %+v, want one of 3", got)
	}
	if waited := got[0].at.Sub(start); waited < time.Second {
		t.Fatalf("batch sent %s after the first event, before max_wait (1s)", waited)
	}
	bl.assertEachOnce(t, 3)
}

// The body has LangSmith's shape with field "runs": rule_id (the endpoint
// id), start_time and end_time (the first and last member's acceptance
// time), and the members' bodies in acceptance order; the batch is a
// delivery of its own in the API, its members say where they went.
func TestBatchLangSmithBody(t *testing.T) {
	rc, bl := newBatchReceiver(t, "runs", nil)
	h := hookdtest.Start(t, fastConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL + "/hook?secret=s3cr3t", "profile": "langsmith",
		"batch": map[string]any{"max_events": 3, "max_wait": "15m", "field": "runs"}})
	publishN(t, h, 0, 3)
	hookdtest.WaitFor(t, 15*time.Second, "a batch", func() bool { return len(bl.delivered()) >= 1 })
	h.WaitIdle(t, ep.ID)
	r := bl.delivered()[0].req
	verify(t, ep.Secret, r)

	var keys []string
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(keys, []string{"rule_id", "start_time", "end_time", "runs"}) {
		t.Fatalf("body keys %v, want rule_id, start_time, end_time, runs: %s", keys, r.Body)
	}
	var body struct {
		RuleID    string `json:"rule_id"`
		StartTime string `json:"start_time"`
		EndTime   string `json:"end_time"`
		Runs      []struct {
			Type      string          `json:"type"`
			Timestamp string          `json:"timestamp"`
			Data      json.RawMessage `json:"data"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.RuleID != ep.ID || len(body.Runs) != 3 {
		t.Fatalf("rule_id %q (want %s), %d runs: %s", body.RuleID, ep.ID, len(body.Runs), r.Body)
	}
	for i, run := range body.Runs {
		if run.Type != "run.finished" || string(run.Data) != `{"n":`+string(rune('0'+i))+`}` {
			t.Fatalf("run %d is %+v, want the member's body in acceptance order", i, run)
		}
	}
	start, err1 := time.Parse(time.RFC3339, body.StartTime)
	end, err2 := time.Parse(time.RFC3339, body.EndTime)
	first, _ := time.Parse(time.RFC3339, body.Runs[0].Timestamp)
	last, _ := time.Parse(time.RFC3339, body.Runs[2].Timestamp)
	if err1 != nil || err2 != nil || !start.Equal(first) || !end.Equal(last) || end.Before(start) {
		t.Fatalf("start_time %q end_time %q, want the first (%s) and last (%s) member's acceptance time", body.StartTime, body.EndTime, first, last)
	}
	if r.Path != "/hook" {
		t.Fatalf("path %q", r.Path)
	}

	// The API: the members went into the batch, the batch is a delivery.
	batchID := r.Header.Get("webhook-id")
	status, out := h.Do(t, http.MethodGet, "/v1/endpoints/"+ep.ID+"/deliveries?status=batched", nil)
	var list struct {
		Data []struct {
			ID      string `json:"id"`
			Status  string `json:"status"`
			BatchID string `json:"batch_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(out, &list); status != http.StatusOK || err != nil || len(list.Data) != 3 {
		t.Fatalf("batched deliveries: %d %s", status, out)
	}
	for _, d := range list.Data {
		if d.BatchID != batchID || d.Status != "batched" {
			t.Fatalf("member %+v, want batched into %s", d, batchID)
		}
	}
	status, out = h.Do(t, http.MethodGet, "/v1/deliveries/"+batchID, nil)
	var batch struct {
		Status    string            `json:"status"`
		EventType string            `json:"event_type"`
		BatchSize int               `json:"batch_size"`
		Attempts  []json.RawMessage `json:"attempts"`
	}
	if err := json.Unmarshal(out, &batch); status != http.StatusOK || err != nil || batch.Status != "succeeded" ||
		batch.EventType != delivery.BatchEventType || batch.BatchSize != 3 || len(batch.Attempts) != 1 {
		t.Fatalf("batch delivery: %d %s", status, out)
	}
	status, out = h.Do(t, http.MethodPost, "/v1/deliveries/"+list.Data[0].ID+"/retry", nil)
	if status != http.StatusConflict || !strings.Contains(string(out), "already_batched") {
		t.Fatalf("retry of a batched member without force: %d %s", status, out)
	}
	status, out = h.Do(t, http.MethodPost, "/v1/deliveries/"+batchID+"/retry", `{"force":true}`)
	if status != http.StatusConflict || !strings.Contains(string(out), "batch_not_requeueable") {
		t.Fatalf("retry of a batch: %d %s", status, out)
	}
	bl.assertEachOnce(t, 3)
}

// A batch answered 500 is retried whole: the same batch id with the same
// members, then success.
func TestBatchRetriedWhole(t *testing.T) {
	rc, bl := newBatchReceiver(t, "events", func(n int) int {
		if n == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	h := hookdtest.Start(t, fastConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "batch": map[string]any{"max_events": 4}})
	publishN(t, h, 0, 4)
	hookdtest.WaitFor(t, 15*time.Second, "a delivered batch", func() bool { return len(bl.delivered()) >= 1 })
	h.WaitIdle(t, ep.ID)
	all := bl.all()
	if len(all) != 2 || all[0].status != 500 || all[1].status != 200 {
		t.Fatalf("requests %+v, want a 500 then a 200", all)
	}
	if all[0].id != all[1].id || !slices.Equal(all[0].members, all[1].members) || len(all[0].members) != 4 ||
		!bytes.Equal(all[0].req.Body, all[1].req.Body) {
		t.Fatalf("retry differs: %s %v then %s %v", all[0].id, all[0].members, all[1].id, all[1].members)
	}
	var outs []delivery.Outcome
	for _, a := range h.Attempts(t, ep.ID) {
		if a.DeliveryID == all[0].id {
			outs = append(outs, a.Outcome)
		}
	}
	if !slices.Equal(outs, []delivery.Outcome{delivery.OutcomeRetrying, delivery.OutcomeSucceeded}) {
		t.Fatalf("batch attempts %v, want retrying then succeeded", outs)
	}
	bl.assertEachOnce(t, 4)
}

// A batch that fails for good is dead-lettered whole; recovering the
// endpoint collects its events into a new batch, which is delivered.
func TestBatchDeadLetteredAndRecovered(t *testing.T) {
	var mu sync.Mutex
	healthy := false
	rc, bl := newBatchReceiver(t, "events", func(int) int {
		mu.Lock()
		defer mu.Unlock()
		if healthy {
			return http.StatusOK
		}
		return http.StatusBadRequest
	})
	opsRC := hookdtest.NewReceiver(t)
	h := hookdtest.Start(t, fastConfig())
	h.CreateEndpoint(t, map[string]any{"url": opsRC.URL, "events": []string{"hookd.delivery.exhausted"}})
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "batch": map[string]any{"max_events": 3}})
	since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	publishN(t, h, 0, 3)
	hookdtest.WaitFor(t, 15*time.Second, "a dead letter", func() bool { return len(h.DeadLetters(t, ep.ID)) == 1 })
	h.WaitIdle(t, ep.ID)
	dead := h.DeadLetters(t, ep.ID)[0]
	first := bl.all()[0]
	if len(bl.all()) != 1 || dead.Header.Get(delivery.HeaderDeliveryID) != first.id || !bytes.Equal(dead.Data, first.req.Body) ||
		dead.Header.Get(delivery.HeaderBatchSize) != "3" {
		t.Fatalf("dead letter %v %s, want the whole batch %s", dead.Header, dead.Data, first.id)
	}
	hookdtest.WaitFor(t, 10*time.Second, "delivery.exhausted for the batch", func() bool {
		for _, r := range opsRC.Requests() {
			if bytes.Contains(r.Body, []byte(`"delivery_id":"`+first.id+`"`)) {
				return true
			}
		}
		return false
	})

	mu.Lock()
	healthy = true
	mu.Unlock()
	status, out := h.Do(t, http.MethodPost, "/v1/endpoints/"+ep.ID+"/recover", map[string]string{"since": since})
	if status != http.StatusAccepted || !strings.Contains(string(out), `"requeued":3`) {
		t.Fatalf("recover: %d %s", status, out)
	}
	hookdtest.WaitFor(t, 15*time.Second, "the recovered batch", func() bool { return len(bl.delivered()) == 1 })
	h.WaitIdle(t, ep.ID)
	if again := bl.delivered()[0]; again.id == first.id || len(again.members) != 3 {
		t.Fatalf("recovered batch %s %v, want a new batch of the 3 events", again.id, again.members)
	}
	bl.assertEachOnce(t, 3)
}

// Events waiting in a batch survive a restart: hookd stopped before
// max_wait, started again on the same data directory, sends one batch of
// all of them.
func TestBatchSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	rc, bl := newBatchReceiver(t, "events", nil)
	cfg := func() app.Config {
		c := fastConfig()
		c.DataDir = dir
		// See TestRestartDeliversPending: what was handed back at the stop
		// may still wait for its ack wait after the restart.
		c.Topology.DeliveryAckWait = 2 * time.Second
		return c
	}
	h1 := hookdtest.Start(t, cfg())
	ep := h1.CreateEndpoint(t, map[string]any{"url": rc.URL, "batch": map[string]any{"max_wait": "6s"}})
	publishN(t, h1, 0, 4)
	hookdtest.WaitFor(t, 10*time.Second, "the events collected", func() bool {
		c, err := h1.App.JetStream().Consumer(t.Context(), h1.App.Names().HeldStream(), topology.HeldConsumer(ep.ID))
		if err != nil {
			return false
		}
		info, err := c.Info(t.Context())
		return err == nil && info.NumAckPending == 4
	})
	h1.Stop(t)
	if n := rc.Count(); n != 0 {
		t.Fatalf("%d requests before max_wait", n)
	}

	h2 := hookdtest.Start(t, cfg())
	hookdtest.WaitFor(t, 30*time.Second, "a batch after the restart", func() bool { return len(bl.delivered()) >= 1 })
	h2.WaitIdle(t, ep.ID)
	if got := bl.delivered(); len(got) != 1 || len(got[0].members) != 4 {
		t.Fatalf("batches %+v, want one of all 4 events", got)
	}
	bl.assertEachOnce(t, 4)
}

// Batching can be turned on and off on an existing endpoint: deliveries
// go out one by one, then batched, then one by one again.
func TestBatchTurnedOnAndOff(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	h := hookdtest.Start(t, fastConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL})
	publishN(t, h, 0, 1)
	hookdtest.WaitFor(t, 10*time.Second, "a single delivery", func() bool { return rc.Count() == 1 })

	status, out := h.Do(t, http.MethodPatch, "/v1/endpoints/"+ep.ID, `{"batch":{"max_events":2}}`)
	if status != http.StatusOK || !strings.Contains(string(out), `"batch":{"max_events":2,"max_wait":"10s","field":"events"}`) {
		t.Fatalf("batch on: %d %s", status, out)
	}
	h.WaitEndpoint(t, ep.ID, func(*hookdtest.Endpoint) bool { return h.App.Registry().Snapshot().Get(ep.ID).Batched() })
	publishN(t, h, 1, 3)
	hookdtest.WaitFor(t, 10*time.Second, "a batch", func() bool { return rc.Count() == 2 })
	if body := rc.Requests()[1].Body; !bytes.HasPrefix(body, []byte(`{"rule_id":"`+ep.ID)) || !bytes.Contains(body, []byte(`{"n":2}`)) {
		t.Fatalf("second request is not the batch of events 1 and 2: %s", body)
	}

	status, out = h.Do(t, http.MethodPatch, "/v1/endpoints/"+ep.ID, `{"batch":null}`)
	if status != http.StatusOK || !strings.Contains(string(out), `"batch":null`) {
		t.Fatalf("batch off: %d %s", status, out)
	}
	h.WaitEndpoint(t, ep.ID, func(*hookdtest.Endpoint) bool { return !h.App.Registry().Snapshot().Get(ep.ID).Batched() })
	publishN(t, h, 3, 4)
	hookdtest.WaitFor(t, 10*time.Second, "a single delivery again", func() bool { return rc.Count() == 3 })
	h.WaitIdle(t, ep.ID)
	if body := rc.Requests()[2].Body; !bytes.HasPrefix(body, []byte(`{"type":"run.finished"`)) {
		t.Fatalf("third request is not a single delivery: %s", body)
	}
	if rc.Count() != 3 {
		t.Fatalf("%d requests, want 3", rc.Count())
	}
}

// Three workers collect their own batches of one endpoint while some
// batches fail once: every event arrives in exactly one delivered batch,
// and no batch exceeds max_events.
func TestBatchSeveralWorkers(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	rc, bl := newBatchReceiver(t, "events", func(n int) int {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if n == 1 && calls%3 == 0 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	hs := startProcesses(t, 3, false)
	ep := createEverywhere(t, hs, map[string]any{"url": rc.URL, "batch": map[string]any{"max_events": 10, "max_wait": "1s"}})
	publishN(t, hs[0], 0, 100)
	hookdtest.WaitFor(t, 30*time.Second, "every event delivered", func() bool {
		n := 0
		for _, b := range bl.delivered() {
			n += len(b.members)
		}
		return n >= 100
	})
	hs[0].WaitIdle(t, ep.ID)
	for _, b := range bl.all() {
		if len(b.members) == 0 || len(b.members) > 10 {
			t.Fatalf("batch %s of %d events", b.id, len(b.members))
		}
	}
	bl.assertEachOnce(t, 100)
}

// A delivery its endpoint's transform fails on never joins a batch: it is
// dead-lettered with the error, and the others are batched.
func TestBatchSkipsUnrenderedDeliveries(t *testing.T) {
	rc, bl := newBatchReceiver(t, "events", nil)
	h := hookdtest.Start(t, fastConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "batch": map[string]any{"max_events": 2, "max_wait": "1s"},
		"format": "transform", "transform": `{"data": {"n": data.n, "y": data.obj.y}}`,
		"sample_event": map[string]any{"type": "run.finished", "data": map[string]any{"n": 1, "obj": map[string]int{"y": 1}}}})
	h.PublishEvent(t, "run.finished", map[string]any{"n": 0, "obj": map[string]int{"y": 1}})
	h.PublishEvent(t, "run.finished", map[string]any{"n": 2})
	h.PublishEvent(t, "run.finished", map[string]any{"n": 1, "obj": map[string]int{"y": 1}})
	hookdtest.WaitFor(t, 15*time.Second, "the dead letter", func() bool { return len(h.DeadLetters(t, ep.ID)) == 1 })
	hookdtest.WaitFor(t, 15*time.Second, "a batch", func() bool { return len(bl.delivered()) == 1 })
	h.WaitIdle(t, ep.ID)
	if got := bl.delivered(); len(got) != 1 || !slices.Equal(got[0].members, []int{0, 1}) {
		t.Fatalf("batches %+v, want one of events 0 and 1", got)
	}
}

// A delivery too large for any batch once quoted (a text body of "<",
// each escaped to six bytes) is dead-lettered with the reason, not retried
// forever, and the endpoint's other deliveries are batched.
func TestBatchDeadLettersAMemberTooLargeForAnyBatch(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	h := hookdtest.Start(t, fastConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "format": "raw", "batch": map[string]any{"max_events": 2, "max_wait": "1s"}})
	m := nats.NewMsg("events.doc.uploaded")
	m.Header.Set("Content-Type", "text/plain")
	m.Data = []byte(strings.Repeat("<", 400<<10))
	if _, err := h.App.JetStream().PublishMsg(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	h.PublishEvent(t, "doc.uploaded", map[string]int{"n": 1})
	hookdtest.WaitFor(t, 15*time.Second, "the dead letter", func() bool { return len(h.DeadLetters(t, ep.ID)) == 1 })
	hookdtest.WaitFor(t, 15*time.Second, "the other delivery's batch", func() bool { return rc.Count() == 1 })
	h.WaitIdle(t, ep.ID)
	if dead := h.DeadLetters(t, ep.ID)[0]; !strings.Contains(dead.Header.Get("Hookd-Error"), "exceeds the largest batch") {
		t.Fatalf("dead letter error %q", dead.Header.Get("Hookd-Error"))
	}
	if body := string(rc.Requests()[0].Body); strings.Contains(body, "<<<") || !strings.Contains(body, `{"n":1}`) {
		t.Fatalf("batch body %.200s", body)
	}
}

// A batch carries its oldest member's trace context to the receiver.
func TestBatchCarriesTheOldestMembersTrace(t *testing.T) {
	rc, bl := newBatchReceiver(t, "events", nil)
	h := hookdtest.Start(t, fastConfig())
	h.CreateEndpoint(t, map[string]any{"url": rc.URL, "batch": map[string]any{"max_events": 2, "max_wait": "5s"}})
	parents := []string{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	for i, tp := range parents {
		m := nats.NewMsg("events.run.finished")
		m.Header.Set("traceparent", tp)
		m.Data = []byte(fmt.Sprintf(`{"n":%d}`, i))
		if _, err := h.App.JetStream().PublishMsg(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	hookdtest.WaitFor(t, 15*time.Second, "the batch", func() bool { return len(bl.delivered()) == 1 })
	got := bl.delivered()[0]
	if !slices.Equal(got.members, []int{0, 1}) || got.req.Header.Get("traceparent") != parents[0] {
		t.Fatalf("batch of %v with traceparent %q, want both events and %q", got.members, got.req.Header.Get("traceparent"), parents[0])
	}
}
