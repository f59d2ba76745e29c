package natstest

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/embedded"
)

// Cluster is a JetStream cluster of embedded servers on 127.0.0.1 whose
// nodes a test stops and starts again, on the same store directories and
// cluster ports: the cluster loses its quorum and gets it back.
type Cluster struct {
	tb      testing.TB
	mu      sync.Mutex
	servers []*embedded.Server // nil while stopped
	cfgs    []embedded.Config
}

// StartCluster starts an n-node cluster, each node configured as base
// (InternalKey, ProducerSubjects, Logger...) with its own store
// directory, a free client port and the cluster's routes, and waits
// until it has a meta leader and every node is current. A cluster port
// another process took between choosing and binding it is tried again
// with new ports. The test stops the nodes at its end.
func StartCluster(tb testing.TB, n int, base embedded.Config) *Cluster {
	tb.Helper()
	for try := 1; ; try++ {
		c, err := tryCluster(tb, n, base)
		if err == nil {
			c.WaitFormed(30 * time.Second)
			return c
		}
		if !strings.Contains(err.Error(), "address already in use") || try == 5 {
			tb.Fatal(err)
		}
	}
}

func tryCluster(tb testing.TB, n int, base embedded.Config) (*Cluster, error) {
	var addrs, routes []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		addrs = append(addrs, ln.Addr().String())
		routes = append(routes, "nats://"+ln.Addr().String())
		ln.Close() // free for the node, which binds it at once
	}
	if base.Logger == nil {
		base.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c := &Cluster{tb: tb}
	for i := range n {
		cfg := base
		cfg.StoreDir, cfg.Listen = tb.TempDir(), "127.0.0.1:0"
		cfg.ServerName, cfg.ClusterName = fmt.Sprintf("n%d", i+1), "hookd-test"
		cfg.ClusterListen, cfg.Routes = addrs[i], routes
		c.cfgs = append(c.cfgs, cfg)
	}
	for i := range c.cfgs {
		s, err := embedded.Start(c.cfgs[i])
		if err != nil {
			c.stopAll()
			return nil, err
		}
		c.servers = append(c.servers, s)
	}
	tb.Cleanup(c.stopAll)
	return c, nil
}

func (c *Cluster) stopAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.servers {
		if s != nil {
			s.Shutdown()
		}
	}
}

// Server returns node i, nil while it is stopped.
func (c *Cluster) Server(i int) *embedded.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.servers[i]
}

// Stop stops node i and waits until it has stopped.
func (c *Cluster) Stop(i int) {
	c.mu.Lock()
	s := c.servers[i]
	c.servers[i] = nil
	c.mu.Unlock()
	if s != nil {
		s.Shutdown()
	}
}

// Restart starts node i again, on its store directory and cluster port
// (its client port is a new one).
func (c *Cluster) Restart(i int) {
	c.tb.Helper()
	s, err := embedded.Start(c.cfgs[i])
	if err != nil {
		c.tb.Fatalf("restart node %d: %v", i+1, err)
	}
	c.mu.Lock()
	c.servers[i] = s
	c.mu.Unlock()
}

// WaitFormed waits until a running node is meta leader of a cluster with
// every node, and every running node is current with it.
func (c *Cluster) WaitFormed(timeout time.Duration) {
	c.tb.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		formed, current := false, true
		c.mu.Lock()
		for _, s := range c.servers {
			if s == nil {
				current = false
				continue
			}
			formed = formed || len(s.ClusterPeers()) >= len(c.servers)
			current = current && s.WaitJetStream(0) == nil
		}
		c.mu.Unlock()
		if formed && current {
			return
		}
		time.Sleep(50 * time.Millisecond) // polling the cluster's state
	}
	c.tb.Fatalf("no meta leader with %d current peers after %s", len(c.servers), timeout)
}
