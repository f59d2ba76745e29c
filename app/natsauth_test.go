package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/apikey"
	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/embedded"
	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/internal/testcerts"
	"github.com/hookd/hookd/topology"
)

// natsClient is a connection to hookd's NATS port whose asynchronous
// errors (the server's permission violations) are collected.
type natsClient struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	errs chan error
}

func dialNATS(t *testing.T, url string, opts ...nats.Option) (*natsClient, error) {
	t.Helper()
	c := &natsClient{errs: make(chan error, 256)}
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
	c.js, _ = jetstream.New(nc)
	return c, nil
}

func mustDialNATS(t *testing.T, url string, opts ...nats.Option) *natsClient {
	t.Helper()
	c, err := dialNATS(t, url, opts...)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	return c
}

// violation waits for the server to refuse what ("Publish" or
// "Subscription") on subject, and fails the test when it does not.
func (c *natsClient) violation(t *testing.T, what, subject string) {
	t.Helper()
	if !c.refusal(t, what, subject, nil) {
		t.Errorf("no permission violation for %s %q", what, subject)
	}
}

// refusal waits up to 10s for the server to refuse what on subject, or for
// answered to yield (a refused request cannot be answered).
func (c *natsClient) refusal(t *testing.T, what, subject string, answered <-chan *nats.Msg) bool {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case err := <-c.errs:
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), what) &&
				strings.Contains(err.Error(), `"`+subject+`"`) {
				return true
			}
		case m, ok := <-answered:
			if !ok { // no answer (timed out, or no responders): keep waiting for the refusal
				answered = nil
				continue
			}
			t.Errorf("%s %s: answered: %.200s", what, subject, m.Data)
			return false
		case <-deadline:
			return false
		}
	}
}

// refusedRequest sends a request the server must refuse: it is dropped
// with a permission violation, so no reply can come.
func (c *natsClient) refusedRequest(t *testing.T, subject string, body []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	answered := make(chan *nats.Msg, 1)
	go func() {
		if msg, err := c.nc.RequestWithContext(ctx, subject, body); err == nil {
			answered <- msg
		}
		close(answered)
	}()
	if !c.refusal(t, "Publish", subject, answered) {
		t.Errorf("request to %s: not refused", subject)
		return
	}
	cancel()
	if m, ok := <-answered; ok {
		t.Errorf("request to %s: refused, yet answered: %.200s", subject, m.Data)
	}
}

func storedMsgs(t *testing.T, h *hookdtest.Hookd, name string) uint64 {
	t.Helper()
	s, err := h.App.JetStream().Stream(t.Context(), name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// Every way an anonymous client on the NATS port took control of hookd is
// refused, and nothing changed: the JetStream API, reading the streams,
// purging events, deleting the endpoints bucket, minting an admin API key.
func TestAnonymousNATSClientControlsNothing(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NATSListen: "127.0.0.1:0"})
	rc := hookdtest.NewReceiver(t)
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "events": []string{"order.*"}})
	h.PublishEvent(t, "order.paid", map[string]any{"card": "4242"})
	hookdtest.WaitFor(t, 10*time.Second, "first delivery", func() bool { return rc.Count() == 1 })
	h.WaitIdle(t, ep.ID)
	events, attempts := storedMsgs(t, h, topology.Names{}.EventsStream()), storedMsgs(t, h, topology.Names{}.LogStream())

	anon := mustDialNATS(t, h.App.NATSURL())
	kvStream := "KV_" + topology.Names{}.EndpointsBucket()
	for _, r := range []struct{ subject, body string }{
		{"$JS.API.STREAM.NAMES", ""},
		{"$JS.API.INFO", ""},
		{"$JS.API.STREAM.INFO." + topology.Names{}.EventsStream(), ""},
		{"$JS.API.STREAM.INFO." + topology.Names{}.LogStream(), ""},
		{"$JS.API.STREAM.INFO." + kvStream, ""},
		{"$JS.API.STREAM.MSG.GET." + topology.Names{}.EventsStream(), `{"seq":1}`},
		{"$JS.API.STREAM.MSG.GET." + topology.Names{}.LogStream(), `{"seq":1}`},
		{"$JS.API.STREAM.MSG.GET." + kvStream, `{"last_by_subj":"$KV.` + topology.Names{}.EndpointsBucket() + `.` + ep.ID + `"}`},
		{"$JS.API.DIRECT.GET." + kvStream + ".$KV." + topology.Names{}.EndpointsBucket() + "." + ep.ID, ""},
		{"$JS.API.STREAM.PURGE." + topology.Names{}.EventsStream(), ""},
		{"$JS.API.STREAM.DELETE." + kvStream, ""},
		{"$JS.API.CONSUMER.CREATE." + topology.Names{}.EventsStream(), `{"stream_name":"` + topology.Names{}.EventsStream() + `","config":{"ack_policy":"none"}}`},
	} {
		anon.refusedRequest(t, r.subject, []byte(r.body))
	}

	// `nats kv put hookd_keys key_<hash prefix> '{"scope":"admin",...}'`
	// minted a working admin key.
	minted := "hk_minted_by_an_anonymous_client_000"
	hash := apikey.Hash(minted)
	record, _ := json.Marshal(apikey.Key{ID: "key_" + hash[:20], Name: "minted", Scope: apikey.ScopeAdmin, Hash: hash, CreatedAt: time.Now()})
	kvSubject := "$KV." + topology.Names{}.KeysBucket() + ".key_" + hash[:20]
	if err := anon.nc.Publish(kvSubject, record); err != nil {
		t.Fatal(err)
	}
	anon.violation(t, "Publish", kvSubject)
	anon.refusedRequest(t, kvSubject, record) // as `nats kv put` does it, expecting an acknowledgement

	// Nothing changed.
	if n := storedMsgs(t, h, topology.Names{}.EventsStream()); n != events {
		t.Errorf("events stream holds %d events, had %d", n, events)
	}
	if n := storedMsgs(t, h, topology.Names{}.LogStream()); n < attempts {
		t.Errorf("log stream holds %d records, had %d", n, attempts)
	}
	if status, out := h.Do(t, http.MethodGet, "/v1/endpoints/"+ep.ID, nil); status != http.StatusOK {
		t.Errorf("endpoint after the attempts: %d %s", status, out)
	}
	req, _ := http.NewRequest(http.MethodGet, h.URL+"/v1/endpoints", nil)
	req.Header.Set("Authorization", "Bearer "+minted)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the minted key: %d, want 401", resp.StatusCode)
	}

}

