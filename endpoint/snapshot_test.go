package endpoint

import (
	"errors"
	"slices"
	"testing"

	"github.com/hookd/hookd/rules"
)

func compiledFor(t *testing.T, id, tenantID string, events []string, filter string) *Compiled {
	t.Helper()
	rule, err := rules.Compile(events, filter)
	if err != nil {
		t.Fatal(err)
	}
	return &Compiled{Endpoint: &Endpoint{ID: id, Tenant: tenantID, Events: events, Filter: filter}, Rule: rule}
}

func ids(list []*Compiled) []string {
	var out []string
	for _, c := range list {
		out = append(out, c.ID)
	}
	return out
}

// TestSnapshotCandidates checks that Candidates narrows to the event's
// tenant and to the rules that may match, in id order, and always includes
// Broken endpoints so that routers log them.
func TestSnapshotCandidates(t *testing.T) {
	order := []string{"order.*"}
	broken := &Compiled{Endpoint: &Endpoint{ID: "ep_3", Tenant: "acme"}, Broken: errors.New("no longer compiles")}
	snap := NewSnapshot([]*Compiled{
		compiledFor(t, "ep_5", "acme", []string{"user.*"}, ""),
		compiledFor(t, "ep_2", "acme", order, `data.tenant == "t-2" && data.status == "paid"`),
		broken,
		compiledFor(t, "ep_1", "acme", order, `data.tenant == "t-1" && data.status == "paid"`),
		compiledFor(t, "ep_0", "acme", order, `data.tenant == "t-9" || data.status == "paid"`),
		compiledFor(t, "ep_4", "", order, `data.tenant == "t-1"`),
		compiledFor(t, "ep_6", "globex", order, `data.tenant == "t-1"`),
	})
	data := map[string]any{"tenant": "t-1", "status": "paid"}
	cases := []struct {
		tenant, typ string
		want        []string
	}{
		{"acme", "order.paid", []string{"ep_0", "ep_1", "ep_3"}},
		{"acme", "user.created", []string{"ep_3", "ep_5"}},
		{"", "order.paid", []string{"ep_4"}},
		{"default", "order.paid", []string{"ep_4"}},
		{"globex", "order.paid", []string{"ep_6"}},
		{"globex", "user.created", nil},
		{"nobody", "order.paid", nil},
	}
	buf := make([]*Compiled, 5)
	for _, c := range cases {
		buf = snap.Candidates(&rules.Env{Type: c.typ, Tenant: c.tenant, Data: data}, buf)
		if got := ids(buf); !slices.Equal(got, c.want) {
			t.Errorf("tenant %q, %s: got %v, want %v", c.tenant, c.typ, got, c.want)
		}
	}
	if got := ids(snap.ForTenant("acme")); !slices.Equal(got, []string{"ep_0", "ep_1", "ep_2", "ep_3", "ep_5"}) {
		t.Errorf("ForTenant changed: %v", got)
	}
}

// TestSnapshotEmpty checks the registry's first, empty snapshot (and a
// zero Snapshot): nothing found, nothing ordered.
func TestSnapshotEmpty(t *testing.T) {
	for _, s := range []*Snapshot{emptySnapshot(), {}} {
		if got := s.Candidates(&rules.Env{Type: "order.paid"}, nil); len(got) != 0 {
			t.Errorf("got %v", ids(got))
		}
		if s.Get("ep_1") != nil || len(s.All()) != 0 || len(s.ForTenant("")) != 0 || s.Len() != 0 || s.HasOrdered() {
			t.Error("an empty snapshot has something")
		}
	}
}
