package app_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/embedded"
	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/internal/testcerts"
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

// Three nodes whose routes use TLS (one CA) and a route password, sharing
// one internal identity, form a cluster and deliver an event published on
// one node's NATS port by an anonymous producer to an endpoint created
// through another node; a worker connected with --nats to the cluster signs
// in with the shared internal key file.
func TestClusterWithTLSRoutesAndRouteAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test: -short")
	}
	ca := testcerts.NewCA(t, "hookd-cluster")
	keyFile := filepath.Join(t.TempDir(), "nats-internal.nk")
	if _, err := embedded.LoadOrCreateInternalKey(keyFile); err != nil {
		t.Fatal(err)
	}
	nodes, _ := hookdtest.StartCluster(t, 3, func(i int, c *app.Config) {
		c.Worker = fastConfig().Worker
		c.NoWorker = true // the worker below delivers
		cert, key := ca.Issue(t, fmt.Sprintf("n%d", i+1))
		c.NATSInternalKeyFile = keyFile
		c.NATSSecurity.ClusterTLS = embedded.TLSFiles{CertFile: cert, KeyFile: key, CAFile: ca.File}
		c.NATSSecurity.ClusterUser, c.NATSSecurity.ClusterPassword = "route", "route-secret-0123"
	})
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.App.NATSURL())
	}
	worker := fastConfig()
	worker.NATSURLs, worker.NoRouter = strings.Join(urls, ","), true
	worker.NATSClient.NkeyFile = keyFile
	hookdtest.Start(t, worker)

	rc := hookdtest.NewReceiver(t)
	ep := nodes[0].CreateEndpoint(t, map[string]any{"url": rc.URL, "events": []string{"order.*"}})
	for _, n := range nodes[1:] {
		n.WaitEndpoint(t, ep.ID, func(e *hookdtest.Endpoint) bool { return e != nil })
	}
	p := mustDialNATS(t, nodes[2].App.NATSURL())
	if _, err := p.js.Publish(t.Context(), "events.order.paid", []byte(`{"total":42}`)); err != nil {
		t.Fatalf("anonymous publish on the third node: %v", err)
	}
	hookdtest.WaitFor(t, 30*time.Second, "delivered", func() bool { return rc.Count() == 1 })
	if got := string(rc.Requests()[0].Body); !strings.Contains(got, `"total":42`) {
		t.Fatalf("delivered %s", got)
	}
}