// `nats sub '>'` is refused; `nats sub '_INBOX.>'`, which a producer
// needs for its acknowledgements, gets only its own, never hookd's replies
// (endpoint records read from the bucket, JetStream API answers, pulled
// deliveries, ordered consumers' messages), while hookd reads the bucket,
// delivers and reads its logs.
func TestAnonymousNATSClientSeesNothing(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NATSListen: "127.0.0.1:0"})
	rc := hookdtest.NewReceiver(t)
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "events": []string{"order.*"}})
	anon := mustDialNATS(t, h.App.NATSURL())
	all, err := anon.nc.SubscribeSync(">")
	if err != nil {
		t.Fatal(err)
	}
	anon.violation(t, "Subscription", ">")
	inbox, err := anon.nc.SubscribeSync(nats.InboxPrefix + ">")
	if err != nil {
		t.Fatal(err)
	}
	if err := anon.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	ep2 := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "events": []string{"order.*"}})
	for _, id := range []string{ep.ID, ep2.ID} {
		if status, out := h.Do(t, http.MethodGet, "/v1/endpoints/"+id, nil); status != http.StatusOK {
			t.Fatalf("get endpoint: %d %s", status, out)
		}
	}
	h.PublishEvent(t, "order.paid", map[string]any{"card": "4343"})
	hookdtest.WaitFor(t, 10*time.Second, "deliveries to both endpoints", func() bool { return rc.Count() == 2 })
	h.WaitIdle(t, ep.ID, ep2.ID)
	// Reads through ordered consumers: the delivery log and the history.
	if status, out := h.Do(t, http.MethodGet, "/v1/endpoints/"+ep.ID+"/deliveries", nil); status != http.StatusOK || !strings.Contains(string(out), `"status":"succeeded"`) {
		t.Fatalf("deliveries: %d %s", status, out)
	}
	since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	if status, out := h.Do(t, http.MethodPost, "/v1/rules/test", map[string]any{"events": []string{"order.*"}, "since": since}); status != http.StatusOK || !strings.Contains(string(out), `"matched":1`) {
		t.Fatalf("rule test over history: %d %s", status, out)
	}
	// The control: this client's own acknowledgement reaches the same
	// subscription.
	if _, err := anon.js.Publish(t.Context(), "events.order.paid", []byte(`{"card":"4444"}`)); err != nil {
		t.Fatalf("anonymous publish: %v", err)
	}
	if err := anon.nc.Flush(); err != nil { // everything sent to this client before now has arrived
		t.Fatal(err)
	}
	var got []string
	for {
		m, err := inbox.NextMsg(0)
		if err != nil {
			break
		}
		got = append(got, m.Subject+" "+string(m.Data))
	}
	if len(got) != 1 || !strings.Contains(got[0], `"stream":"`+topology.Names{}.EventsStream()+`"`) {
		t.Errorf("_INBOX.> received %d messages, want only this client's acknowledgement:\n%s", len(got), strings.Join(got, "\n"))
	}
	if n, _, _ := all.Pending(); n != 0 {
		t.Errorf("'>' received %d messages", n)
	}
}

