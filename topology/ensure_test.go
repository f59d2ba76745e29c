package topology

import (
	"context"
	"slices"
	"testing"

	"github.com/hookd/hookd/internal/natstest"
)

// A second start changes nothing: every stream's stored configuration is
// what hookd asks for, so no process updates a stream under another's
// consumers.
func TestEnsureCoreTwiceUpdatesNothing(t *testing.T) {
	js := natstest.Start(t)
	topo, _ := New(js, Config{})
	ctx := context.Background()
	if err := topo.EnsureCore(ctx); err != nil {
		t.Fatal(err)
	}
	for _, want := range topo.coreStreams() {
		s, err := js.Stream(ctx, want.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !sameStream(s.CachedInfo().Config, want) {
			t.Errorf("stream %s: stored %+v differs from wanted %+v", want.Name, s.CachedInfo().Config, want)
		}
	}
}

// An events stream created before hookd published its operational events
// on OpsSubjects gets them at the next start, keeping what it holds, and
// stores what hookd publishes there.
func TestEnsureCoreAddsOpsSubjectsToAnOldEventsStream(t *testing.T) {
	js := natstest.Start(t)
	ctx := context.Background()
	topo, _ := New(js, Config{})
	n := topo.Names()
	old := topo.coreStreams()[0]
	if old.Name != n.EventsStream() {
		t.Fatalf("first core stream is %s", old.Name)
	}
	old.Subjects = []string{n.EventsSubjects(), n.TenantEventsSubjects()} // as versions before stored it
	if _, err := js.CreateStream(ctx, old); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "events.order.paid", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err := topo.EnsureCore(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, n.EventsStream())
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(info.Config.Subjects, n.OpsSubjects()) || info.State.Msgs != 1 {
		t.Fatalf("after EnsureCore: subjects %v, %d events; want %s added and the 1 event kept", info.Config.Subjects, info.State.Msgs, n.OpsSubjects())
	}
	if _, err := js.Publish(ctx, n.OpsSubject("endpoint.disabled"), []byte(`{}`)); err != nil {
		t.Fatalf("publish to %s: %v", n.OpsSubject("endpoint.disabled"), err)
	}
	if name, ok := n.OpsName(n.OpsSubject("endpoint.disabled")); !ok || name != "endpoint.disabled" {
		t.Fatalf("OpsName(OpsSubject) = %q, %v", name, ok)
	}
	for _, c := range []struct {
		subject, tenant, typ string
		raised               bool
	}{
		{"hookd.ops.endpoint.disabled", "", "hookd.endpoint.disabled", true},
		{"events.hookd.endpoint.disabled", "", "hookd.endpoint.disabled", false},
		{"tenants.acme.events.hookd.delivery.exhausted", "acme", "hookd.delivery.exhausted", false},
		{"events.order.paid", "", "order.paid", false},
	} {
		tn, typ, raised := n.ParseEventSubject(c.subject)
		if tn != c.tenant || typ != c.typ || raised != c.raised {
			t.Errorf("ParseEventSubject(%q) = %q %q %v, want %q %q %v", c.subject, tn, typ, raised, c.tenant, c.typ, c.raised)
		}
	}
}
