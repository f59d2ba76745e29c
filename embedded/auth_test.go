package embedded

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"golang.org/x/crypto/bcrypt"

	"github.com/hookd/hookd/ops"
	"github.com/hookd/hookd/topology"
)

var testSubjects = ProducerSubjects{Events: topology.Names{}.EventsSubjects(), TenantEvents: topology.Names{}.TenantEventsSubjects(), ReservedTypes: ops.TypePrefix}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startSecured starts a server listening on 127.0.0.1 with sec, and an
// events stream made over the internal identity.
func startSecured(t *testing.T, sec Security) (*Server, jetstream.Stream) {
	t.Helper()
	s, err := Start(Config{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", ProducerSubjects: testSubjects, Security: sec, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	nc, err := s.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	st, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: topology.Names{}.EventsStream(),
		Subjects: []string{topology.Names{}.EventsSubjects(), topology.Names{}.TenantEventsSubjects()}})
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

// client is a connection whose asynchronous errors (permission
// violations) are collected.
type client struct {
	nc   *nats.Conn
	errs chan error
}

func connectClient(t *testing.T, url string, opts ...nats.Option) (*client, error) {
	t.Helper()
	c := &client{errs: make(chan error, 64)}
	opts = append([]nats.Option{nats.MaxReconnects(0), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case c.errs <- err:
		default:
		}
	})}, opts...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, err
	}
	t.Cleanup(nc.Close)
	c.nc = nc
	return c, nil
}

func mustConnect(t *testing.T, url string, opts ...nats.Option) *client {
	t.Helper()
	c, err := connectClient(t, url, opts...)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	return c
}

// publish is a JetStream publish; it returns the acknowledgement's error.
func (c *client) publish(t *testing.T, subject string) error {
	t.Helper()
	js, _ := jetstream.New(c.nc)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	_, err := js.Publish(ctx, subject, []byte(`{"x":1}`))
	return err
}

// violation waits for the server's permission violation on subject.
func (c *client) violation(t *testing.T, what, subject string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case err := <-c.errs:
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), what) && strings.Contains(err.Error(), `"`+subject+`"`) {
				return
			}
		case <-deadline:
			t.Fatalf("no permission violation for %s %q", what, subject)
		}
	}
}

// mustPublish requires an acknowledged publish; refused requires a
// publish refused by the server's permissions.
func (c *client) mustPublish(t *testing.T, subject string) {
	t.Helper()
	if err := c.publish(t, subject); err != nil {
		t.Fatalf("publish to %s: %v", subject, err)
	}
}

func (c *client) refused(t *testing.T, subject string) {
	t.Helper()
	js, _ := jetstream.New(c.nc)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := js.Publish(ctx, subject, []byte(`{"x":1}`))
		done <- err
	}()
	// The server drops the message and says so; the publish then can only
	// time out, so it is cut short.
	c.violation(t, "Publish", subject)
	cancel()
	if err := <-done; err == nil {
		t.Fatalf("publish to %s acknowledged", subject)
	}
}

