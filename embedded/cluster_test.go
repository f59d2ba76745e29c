package embedded

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// freePorts returns n ports free right now on 127.0.0.1.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
		defer ln.Close()
	}
	return ports
}

// StartCluster starts an n-node JetStream cluster on 127.0.0.1 and waits
// until it has a meta leader and n peers. A cluster port another test
// process took between freePorts and the listen is tried again with new
// ports.
func startCluster(t *testing.T, n int) ([]*Server, []Config) {
	t.Helper()
	for try := 1; ; try++ {
		servers, cfgs, err := tryCluster(t, n)
		if err == nil {
			waitPeers(t, servers, n)
			return servers, cfgs
		}
		if !strings.Contains(err.Error(), "address already in use") || try == 5 {
			t.Fatal(err)
		}
	}
}

func tryCluster(t *testing.T, n int) ([]*Server, []Config, error) {
	ports := freePorts(t, n)
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	var servers []*Server
	var cfgs []Config
	for i := range n {
		cfg := Config{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", ServerName: fmt.Sprintf("n%d", i+1),
			ClusterName: "hookd-test", ClusterListen: fmt.Sprintf("127.0.0.1:%d", ports[i]), Routes: routes}
		s, err := Start(cfg)
		if err != nil {
			for _, started := range servers {
				started.Shutdown()
			}
			return nil, nil, err
		}
		t.Cleanup(s.Shutdown)
		servers, cfgs = append(servers, s), append(cfgs, cfg)
	}
	return servers, cfgs, nil
}

// waitPeers waits until one server is meta leader with n peers and every
// server is current.
func waitPeers(t *testing.T, servers []*Server, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		formed, current := false, true
		for _, s := range servers {
			formed = formed || len(s.ClusterPeers()) >= n
			current = current && s.WaitJetStream(0) == nil
		}
		if formed && current {
			return
		}
		time.Sleep(50 * time.Millisecond) // polling cluster state
	}
	t.Fatalf("no meta leader with %d peers after 30s", n)
}

// A three-node cluster of embedded servers keeps an R3 stream writable
// with one node down, and the node catches up when it comes back.
func TestThreeNodeCluster(t *testing.T) {
	servers, cfgs := startCluster(t, 3)
	nc, err := servers[0].Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := t.Context()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "R3", Subjects: []string{"r3.>"}, Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "r3.a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	servers[2].Shutdown()
	deadline := time.Now().Add(20 * time.Second)
	for {
		// A leader on the stopped node moves; publishes succeed again.
		if _, err = js.Publish(ctx, "r3.a", []byte("2")); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("R3 stream not writable with one node of three down: %v", err)
	}
	back, err := Start(cfgs[2])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(back.Shutdown)
	waitPeers(t, []*Server{servers[0], servers[1], back}, 3)
	info, err := s.Info(ctx)
	if err != nil || info.State.Msgs != 2 {
		t.Fatalf("stream after the node came back: %+v, %v", info, err)
	}
}

func TestClusterConfigErrors(t *testing.T) {
	for _, c := range []Config{
		{StoreDir: "x", ClusterListen: "127.0.0.1:6222"},
		{StoreDir: "x", ClusterName: "c", Routes: []string{"nats://a:6222"}},
		{StoreDir: "x", ClusterName: "c", ClusterListen: "127.0.0.1:6222"},
		{StoreDir: "x", ClusterName: "c", ClusterListen: "127.0.0.1:6222", Routes: []string{"a:6222"}},
		{StoreDir: "x", ClusterName: "c", ClusterListen: "127.0.0.1:6222", Routes: []string{"nats://a:6222"}},
		{StoreDir: "x", Security: Security{ClusterUser: "route", ClusterPassword: "secret"}},
		{StoreDir: "x", Listen: "127.0.0.1:0", ClusterName: "c", ClusterListen: "127.0.0.1:6222", Routes: []string{"nats://a:6222"},
			Security: Security{ClusterUser: "route"}},
		{StoreDir: "x", Listen: "127.0.0.1:0", ClusterName: "c", ClusterListen: "127.0.0.1:6222", Routes: []string{"nats://a:6222"},
			Security: Security{ClusterTLS: TLSFiles{CertFile: "c.pem", KeyFile: "k.pem"}}},
		{StoreDir: "x", ProducerSubjects: ProducerSubjects{Events: "events", TenantEvents: "tenants.*.events.>"}},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}
