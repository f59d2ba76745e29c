package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/topology"
)

// stepDown asks JetStream to elect another leader for a stream (consumer
// "") or a consumer, and waits for the answer.
func stepDown(t *testing.T, nc *nats.Conn, stream, consumer string) {
	t.Helper()
	subject := "$JS.API.STREAM.LEADER.STEPDOWN." + stream
	if consumer != "" {
		subject = "$JS.API.CONSUMER.LEADER.STEPDOWN." + stream + "." + consumer
	}
	msg, err := nc.Request(subject, nil, 10*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", subject, err)
	}
	var resp struct {
		Success bool `json:"success"`
		Error   *struct {
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		t.Fatalf("%s: %s: %v", subject, msg.Data, err)
	}
	if !resp.Success {
		t.Logf("%s: %s", subject, msg.Data)
	}
}

// After leader changes of the events stream, the router's consumers, the
// queue streams and their shard consumers, routing and delivery resume
// within seconds: an event published after each round of step-downs is
// delivered within a few seconds. (Deliveries go through the queue, not
// the fast path, so that the shard consumers are what delivers.)
func TestLeaderChangesResumeDeliveryWithinSeconds(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test: -short")
	}
	rc := hookdtest.NewReceiver(t)
	nodes, _ := hookdtest.StartCluster(t, 3, func(_ int, c *app.Config) {
		c.Worker = fastConfig().Worker
		c.Worker.DirectTimeout = -1
	})
	ep := nodes[0].CreateEndpoint(t, map[string]any{"url": rc.URL, "events": []string{"order.*"}})
	for _, n := range nodes[1:] {
		n.WaitEndpoint(t, ep.ID, func(e *hookdtest.Endpoint) bool { return e != nil })
	}
	publishRetrying(t, nodes[0], 0)
	hookdtest.WaitFor(t, 30*time.Second, "first event delivered", func() bool { return rc.Count() == 1 })

	a := nodes[0].App
	nc := a.JetStream().Conn()
	names := a.Names()
	var worst time.Duration
	for round := 1; round <= 3; round++ {
		stepDown(t, nc, names.EventsStream(), "")
		stepDown(t, nc, names.EventsStream(), topology.RouterConsumer)
		stepDown(t, nc, names.EventsStream(), topology.OrderedRouterConsumer)
		queues := map[string]bool{}
		for shard := range topology.Shards {
			stream, err := a.Topology().ShardStream(context.Background(), shard)
			if err != nil {
				t.Fatal(err)
			}
			if !queues[stream] {
				queues[stream] = true
				stepDown(t, nc, stream, "")
			}
			stepDown(t, nc, stream, topology.ShardConsumer(shard))
		}
		start := time.Now()
		publishRetrying(t, nodes[round%3], round)
		hookdtest.WaitFor(t, 60*time.Second, fmt.Sprintf("event %d delivered", round), func() bool { return rc.Count() == round+1 })
		took := time.Since(start)
		t.Logf("round %d: delivered %s after the step-downs", round, took)
		worst = max(worst, took)
	}
	if worst > 5*time.Second {
		t.Errorf("delivery resumed %s after a leader change, want within 5s", worst)
	}
}