// The README's producer commands work with authentication on, without
// credentials: `nats pub events.<type>` and `nats pub -J`, also addressed
// to a tenant; hookd's own event types are refused and nothing is stored.
// A producer identity bound to a tenant publishes to its tenant only.
func TestProducersOverNATS(t *testing.T) {
	cfg := app.Config{NATSListen: "127.0.0.1:0"}
	cfg.NATSSecurity.Producers = []embedded.Producer{{Name: "acme", User: "acme", Password: "acme-secret", Tenant: "acme"}}
	h := hookdtest.Start(t, cfg)
	createTenant(t, h, `{"id":"acme"}`)
	createTenant(t, h, `{"id":"globex"}`)
	rc := hookdtest.NewReceiver(t)
	rcAcme := hookdtest.NewReceiver(t)
	rcGlobex := hookdtest.NewReceiver(t)
	rcOps := hookdtest.NewReceiver(t)
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "events": []string{"order.paid"}})
	acme := h.CreateEndpoint(t, map[string]any{"url": rcAcme.URL, "tenant": "acme", "events": []string{"order.paid"}})
	globex := h.CreateEndpoint(t, map[string]any{"url": rcGlobex.URL, "tenant": "globex", "events": []string{"order.paid"}})
	ops := h.CreateEndpoint(t, map[string]any{"url": rcOps.URL, "events": []string{"hookd.>"}})

	anon := mustDialNATS(t, h.App.NATSURL())
	for _, subject := range []string{"events.order.paid", "tenants.acme.events.order.paid"} {
		ack, err := anon.js.Publish(t.Context(), subject, []byte(`{"total":42}`))
		if err != nil || ack.Stream != (topology.Names{}).EventsStream() {
			t.Fatalf("anonymous publish to %s: %+v, %v", subject, ack, err)
		}
	}
	if err := anon.nc.Publish("events.order.paid", []byte(`{"total":43}`)); err != nil { // nats pub, without -J
		t.Fatal(err)
	}
	hookdtest.WaitFor(t, 10*time.Second, "deliveries", func() bool { return rc.Count() == 2 && rcAcme.Count() == 1 })

	stored := storedMsgs(t, h, topology.Names{}.EventsStream())
	for _, subject := range []string{"events.hookd.endpoint.disabled", "tenants.acme.events.hookd.delivery.exhausted"} {
		anon.refusedRequest(t, subject, []byte(`{"endpoint_id":"`+ep.ID+`"}`))
	}

	producer := mustDialNATS(t, h.App.NATSURL(), nats.UserInfo("acme", "acme-secret"))
	if _, err := producer.js.Publish(t.Context(), "tenants.acme.events.order.paid", []byte(`{"total":44}`)); err != nil {
		t.Fatalf("acme's producer to its tenant: %v", err)
	}
	hookdtest.WaitFor(t, 10*time.Second, "acme's producer's event delivered", func() bool { return rcAcme.Count() == 2 })
	for _, subject := range []string{"tenants.globex.events.order.paid", "events.order.paid", "tenants.acme.events.hookd.endpoint.disabled"} {
		producer.refusedRequest(t, subject, []byte(`{"total":45}`))
	}
	if _, err := dialNATS(t, h.App.NATSURL(), nats.UserInfo("acme", "wrong-secret")); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("wrong password: %v", err)
	}

	if n := storedMsgs(t, h, topology.Names{}.EventsStream()); n != stored+1 {
		t.Fatalf("events stream holds %d events, want %d: a refused publish was stored", n, stored+1)
	}
	h.WaitIdle(t, ep.ID, acme.ID, globex.ID, ops.ID)
	if rc.Count() != 2 || rcGlobex.Count() != 0 || rcOps.Count() != 0 {
		t.Fatalf("deliveries: default %d, globex %d, hookd.> %d; want 2, 0, 0", rc.Count(), rcGlobex.Count(), rcOps.Count())
	}
}

// With anonymous producers refused, a client without credentials cannot
// connect, and one with them can.
func TestAnonymousProducersRefused(t *testing.T) {
	cfg := app.Config{NATSListen: "127.0.0.1:0"}
	cfg.NATSSecurity.NoAnonymous = true
	cfg.NATSSecurity.Producers = []embedded.Producer{{Name: "ci", Token: "ci-token-0123"}}
	h := hookdtest.Start(t, cfg)
	rc := hookdtest.NewReceiver(t)
	h.CreateEndpoint(t, map[string]any{"url": rc.URL})
	if _, err := dialNATS(t, h.App.NATSURL()); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("anonymous connection: %v, want an authorization violation", err)
	}
	c := mustDialNATS(t, h.App.NATSURL(), nats.Token("ci-token-0123"))
	if _, err := c.js.Publish(t.Context(), "events.build.done", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	hookdtest.WaitFor(t, 10*time.Second, "delivery", func() bool { return rc.Count() == 1 })
}

