package app_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/embedded"
	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/internal/natstest"
	"github.com/hookd/hookd/topology"
)

// freeAddr returns a 127.0.0.1 address free right now, for a listener
// whose address the test must know before New returns.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// A three-node JetStream cluster loses two nodes (no quorum). A hookd
// process running against the remaining node keeps running and answers
// /readyz 503; one started meanwhile waits, answering /healthz 200 and
// /readyz 503 "starting: ..." (it exited at once, and a restarted node
// exited 10 s later with "endpoints: watch: nats: JetStream system
// temporarily unavailable"). Once the nodes are back on their data, both
// become ready by themselves, and each delivers an event published
// afterwards to a real receiver.
func TestNoQuorumProcessesWaitAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test: -short")
	}
	seed, err := embedded.NewInternalKey()
	if err != nil {
		t.Fatal(err)
	}
	cl := natstest.StartCluster(t, 3, embedded.Config{InternalKey: seed, ProducerSubjects: app.ProducerSubjects(topology.Names{}),
		Logger: hookdtest.Logger()})
	config := func() app.Config {
		c := fastConfig()
		c.NATSURLs, c.NATSClient = cl.Server(0).ClientURL(), app.NATSClient{NkeySeed: string(seed)}
		c.Topology.Replicas = 3
		return c
	}
	running := hookdtest.Start(t, config())
	rc := hookdtest.NewReceiver(t)
	running.CreateEndpoint(t, map[string]any{"url": rc.URL, "events": []string{"order.*"}})
	running.PublishEvent(t, "order.paid", map[string]int{"i": 0})
	hookdtest.WaitFor(t, 30*time.Second, "first event delivered", func() bool { return rc.Count() == 1 })

	cl.Stop(1)
	cl.Stop(2)
	hookdtest.WaitFor(t, 60*time.Second, "the running process not ready without quorum", func() bool {
		return notReady(probe(t, running.URL+"/readyz")) != ""
	})

	// A process started now: its API address is chosen here, since New
	// does not return until the cluster answers.
	cfg := config()
	cfg.HTTPAddr, cfg.Logger, cfg.AdminKey, cfg.APIKeyRateLimit = freeAddr(t), hookdtest.Logger(), hookdtest.AdminKey, -1
	cfg.Worker.AllowNets = hookdtest.Loopback
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var started atomic.Pointer[app.App]
	var startErr atomic.Pointer[error]
	go func() {
		a, err := app.New(ctx, cfg)
		if err != nil {
			startErr.Store(&err)
			return
		}
		started.Store(a)
	}()
	base := "http://" + cfg.HTTPAddr
	var msg string
	hookdtest.WaitFor(t, 60*time.Second, "/readyz of the process starting saying what it waits for", func() bool {
		msg = notReady(probe(t, base+"/readyz"))
		return strings.Contains(msg, "retrying") || (msg != "" && started.Load() != nil)
	})
	t.Logf("starting without quorum: /readyz 503 %q", msg)
	if status, _ := probe(t, base+"/healthz"); status != http.StatusOK {
		t.Errorf("/healthz of the process starting: %d, want 200", status)
	}
	if started.Load() == nil && !strings.Contains(msg, "starting") {
		t.Errorf("/readyz while New waits says %q, want what the start waits for", msg)
	}
	hookdtest.Never(t, 12*time.Second, "a process exited without quorum", func() bool {
		return !running.Running() || startErr.Load() != nil
	})
	if msg := notReady(probe(t, running.URL+"/readyz")); msg == "" {
		t.Error("the running process ready without quorum")
	} else {
		t.Logf("running without quorum: /readyz 503 %q", msg)
	}

	cl.Restart(1)
	cl.Restart(2)
	cl.WaitFormed(60 * time.Second)
	hookdtest.WaitFor(t, 90*time.Second, "the process starting started", func() bool {
		if errp := startErr.Load(); errp != nil {
			t.Fatalf("start: %v", *errp)
		}
		return started.Load() != nil
	})
	joined := hookdtest.Run(t, started.Load())
	for _, h := range []*hookdtest.Hookd{running, joined} {
		hookdtest.WaitFor(t, 60*time.Second, h.URL+"/readyz 200 once quorum is back", func() bool {
			status, _ := probe(t, h.URL+"/readyz")
			return status == http.StatusOK
		})
	}
	running.PublishEvent(t, "order.paid", map[string]int{"i": 1})
	hookdtest.WaitFor(t, 30*time.Second, "an event published after the return delivered", func() bool { return rc.Count() == 2 })
	// Only the process that started without quorum runs now: it routes
	// and delivers by itself.
	running.Stop(t)
	joined.PublishEvent(t, "order.paid", map[string]int{"i": 2})
	hookdtest.WaitFor(t, 30*time.Second, "an event delivered by the process started without quorum", func() bool { return rc.Count() == 3 })
	if n := len(rc.CountByID()); n != 3 {
		t.Errorf("%d distinct events delivered, want 3", n)
	}
}
