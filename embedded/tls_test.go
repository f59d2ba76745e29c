package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/internal/testcerts"
)

// The client port with TLS and a CA: hookd's in-process connections work
// without TLS, TCP clients need a certificate the CA signed.
func TestClientTLS(t *testing.T) {
	ca := testcerts.NewCA(t, "hookd")
	cert, key := ca.Issue(t, "server")
	clientCert, clientKey := ca.Issue(t, "producer")
	stranger := testcerts.NewCA(t, "stranger")
	strangerCert, strangerKey := stranger.Issue(t, "producer")
	s, st := startSecured(t, Security{TLS: TLSFiles{CertFile: cert, KeyFile: key, CAFile: ca.File}})

	in, err := s.Connect()
	if err != nil {
		t.Fatalf("in-process connection with TLS on the port: %v", err)
	}
	defer in.Close()
	js, _ := jetstream.New(in)
	if _, err := js.Publish(t.Context(), "events.in.process", nil); err != nil {
		t.Fatalf("in-process publish: %v", err)
	}

	c := mustConnect(t, s.ClientURL(), nats.RootCAs(ca.File), nats.ClientCert(clientCert, clientKey))
	if !c.nc.TLSRequired() {
		t.Fatal("the connection is not TLS")
	}
	c.mustPublish(t, "events.over.tls")
	c.refused(t, "$JS.API.INFO")
	for name, opts := range map[string][]nats.Option{
		"no client certificate":          {nats.RootCAs(ca.File)},
		"certificate of another CA":      {nats.RootCAs(ca.File), nats.ClientCert(strangerCert, strangerKey)},
		"server not trusted":             {nats.ClientCert(clientCert, clientKey)},
		"internal identity, no cert":     append([]nats.Option{nats.RootCAs(ca.File)}, s.InternalOptions()...),
		"server trusted by another root": {nats.RootCAs(stranger.File), nats.ClientCert(clientCert, clientKey)},
	} {
		if _, err := connectClient(t, s.ClientURL(), opts...); err == nil {
			t.Errorf("%s: connected", name)
		}
	}
	if n := msgs(t, st); n != 2 {
		t.Fatalf("%d events stored, want 2", n)
	}
}

// Without a CA, TLS encrypts and clients need no certificate.
func TestClientTLSWithoutClientCerts(t *testing.T) {
	ca := testcerts.NewCA(t, "hookd")
	cert, key := ca.Issue(t, "server")
	s, _ := startSecured(t, Security{TLS: TLSFiles{CertFile: cert, KeyFile: key}})
	c := mustConnect(t, s.ClientURL(), nats.RootCAs(ca.File))
	c.mustPublish(t, "events.over.tls")
	if _, err := Start(Config{StoreDir: t.TempDir(), Security: Security{TLS: TLSFiles{CAFile: ca.File}}}); !errors.Is(err, ErrTLS) {
		t.Fatalf("a CA alone: %v", err)
	}
}

// logRecords is a slog handler sending warnings and errors to a channel.
type logRecords chan string

func (l logRecords) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelWarn }
func (l logRecords) WithAttrs([]slog.Attr) slog.Handler            { return l }
func (l logRecords) WithGroup(string) slog.Handler                 { return l }
func (l logRecords) Handle(_ context.Context, r slog.Record) error {
	select {
	case l <- r.Message:
	default:
	}
	return nil
}

// A cluster with TLS routes and route authentication forms, replicates,
// and keeps out a node with the wrong password, a certificate from another
// CA, or no TLS.
func TestClusterTLSAndRouteAuth(t *testing.T) {
	ca := testcerts.NewCA(t, "cluster")
	ports := freePorts(t, 5)
	var routes []string
	for _, p := range ports[:3] {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	node := func(i int, sec Security, log *slog.Logger) Config {
		return Config{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", ServerName: fmt.Sprintf("n%d", i+1), ClusterName: "hookd-tls",
			ClusterListen: fmt.Sprintf("127.0.0.1:%d", ports[i]), Routes: routes, Security: sec, Logger: log}
	}
	secure := func(ca *testcerts.CA, name, password string) Security {
		cert, key := ca.Issue(t, name)
		return Security{ClusterTLS: TLSFiles{CertFile: cert, KeyFile: key, CAFile: ca.File}, ClusterUser: "route", ClusterPassword: password}
	}
	// Both sides of a refused route log why, at warning level or above.
	logs := make(logRecords, 1024)
	var servers []*Server
	for i := range 3 {
		s, err := Start(node(i, secure(ca, fmt.Sprintf("n%d", i+1), "route-secret"), slog.New(logs)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Shutdown)
		servers = append(servers, s)
	}
	waitPeers(t, servers, 3)
	nc, err := servers[0].Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	st, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "R3", Subjects: []string{"r3.>"}, Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	far, err := servers[2].Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer far.Close()
	fjs, _ := jetstream.New(far)
	if _, err := fjs.Publish(t.Context(), "r3.a", []byte("1")); err != nil {
		t.Fatalf("publish through another node: %v", err)
	}
	if info, err := st.Info(t.Context()); err != nil || info.State.Msgs != 1 || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("R3 stream: %+v, %v", info, err)
	}

	stranger := testcerts.NewCA(t, "stranger")
	for i, c := range []struct {
		name string
		sec  Security
		want string // what a refused attempt logs; "" for a node that joins
	}{
		{"wrong route password", secure(ca, "intruder", "wrong-secret"), "Authorization Violation"},
		{"certificate of another CA", secure(stranger, "intruder", "route-secret"), "TLS route handshake error"},
		{"no TLS", Security{ClusterUser: "route", ClusterPassword: "route-secret"}, "TLS route handshake error"},
		// The control: the same check sees a node that may join join.
		{"right credentials", secure(ca, "n4", "route-secret"), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			for len(logs) > 0 {
				<-logs
			}
			cfg := node(3+i%2, c.sec, slog.New(logs))
			cfg.ServerName = fmt.Sprintf("extra%d", i)
			s, err := Start(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Shutdown()
			if c.want == "" {
				deadline := time.Now().Add(20 * time.Second)
				for s.NATS().NumRoutes() == 0 {
					if time.Now().After(deadline) {
						t.Fatal("a node with the right credentials has no route after 20s")
					}
					time.Sleep(20 * time.Millisecond) // polling the server's routes
				}
				return
			}
			// Two refused attempts to reach the cluster, then: no route.
			failures := 0
			deadline := time.After(20 * time.Second)
			for failures < 2 {
				select {
				case msg := <-logs:
					if strings.Contains(msg, c.want) {
						failures++
					}
				case <-deadline:
					t.Fatalf("no refused route attempt (%q) logged in 20s", c.want)
				}
			}
			// A refused attempt's connection is counted until the node
			// reads the refusal: none may stay.
			settle := time.Now().Add(5 * time.Second)
			for s.NATS().NumRoutes() != 0 {
				if time.Now().After(settle) {
					t.Fatalf("the node has %d routes", s.NATS().NumRoutes())
				}
				time.Sleep(10 * time.Millisecond) // polling the server's routes
			}
			if peers := len(s.ClusterPeers()); peers != 0 {
				t.Fatalf("the node sees %d peers", peers)
			}
		})
	}
}
