package app_test

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/embedded"
	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/internal/testcerts"
	"github.com/hookd/hookd/topology"
)

// What docs/nats.md says hookd's and producers' users need on a NATS of
// one's own; the test below runs hookd with exactly these.
var (
	hookdPublish   = []string{"events.>", "tenants.*.events.>", "hookd.>", "$JS.API.>", "$JS.ACK.>", "$JS.FC.>", "$KV.>"}
	hookdSubscribe = []string{"_HOOKD_INBOX.>", "hookd.wake.*"}

	producerPublish     = []string{"events.>", "tenants.*.events.>"}
	producerPublishDeny = []string{"events.hookd.>", "tenants.*.events.hookd.>"}
	producerSubscribe   = []string{"_INBOX.>"}
)

// operatorServer runs a nats-server in operator mode (JWT authentication,
// accounts in a memory resolver) with the accounts docs/nats.md describes:
// hookd's, with JetStream, exporting the event subjects, and the
// producers', importing them. It returns the server and a function writing
// a .creds file for a new user (of the producers' account when producer
// is set) with the given permissions.
func operatorServer(t *testing.T) (*server.Server, func(name string, producer bool, pub, deny, sub []string) string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	op, _ := nkeys.CreateOperator()
	opPub, _ := op.PublicKey()
	opClaims := jwt.NewOperatorClaims(opPub)
	resolver := &server.MemAccResolver{}
	account := func(edit func(*jwt.AccountClaims)) (nkeys.KeyPair, string) {
		kp, _ := nkeys.CreateAccount()
		pub, _ := kp.PublicKey()
		c := jwt.NewAccountClaims(pub)
		edit(c)
		enc, err := c.Encode(op)
		must(err)
		must(resolver.Store(pub, enc))
		return kp, pub
	}
	_, sysPub := account(func(*jwt.AccountClaims) {})
	hookdAcc, hookdPub := account(func(c *jwt.AccountClaims) {
		c.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
		for _, subj := range producerPublish {
			c.Exports.Add(&jwt.Export{Subject: jwt.Subject(subj), Type: jwt.Service})
		}
	})
	producersAcc, _ := account(func(c *jwt.AccountClaims) {
		for _, subj := range producerPublish {
			c.Imports.Add(&jwt.Import{Account: hookdPub, Subject: jwt.Subject(subj), Type: jwt.Service})
		}
	})
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true,
		TrustedOperators: []*jwt.OperatorClaims{opClaims}, SystemAccount: sysPub, AccountResolver: resolver})
	must(err)
	s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("operator-mode server not ready")
	}
	dir := t.TempDir()
	creds := func(name string, producer bool, pub, deny, sub []string) string {
		u, _ := nkeys.CreateUser()
		upub, _ := u.PublicKey()
		useed, _ := u.Seed()
		c := jwt.NewUserClaims(upub)
		c.Name = name
		c.Pub.Allow.Add(pub...)
		c.Pub.Deny.Add(deny...)
		c.Sub.Allow.Add(sub...)
		acc := hookdAcc
		if producer {
			acc = producersAcc
		}
		enc, err := c.Encode(acc)
		must(err)
		file, err := jwt.FormatUserConfig(enc, useed)
		must(err)
		path := filepath.Join(dir, name+".creds")
		must(os.WriteFile(path, file, 0o600))
		return path
	}
	return s, creds
}

