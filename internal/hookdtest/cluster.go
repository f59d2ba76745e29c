package hookdtest

import (
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/hookd/hookd/app"
)

// StartCluster runs n hookd nodes, each with every role and an embedded
// nats-server that is a node of one JetStream cluster on 127.0.0.1, with
// streams replicated 3 times (1 for n < 3). with, when set, adjusts node
// i's configuration. It returns the nodes and their configurations, so a
// test can stop a node and Start it again on the same data.
func StartCluster(t testing.TB, n int, with func(i int, c *app.Config)) ([]*Hookd, []app.Config) {
	t.Helper()
	var routes, addrs []string
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
		routes = append(routes, "nats://"+ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close() // free for the nodes, which bind them at once
	}
	cfgs := make([]app.Config, n)
	for i := range cfgs {
		c := app.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", AdminKey: AdminKey, Logger: Logger(),
			ServerName: fmt.Sprintf("n%d", i+1), ClusterName: "hookd-test", ClusterListen: addrs[i], Routes: routes}
		c.Topology.Replicas = min(n, 3)
		if with != nil {
			with(i, &c)
		}
		if c.Worker.AllowNets == nil {
			c.Worker.AllowNets = Loopback
		}
		cfgs[i] = c
	}
	type started struct {
		a   *app.App
		err error
	}
	results := make([]chan started, n)
	for i := range cfgs {
		results[i] = make(chan started, 1)
		go func() {
			// Concurrently: a node waits in New until the cluster has formed.
			a, err := app.New(context.Background(), cfgs[i])
			results[i] <- started{a, err}
		}()
	}
	nodes := make([]*Hookd, n)
	var firstErr error
	for i := range results {
		r := <-results[i]
		if r.err != nil {
			firstErr = r.err
			continue
		}
		nodes[i] = run(t, r.a)
	}
	if firstErr != nil {
		t.Fatalf("start cluster: %v", firstErr)
	}
	return nodes, cfgs
}
