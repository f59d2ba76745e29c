package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/embedded"
	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/topology"
)

// startSharedNATS runs a nats-server of its own, as an existing deployment
// that hookd processes join with --nats, and a client connection to it.
func startSharedNATS(t *testing.T) (shared *hookdtest.NATS, nc *nats.Conn, js jetstream.JetStream) {
	t.Helper()
	shared = hookdtest.StartNATS(t, embedded.Config{})
	// The other application holds the account's full permissions, as
	// hookd's identity does.
	nc, err := nats.Connect(shared.ClientURL(), shared.InternalOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err = jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return shared, nc, js
}

// subjectLog records the subject of every message published on the
// account, as a `nats sub '>'` would.
type subjectLog struct {
	mu       sync.Mutex
	subjects map[string]int
}

func watchSubjects(t *testing.T, nc *nats.Conn) *subjectLog {
	t.Helper()
	l := &subjectLog{subjects: map[string]int{}}
	sub, err := nc.Subscribe(">", func(m *nats.Msg) {
		l.mu.Lock()
		l.subjects[m.Subject]++
		l.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = sub.SetPendingLimits(-1, -1) // a dropped message would hide a leak
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return l
}

func (l *subjectLog) all() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.subjects))
	for k, v := range l.subjects {
		out[k] = v
	}
	return out
}

// unprefixedLeak reports whether subject uses one of hookd's unprefixed
// names: a subject of its own, or a JetStream API, ack or KV subject that
// names one of its unprefixed streams or buckets.
func unprefixedLeak(subject string) bool {
	for _, p := range []string{"events.", "tenants.", "hookd."} {
		if strings.HasPrefix(subject, p) {
			return true
		}
	}
	for _, tok := range strings.Split(subject, ".") {
		for _, p := range []string{"HOOKD_", "hookd_", "KV_hookd_"} {
			if strings.HasPrefix(tok, p) {
				return true
			}
		}
	}
	return false
}

