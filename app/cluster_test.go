package app_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/internal/hookdtest"
)

// publishRetrying posts an event, retrying while the API answers 503 (a
// cluster electing a new leader); it returns the id once accepted.
func publishRetrying(t *testing.T, h *hookdtest.Hookd, i int) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, out := h.Do(t, http.MethodPost, "/v1/events", map[string]any{"type": "order.paid", "data": map[string]int{"i": i}})
		if status == http.StatusAccepted {
			return string(out)
		}
		if status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("publish %d: %d %s", i, status, out)
		}
		time.Sleep(100 * time.Millisecond) // a producer's back-off
	}
}

// Three hookd nodes, each with an embedded nats-server in one JetStream
// cluster and streams replicated three times: a node stopped in the middle
// of the traffic and started again later loses nothing: every accepted
// event is delivered.
func TestClusterNodeDownAndBack(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test: -short")
	}
	rc := hookdtest.NewReceiver(t)
	nodes, cfgs := hookdtest.StartCluster(t, 3, func(_ int, c *app.Config) { c.Worker = fastConfig().Worker })
	ep := nodes[0].CreateEndpoint(t, map[string]any{"url": rc.URL, "events": []string{"order.*"}})
	for _, n := range nodes[1:] {
		n.WaitEndpoint(t, ep.ID, func(e *hookdtest.Endpoint) bool { return e != nil })
	}
	const events = 300
	for i := range events {
		switch i {
		case 100:
			nodes[2].Stop(t) // its router, worker and NATS node go away
		case 200:
			nodes[2] = hookdtest.Start(t, cfgs[2]) // back, on the same data
		}
		publishRetrying(t, nodes[0], i)
	}
	hookdtest.WaitFor(t, 60*time.Second, "every accepted event delivered", func() bool { return len(rc.CountByID()) == events })
	dups := 0
	for _, n := range rc.CountByID() {
		dups += n - 1
	}
	t.Logf("%d events accepted and delivered across a node restart, %d duplicate deliveries", events, dups)
}