// Ports reachable from other machines without TLS or route authentication
// are called out in the logs.
func TestInsecureNATSWarnings(t *testing.T) {
	ca := testcerts.NewCA(t, "hookd")
	cert, key := ca.Issue(t, "nats")
	for _, c := range []struct {
		listen string
		sec    embedded.Security
		want   bool
	}{
		{"127.0.0.1:0", embedded.Security{}, false},
		{"0.0.0.0:0", embedded.Security{}, true},
		{"0.0.0.0:0", embedded.Security{TLS: embedded.TLSFiles{CertFile: cert, KeyFile: key}}, false},
	} {
		var logs syncBuffer
		cfg := app.Config{NATSListen: c.listen, NATSSecurity: c.sec, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
		hookdtest.Start(t, cfg)
		if got := strings.Contains(logs.String(), "beyond loopback without TLS"); got != c.want {
			t.Errorf("%s: warned %v, want %v", c.listen, got, c.want)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// JetStream sends a publish's acknowledgement to whatever reply subject
// the publisher chose: a producer choosing hookd's subjects had the
// acknowledgement overwrite an endpoint record ("$KV.hookd_endpoints.<id>"),
// land in an endpoint's deliveries or become a hookd.* event. Producers
// live in an account of their own, where their replies stay.
func TestProducerReplySubjectsStayInTheirAccount(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NATSListen: "127.0.0.1:0"})
	rc := hookdtest.NewReceiver(t)
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "events": []string{"order.*"}})
	targets := []string{"$KV." + topology.Names{}.EndpointsBucket() + "." + ep.ID, topology.Names{}.HeldSubject(ep.ID),
		"events.hookd.endpoint.disabled", "$JS.API.STREAM.PURGE." + topology.Names{}.EventsStream()}

	// hookd's side: a subscription to every target, which also receives a
	// marker acknowledgement sent after the producer's.
	probe, err := nats.Connect(h.App.NATSURL(), h.App.NATSOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	got := make(chan *nats.Msg, 64)
	for _, subj := range append(targets, "hookd.probe.marker") {
		if _, err := probe.ChanSubscribe(subj, got); err != nil {
			t.Fatal(err)
		}
	}
	if err := probe.Flush(); err != nil {
		t.Fatal(err)
	}

	anon := mustDialNATS(t, h.App.NATSURL())
	for _, reply := range targets {
		if err := anon.nc.PublishRequest("events.order.paid", reply, []byte(`{"injected":true}`)); err != nil {
			t.Fatal(err)
		}
	}
	// Stored in order: once this is acknowledged, so are the above.
	if _, err := anon.js.Publish(t.Context(), "events.order.paid", []byte(`{"last":true}`)); err != nil {
		t.Fatal(err)
	}
	// The stream acknowledges in order too: the marker's acknowledgement
	// reaches the probe after any sent to the targets.
	if err := probe.PublishRequest("events.order.paid", "hookd.probe.marker", []byte(`{"marker":true}`)); err != nil {
		t.Fatal(err)
	}
	var leaked []string
	for m := range got {
		if m.Subject == "hookd.probe.marker" {
			break
		}
		if strings.Contains(string(m.Data), `"stream":"`+topology.Names{}.EventsStream()+`"`) {
			leaked = append(leaked, m.Subject)
		}
	}
	if len(leaked) > 0 {
		t.Errorf("the producer's acknowledgements reached %v", leaked)
	}
	if status, out := h.Do(t, http.MethodGet, "/v1/endpoints/"+ep.ID, nil); status != http.StatusOK || !strings.Contains(string(out), rc.URL) {
		t.Errorf("endpoint after the attempt: %d %s", status, out)
	}
	hookdtest.WaitFor(t, 10*time.Second, "every event delivered", func() bool { return rc.Count() == 6 })
	for _, r := range rc.Requests() {
		if !strings.Contains(string(r.Body), `"injected":true`) && !strings.Contains(string(r.Body), `"last":true`) && !strings.Contains(string(r.Body), `"marker":true`) {
			t.Errorf("delivered %s", r.Body)
		}
	}
	// The events keep only the producer's headers.
	for _, m := range hookdtest.Messages(t, h.App.JetStream(), topology.Names{}.EventsStream(), "events.order.paid") {
		for k := range m.Header {
			if k != "Nats-Msg-Id" {
				t.Errorf("stored event has header %s: %v", k, m.Header)
			}
		}
	}
}
