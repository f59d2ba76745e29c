package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/topology"
)

// Every read API answers on every node of a three-node cluster, at once
// and every time: when all is well, after the leaders of the streams
// they read step down, and with a node stopped and once it is back. (On
// a cluster, reads of the delivery log pulled from a consumer made the
// instant before, which the node asked may not know of yet: one read in
// ten or so answered 503 "no responders", on every node, long after any
// fault.)
func TestClusterReadsAnswerOnEveryNode(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test: -short")
	}
	rc := hookdtest.NewReceiver(t)
	nodes, cfgs := hookdtest.StartCluster(t, 3, func(_ int, c *app.Config) {
		c.Worker = fastConfig().Worker
		c.APIKeyRateLimit = -1 // the test reads as fast as it can
	})
	ep := nodes[0].CreateEndpoint(t, map[string]any{"url": rc.URL, "events": []string{"order.*"}})
	for _, n := range nodes[1:] {
		n.WaitEndpoint(t, ep.ID, func(e *hookdtest.Endpoint) bool { return e != nil })
	}
	var eventID string
	for i := range 10 {
		eventID = publishRetrying(t, nodes[i%3], i)
	}
	var accepted struct{ ID string }
	if err := json.Unmarshal([]byte(eventID), &accepted); err != nil {
		t.Fatal(err)
	}
	hookdtest.WaitFor(t, 60*time.Second, "10 events delivered", func() bool { return len(rc.CountByID()) == 10 })
	var list struct{ Data []struct{ ID, Status string } }
	hookdtest.WaitFor(t, 30*time.Second, "10 deliveries listed as succeeded", func() bool {
		status, out := nodes[0].Do(t, http.MethodGet, "/v1/endpoints/"+ep.ID+"/deliveries?status=succeeded", nil)
		return status == http.StatusOK && json.Unmarshal(out, &list) == nil && len(list.Data) == 10
	})
	paths := []string{
		"/v1/endpoints/" + ep.ID + "/stats",
		"/v1/endpoints/" + ep.ID + "/deliveries",
		"/v1/deliveries/" + list.Data[0].ID,
		"/v1/delivery-log",
		"/v1/events/" + accepted.ID,
	}
	// round reads every path on every running node once: what failed.
	round := func() []string {
		var failed []string
		for i, n := range nodes {
			if n == nil {
				continue
			}
			for _, p := range paths {
				if status, out := get(t, n, p); status != http.StatusOK {
					failed = append(failed, fmt.Sprintf("node %d %s: %d %s", i+1, p, status, out))
				}
			}
		}
		return failed
	}
	// healthy requires every read to answer within 10 s of what happened,
	// then 10 rounds in a row to answer every time.
	healthy := func(what string) {
		t.Helper()
		start := time.Now()
		var last []string
		hookdtest.WaitFor(t, 10*time.Second, "every read answering "+what, func() bool {
			last = round()
			return len(last) == 0
		})
		took := time.Since(start)
		for i := range 10 {
			if failed := round(); len(failed) > 0 {
				t.Fatalf("%s: round %d of reads after they all answered: %d failed: %v", what, i+1, len(failed), failed)
			}
		}
		t.Logf("%s: every read answered on every node %s after", what, took.Round(time.Millisecond))
	}
	healthy("at rest")

	nc := nodes[1].App.JetStream().Conn()
	names := nodes[1].App.Names()
	for _, stream := range []string{names.LogStream(), names.HeldStream(), names.IndexStream(), names.EventsStream(),
		topology.KVStream(names.StatsBucket()), topology.KVStream(names.EndpointsBucket())} {
		stepDown(t, nc, stream, "")
	}
	healthy("leaders stepped down")

	nodes[2].Stop(t)
	nodes[2] = nil
	healthy("a node stopped")
	nodes[2] = hookdtest.Start(t, cfgs[2])
	healthy("the node back")
}

// get reads path from n's API: the status and the start of the body.
func get(t *testing.T, n *hookdtest.Hookd, path string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+hookdtest.AdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	return resp.StatusCode, string(out)
}