// hookd with --nats signs in with a credentials file to a server that
// requires one, with no more permissions than docs/nats.md lists, and
// delivers events from the API and from a producer with the producer
// permissions the docs give.
func TestNATSRoleWithCredsFile(t *testing.T) {
	s, creds := operatorServer(t)
	hookdCreds := creds("hookd", false, hookdPublish, nil, hookdSubscribe)
	producerCreds := creds("producer", true, producerPublish, producerPublishDeny, producerSubscribe)

	if _, err := nats.Connect(s.ClientURL()); err == nil {
		t.Fatal("the server lets anonymous clients in: it tests nothing")
	}
	cfg := app.Config{NATSURLs: s.ClientURL(), NATSClient: app.NATSClient{CredsFile: hookdCreds}}
	api := cfg
	api.NoRouter, api.NoWorker = true, true
	h := hookdtest.Start(t, api)
	roles := cfg
	roles.HTTPAddr = "127.0.0.1:0" // hookdtest needs one; this process serves the router and worker
	hookdtest.Start(t, roles)

	rc := hookdtest.NewReceiver(t)
	rcOps := hookdtest.NewReceiver(t)
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "events": []string{"order.*"}})
	h.CreateEndpoint(t, map[string]any{"url": rcOps.URL, "events": []string{"hookd.>"}})
	h.PublishEvent(t, "order.paid", map[string]int{"total": 1})
	p := mustDialNATS(t, s.ClientURL(), nats.UserCredentials(producerCreds))
	if _, err := p.js.Publish(t.Context(), "events.order.shipped", []byte(`{"total":2}`)); err != nil {
		t.Fatalf("producer: %v", err)
	}
	p.refusedRequest(t, "events.hookd.endpoint.disabled", []byte(`{}`))
	hookdtest.WaitFor(t, 20*time.Second, "both events delivered", func() bool { return rc.Count() == 2 })
	if rcOps.Count() != 0 {
		t.Fatalf("the forged operational event was delivered")
	}

	// In its own account, a producer's reply subject cannot make JetStream
	// write into hookd's buckets: a probe in hookd's account sees no
	// acknowledgement on the target before its own, sent after.
	probe, err := nats.Connect(s.ClientURL(), nats.UserCredentials(creds("probe", false, nil, nil, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	got := make(chan *nats.Msg, 16)
	target := "$KV." + topology.Names{}.EndpointsBucket() + "." + ep.ID
	for _, subj := range []string{target, "probe.marker"} {
		if _, err := probe.ChanSubscribe(subj, got); err != nil {
			t.Fatal(err)
		}
	}
	if err := probe.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := p.nc.PublishRequest("events.order.shipped", target, []byte(`{"total":3}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.js.Publish(t.Context(), "events.order.shipped", []byte(`{"total":4}`)); err != nil {
		t.Fatal(err)
	}
	if err := probe.PublishRequest("events.order.shipped", "probe.marker", []byte(`{"total":5}`)); err != nil {
		t.Fatal(err)
	}
	for m := range got {
		if m.Subject == "probe.marker" {
			break
		}
		if strings.Contains(string(m.Data), `"stream":"`+topology.Names{}.EventsStream()+`"`) {
			t.Fatalf("the producer's acknowledgement reached %s", m.Subject)
		}
	}
	if status, out := h.Do(t, http.MethodGet, "/v1/endpoints/"+ep.ID, nil); status != http.StatusOK || !strings.Contains(string(out), rc.URL) {
		t.Fatalf("endpoint: %d %s", status, out)
	}
}

func TestNATSClientErrors(t *testing.T) {
	s, creds := operatorServer(t)
	producerCreds := creds("producer", true, producerPublish, producerPublishDeny, producerSubscribe)
	for name, c := range map[string]struct {
		client app.NATSClient
		want   string
	}{
		"two credentials":   {app.NATSClient{CredsFile: producerCreds, Token: "x"}, "give one credential"},
		"password, no user": {app.NATSClient{Password: "x"}, "a password needs a user"},
		"cert without key":  {app.NATSClient{CertFile: "c.pem"}, "needs its key"},
		"wildcard inbox":    {app.NATSClient{InboxPrefix: "_X.>"}, "without wildcards"},
		"no such nkey file": {app.NATSClient{NkeyFile: filepath.Join(t.TempDir(), "none.nk")}, "none.nk"},
		"not a seed":        {app.NATSClient{NkeySeed: "SUnot"}, "nkey seed"},
		"no such creds":     {app.NATSClient{CredsFile: filepath.Join(t.TempDir(), "none.creds")}, "none.creds"},
		// A user without the JetStream API cannot create hookd's streams.
		"too few permissions": {app.NATSClient{CredsFile: producerCreds}, "Permissions Violation"},
	} {
		_, err := app.New(t.Context(), app.Config{NATSURLs: s.ClientURL(), NATSClient: c.client, NoRouter: true, NoWorker: true,
			HTTPAddr: "127.0.0.1:0", Logger: hookdtest.Logger()})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
		if strings.HasPrefix(name, "two") && !errors.Is(err, app.ErrNATSClient) {
			t.Errorf("%s: %v is not ErrNATSClient", name, err)
		}
	}
}

// hookd with --nats presents a TLS client certificate to a server that
// requires one, and trusts the server's CA; without the certificate it
// cannot connect.
func TestNATSRoleWithTLSClientCert(t *testing.T) {
	ca := testcerts.NewCA(t, "hookd")
	cert, key := ca.Issue(t, "nats")
	clientCert, clientKey := ca.Issue(t, "hookd")
	ns := hookdtest.StartNATS(t, embedded.Config{Security: embedded.Security{TLS: embedded.TLSFiles{CertFile: cert, KeyFile: key, CAFile: ca.File}}})
	cfg := ns.Config(app.Config{})
	cfg.NATSClient.CAFile = ca.File
	if _, err := app.New(t.Context(), cfg); err == nil {
		t.Fatal("connected without a client certificate")
	}
	cfg.NATSClient.CertFile, cfg.NATSClient.KeyFile = clientCert, clientKey
	h := hookdtest.Start(t, cfg)
	rc := hookdtest.NewReceiver(t)
	h.CreateEndpoint(t, map[string]any{"url": rc.URL})
	h.PublishEvent(t, "order.paid", map[string]int{"total": 1})
	hookdtest.WaitFor(t, 10*time.Second, "delivered", func() bool { return rc.Count() == 1 })
}