func msgs(t *testing.T, st jetstream.Stream) uint64 {
	t.Helper()
	info, err := st.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// An anonymous client publishes events, any tenant's, and gets its
// acknowledgements, but not hookd's reserved types, nor anything else.
func TestAnonymousProducer(t *testing.T) {
	s, st := startSecured(t, Security{})
	anon := mustConnect(t, s.ClientURL())
	anon.mustPublish(t, "events.order.paid")
	anon.mustPublish(t, "tenants.acme.events.order.paid")
	for _, subj := range []string{"events.hookd.endpoint.disabled", "tenants.acme.events.hookd.delivery.exhausted", "hookd.deliver.x", "other"} {
		anon.refused(t, subj)
	}
	if n := msgs(t, st); n != 2 {
		t.Fatalf("%d events stored, want the 2 allowed", n)
	}
	// Only its own inbox.
	if _, err := anon.nc.SubscribeSync(">"); err != nil {
		t.Fatal(err)
	}
	anon.violation(t, "Subscription", ">")
	if _, err := anon.nc.SubscribeSync(InboxPrefix + ".>"); err != nil {
		t.Fatal(err)
	}
	anon.violation(t, "Subscription", InboxPrefix+".>")
}

func TestProducerIdentities(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("hashed-secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	nk, _ := nkeys.CreateUser()
	nkPub, _ := nk.PublicKey()
	other, _ := nkeys.CreateUser()
	s, st := startSecured(t, Security{NoAnonymous: true, Producers: []Producer{
		{Name: "plain", User: "plain", Password: "plain-secret"},
		{Name: "hashed", User: "hashed", Password: string(hash)},
		{Name: "tok", Token: "token-secret-1"},
		{Name: "nk", Nkey: nkPub},
		{Name: "acme", Token: "acme-token-1", Tenant: "acme"},
	}})
	url := s.ClientURL()
	for name, opt := range map[string]nats.Option{
		"user and password": nats.UserInfo("plain", "plain-secret"),
		"bcrypt password":   nats.UserInfo("hashed", "hashed-secret"),
		"token":             nats.Token("token-secret-1"),
		"nkey":              nats.Nkey(nkPub, nk.Sign),
	} {
		t.Run(name, func(t *testing.T) {
			c := mustConnect(t, url, opt)
			before := msgs(t, st)
			c.mustPublish(t, "events.order.paid")
			c.mustPublish(t, "tenants.globex.events.order.paid")
			c.refused(t, "events.hookd.delivery.exhausted")
			c.refused(t, "$JS.API.INFO")
			if n := msgs(t, st); n != before+2 {
				t.Fatalf("%d events stored, want %d", n, before+2)
			}
		})
	}
	t.Run("tenant", func(t *testing.T) {
		c := mustConnect(t, url, nats.Token("acme-token-1"))
		before := msgs(t, st)
		c.mustPublish(t, "tenants.acme.events.order.paid")
		c.refused(t, "tenants.globex.events.order.paid")
		c.refused(t, "events.order.paid")
		c.refused(t, "tenants.acme.events.hookd.endpoint.disabled")
		if n := msgs(t, st); n != before+1 {
			t.Fatalf("%d events stored, want %d", n, before+1)
		}
	})
	t.Run("refused", func(t *testing.T) {
		otherPub, _ := other.PublicKey()
		for name, opts := range map[string][]nats.Option{
			"anonymous":       nil,
			"wrong password":  {nats.UserInfo("plain", "wrong-secret")},
			"unknown user":    {nats.UserInfo("nobody", "plain-secret")},
			"bcrypt hash":     {nats.UserInfo("hashed", string(hash))},
			"wrong token":     {nats.Token("token-secret-2")},
			"unknown nkey":    {nats.Nkey(otherPub, other.Sign)},
			"forged nkey sig": {nats.Nkey(nkPub, other.Sign)},
		} {
			if _, err := connectClient(t, url, opts...); !errors.Is(err, nats.ErrAuthorization) {
				t.Errorf("%s: connect error %v, want an authorization violation", name, err)
			}
		}
	})
}

// hookd's in-process connection is the internal identity; a TCP client can
// be too, with its seed.
func TestInternalIdentity(t *testing.T) {
	seed, err := NewInternalKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(Config{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", InternalKey: seed, ProducerSubjects: testSubjects,
		Security: Security{NoAnonymous: true}, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	c := mustConnect(t, s.ClientURL(), s.InternalOptions()...)
	js, _ := jetstream.New(c.nc)
	if _, err := js.AccountInfo(t.Context()); err != nil {
		t.Fatalf("internal identity over TCP: %v", err)
	}
	kp, _ := nkeys.FromSeed(seed)
	pub, _ := kp.PublicKey()
	if _, err := connectClient(t, s.ClientURL(), nats.Nkey(pub, kp.Sign)); err != nil {
		t.Fatalf("the configured seed signs in: %v", err)
	}
	if got := c.nc.NewInbox(); !strings.HasPrefix(got, InboxPrefix+".") {
		t.Fatalf("inbox %s, want hookd's prefix", got)
	}
	if _, err := Start(Config{StoreDir: t.TempDir(), InternalKey: []byte("SUnot-a-seed")}); !errors.Is(err, ErrInternalKey) {
		t.Fatalf("bad seed: %v", err)
	}
}

func TestLoadOrCreateInternalKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "nats-internal.nk")
	seed, err := LoadOrCreateInternalKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v, %v: want mode 0600", fi, err)
	}
	again, err := LoadOrCreateInternalKey(path)
	if err != nil || string(again) != string(seed) {
		t.Fatalf("second load %q, %v: want the same seed", again, err)
	}
	if err := os.WriteFile(path, []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateInternalKey(path); !errors.Is(err, ErrInternalKey) || !strings.Contains(err.Error(), path) {
		t.Fatalf("garbage key: %v", err)
	}
}

func TestParseProducersErrors(t *testing.T) {
	nk, _ := nkeys.CreateUser()
	pub, _ := nk.PublicKey()
	seed, _ := nk.Seed()
	for _, c := range []struct{ doc, want string }{
		{`[]`, `want {"producers": [...]}`},
		{`{"producer": []}`, `unknown field "producer"`},
		{`{"producers": [{"name": "a", "token": "12345678", "tenat": "x"}]}`, `producers[0] ("a"): unknown field "tenat"`},
		{`{"producers": ["a"]}`, `producers[0]: must be an object`},
		{`{"producers": [{"name": "a", "token": 12345678}]}`, `producers[0] ("a"): token: must be a string`},
		{`{"producers": [{"token": "12345678"}]}`, `producers[0]: name: required`},
		{`{"producers": [{"name": "a b", "token": "12345678"}]}`, `producers[0] ("a b"): name: must be`},
		{`{"producers": [{"name": "a", "token": "12345678"}, {"name": "a", "token": "87654321"}]}`, `producers[1] ("a"): name: "a" is used by an earlier entry`},
		{`{"producers": [{"name": "a"}]}`, `producers[0] ("a"): needs exactly one credential`},
		{`{"producers": [{"name": "a", "user": "u", "token": "12345678"}]}`, `producers[0] ("a"): needs exactly one credential`},
		{`{"producers": [{"name": "a", "user": "u"}]}`, `producers[0] ("a"): password: required with user`},
		{`{"producers": [{"name": "a", "user": "u", "password": "short"}]}`, `producers[0] ("a"): password: must be at least 8`},
		{`{"producers": [{"name": "a", "user": "u", "password": "$2a$11$notahash"}]}`, `producers[0] ("a"): password: looks like a bcrypt hash`},
		{`{"producers": [{"name": "a", "user": "u", "password": "12345678"}, {"name": "b", "user": "u", "password": "12345678"}]}`, `producers[1] ("b"): user: "u" is used`},
		{`{"producers": [{"name": "a", "token": "12345678", "password": "12345678"}]}`, `producers[0] ("a"): password: needs a user`},
		{`{"producers": [{"name": "a", "token": "short"}]}`, `producers[0] ("a"): token: must be at least 8`},
		{`{"producers": [{"name": "a", "nkey": "` + string(seed) + `"}]}`, `producers[0] ("a"): nkey: is a seed`},
		{`{"producers": [{"name": "a", "nkey": "UNOTAKEY"}]}`, `producers[0] ("a"): nkey: "UNOTAKEY" is not a public user nkey`},
		{`{"producers": [{"name": "a", "nkey": "` + pub + `"}, {"name": "b", "nkey": "` + pub + `"}]}`, `producers[1] ("b"): nkey: is used`},
		{`{"producers": [{"name": "a", "token": "12345678", "tenant": "a.b"}]}`, `producers[0] ("a"): tenant: tenant id must be`},
	} {
		_, err := ParseProducers([]byte(c.doc))
		if !errors.Is(err, ErrInvalidProducer) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.doc, err, c.want)
		}
	}
	ps, err := ParseProducers([]byte(`{"producers": [{"name": "a", "nkey": "` + pub + `", "tenant": "acme"}, {"name": "b", "user": "u", "password": "12345678"}]}`))
	if err != nil || len(ps) != 2 || ps[0].Tenant != "acme" || ps[1].Password != "12345678" {
		t.Fatalf("valid document: %+v, %v", ps, err)
	}
}