// eventN is the "n" of a delivery's data.
func eventN(t *testing.T, r hookdtest.Request) (string, int) {
	t.Helper()
	var env struct {
		Type string `json:"type"`
		Data struct {
			N int `json:"n"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.Body, &env); err != nil {
		t.Fatalf("delivery body %s: %v", r.Body, err)
	}
	return env.Type, env.Data.N
}

// hookd can share a NATS account with an application that already has a
// stream on "events.>": without a prefix it cannot start (and says why),
// with one it runs beside it. Events published under the prefix (over NATS,
// to a tenant's subject, and through the API) are delivered; one published
// to the plain "events.<type>" stays in the other application's stream,
// which hookd leaves exactly as it was; and nothing hookd publishes uses an
// unprefixed name.
func TestPrefixSharesAccountWithForeignEventsStream(t *testing.T) {
	shared, nc, js := startSharedNATS(t)
	ctx := context.Background()
	foreign, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"events.>"}, Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{`{"order":1}`, `{"order":2}`} {
		if _, err := js.Publish(ctx, "events.order.created", []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	foreignBefore, err := foreign.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Without a prefix hookd's events stream would capture events.> too.
	_, err = app.New(ctx, shared.Config(app.Config{HTTPAddr: "127.0.0.1:0", AdminKey: hookdtest.AdminKey, Logger: hookdtest.Logger()}))
	if !errors.Is(err, topology.ErrSubjectsTaken) || !strings.Contains(err.Error(), "HOOKD_EVENTS") || !strings.Contains(err.Error(), "--prefix") {
		t.Fatalf("hookd without a prefix beside a stream on events.>: %v, want ErrSubjectsTaken naming HOOKD_EVENTS and --prefix", err)
	}
	t.Logf("without a prefix: %v", err)

	subjects := watchSubjects(t, nc)
	cfg := fastConfig()
	cfg = shared.Config(cfg)
	cfg.Topology.Prefix = "hk"
	cfg.Worker.OpsDeliverySucceeded = true // operational events too, on core NATS and in the stream
	h := hookdtest.Start(t, cfg)
	rc, acmeRC, opsRC := hookdtest.NewReceiver(t), hookdtest.NewReceiver(t), hookdtest.NewReceiver(t)
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "events": []string{"order.*"}})
	opsEP := h.CreateEndpoint(t, map[string]any{"url": opsRC.URL, "events": []string{"hookd.delivery.succeeded"}})
	createTenant(t, h, `{"id":"acme"}`)
	acmeEP := h.CreateEndpoint(t, map[string]any{"tenant": "acme", "url": acmeRC.URL, "events": []string{"order.*"}})

	if _, err := js.Publish(ctx, "hk.events.order.paid", []byte(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "events.order.paid", []byte(`{"n":2}`)); err != nil {
		t.Fatal(err)
	}
	h.PublishEvent(t, "order.paid", map[string]int{"n": 3})
	if _, err := js.Publish(ctx, "hk.tenants.acme.events.order.paid", []byte(`{"n":4}`)); err != nil {
		t.Fatal(err)
	}
	hookdtest.WaitFor(t, 10*time.Second, "deliveries", func() bool {
		return rc.Count() >= 2 && acmeRC.Count() >= 1 && opsRC.Count() >= 2
	})
	h.WaitIdle(t, ep.ID, opsEP.ID, acmeEP.ID)

	var got []int
	for _, r := range rc.Requests() {
		typ, n := eventN(t, r)
		if typ != "order.paid" {
			t.Errorf("delivery of type %q, want order.paid (the prefix stripped)", typ)
		}
		got = append(got, n)
	}
	slices.Sort(got)
	if !slices.Equal(got, []int{1, 3}) {
		t.Errorf("default tenant's endpoint got events %v, want 1 (NATS) and 3 (API): not 2 (plain events.) nor 4 (acme's)", got)
	}
	if n := acmeRC.Count(); n != 1 {
		t.Errorf("acme's endpoint got %d deliveries, want 1", n)
	} else if typ, n := eventN(t, acmeRC.Requests()[0]); typ != "order.paid" || n != 4 {
		t.Errorf("acme's endpoint got %s %d, want order.paid 4", typ, n)
	}
	if n := opsRC.Count(); n != 2 {
		t.Errorf("ops endpoint got %d hookd.delivery.succeeded, want 2", n)
	}

	// The other application's stream: same configuration, its two
	// messages and the plain event, nothing of hookd's.
	foreignAfter, err := foreign.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(foreignAfter.Config, foreignBefore.Config) || !foreignAfter.Created.Equal(foreignBefore.Created) {
		t.Errorf("foreign stream changed:\nbefore %+v\nafter  %+v", foreignBefore.Config, foreignAfter.Config)
	}
	msgs := hookdtest.Messages(t, js, "ORDERS", "events.*")
	var bodies []string
	for _, m := range msgs {
		bodies = append(bodies, m.Subject+" "+string(m.Data))
	}
	want := []string{`events.order.created {"order":1}`, `events.order.created {"order":2}`, `events.order.paid {"n":2}`}
	if foreignAfter.State.Msgs != 3 || !slices.Equal(bodies, want) {
		t.Errorf("foreign stream holds %d messages %v, want %v", foreignAfter.State.Msgs, bodies, want)
	}

	// hookd's streams are all under its prefix.
	names := js.StreamNames(ctx)
	for name := range names.Name() {
		if name != "ORDERS" && !strings.HasPrefix(name, "hk_") && !strings.HasPrefix(name, "KV_hk_") {
			t.Errorf("stream %s outside hookd's prefix", name)
		}
	}
	if err := names.Err(); err != nil {
		t.Fatal(err)
	}
	// And so is everything it published: its subjects, and the streams and
	// buckets its JetStream requests named.
	seen := subjects.all()
	for subject, n := range seen {
		if subject == "events.order.paid" && n == 1 {
			continue // the test's own plain event
		}
		if unprefixedLeak(subject) {
			t.Errorf("%d messages on %q: an unprefixed name", n, subject)
		}
	}
	for _, want := range []string{h.App.Names().QueueSubject(ep.ID), "hk.hookd.ops.delivery.succeeded",
		"$KV.hk_hookd_endpoints." + ep.ID} {
		if seen[want] == 0 {
			t.Errorf("nothing seen on %s (seen: %d subjects)", want, len(seen))
		}
	}
}

// Two hookd deployments with different prefixes, and one without, share a
// NATS account: none sees another's endpoints or events.
func TestPrefixesIsolateDeployments(t *testing.T) {
	shared, _, js := startSharedNATS(t)
	ctx := context.Background()
	type deployment struct {
		prefix string
		h      *hookdtest.Hookd
		rc     *hookdtest.Receiver
		ep     hookdtest.Endpoint
	}
	deps := []*deployment{{prefix: "blue"}, {prefix: "green"}, {prefix: ""}}
	for _, d := range deps {
		cfg := fastConfig()
		cfg = shared.Config(cfg)
		cfg.Topology.Prefix = d.prefix
		d.h = hookdtest.Start(t, cfg)
		d.rc = hookdtest.NewReceiver(t)
		d.ep = d.h.CreateEndpoint(t, map[string]any{"url": d.rc.URL, "events": []string{"order.*"}})
	}
	for i, d := range deps {
		// Over NATS to the deployment's own subject, and through its API.
		if _, err := js.Publish(ctx, d.h.App.Names().EventSubject("order.paid"), []byte(`{"n":`+string(rune('1'+i))+`}`)); err != nil {
			t.Fatal(err)
		}
		d.h.PublishEvent(t, "order.paid", map[string]int{"n": 10 + i})
	}
	for i, d := range deps {
		hookdtest.WaitFor(t, 10*time.Second, "deliveries of "+d.prefix, func() bool { return d.rc.Count() >= 2 })
		d.h.WaitIdle(t, d.ep.ID)
		var got []int
		for _, r := range d.rc.Requests() {
			_, n := eventN(t, r)
			got = append(got, n)
		}
		slices.Sort(got)
		if want := []int{1 + i, 10 + i}; !slices.Equal(got, want) {
			t.Errorf("deployment %q delivered events %v, want %v", d.prefix, got, want)
		}
		status, out := d.h.Do(t, http.MethodGet, "/v1/endpoints", nil)
		var list struct {
			Data []hookdtest.Endpoint `json:"data"`
		}
		if status != http.StatusOK || json.Unmarshal(out, &list) != nil {
			t.Fatalf("list endpoints of %q: %d %s", d.prefix, status, out)
		}
		if len(list.Data) != 1 || list.Data[0].ID != d.ep.ID {
			t.Errorf("deployment %q lists %s, want its own endpoint %s alone", d.prefix, out, d.ep.ID)
		}
		if all := d.h.App.Registry().Snapshot().All(); len(all) != 1 {
			t.Errorf("deployment %q's routers see %d endpoints, want 1", d.prefix, len(all))
		}
		for _, other := range deps {
			if other != d {
				if status, _ := d.h.Do(t, http.MethodGet, "/v1/endpoints/"+other.ep.ID, nil); status != http.StatusNotFound {
					t.Errorf("deployment %q answers %d for %q's endpoint, want 404", d.prefix, status, other.prefix)
				}
			}
		}
	}
}
