package endpoint

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/rules"
)

// snapFilters are the filters the random endpoints get; multi marks those
// with two indexable conditions, which an index files by how common each
// condition is when it is filed, so that their presence among candidates
// may differ from a snapshot built at once (the routed set may not).
var snapFilters = []struct {
	src   string
	multi bool
}{
	{``, false},
	{`data.tenant == "t-%d"`, false},
	{`data.n == %d`, false},
	{`data.n == "%d"`, false},
	{`data.customer.id == "c-%d"`, false},
	{`data.a == "x" || data.tenant == "t-%d"`, false},
	{`data.tenant != "t-%d"`, false},
	{`tenant == "acme" && data.status == "paid" && data.n > %d`, false},
	{`data.tenant == "t-%d" && data.status == "paid"`, true},
	{`data.status == "paid" && data.tenant == "t-%d"`, true},
	{`data.tenant == "t-%d" &&`, false}, // does not compile: Broken
}

var snapEvents = [][]string{nil, {"order.*"}, {"order.paid"}, {"order.paid", "user.created"}, {">"}, {"hookd.>"}}

var snapTenants = []string{"", "default", "acme", "globex"}

// randomEndpoint returns a stored endpoint with random routing fields, and
// whether its filter is multi.
func randomEndpoint(rnd *rand.Rand, id string) (*Endpoint, bool) {
	f := snapFilters[rnd.IntN(len(snapFilters))]
	e := &Endpoint{
		ID: id, Tenant: snapTenants[rnd.IntN(len(snapTenants))], URL: "https://example.com/" + id,
		Events: snapEvents[rnd.IntN(len(snapEvents))], Secret: "whsec_x", Disabled: rnd.IntN(4) == 0,
		CreatedAt: time.Unix(1, 0).UTC(), UpdatedAt: time.Unix(int64(rnd.IntN(1000)), 0).UTC(),
	}
	if f.src != "" {
		e.Filter = fmt.Sprintf(f.src, rnd.IntN(5))
	}
	if rnd.IntN(5) == 0 {
		e.Ordering = OrderingOrdered
	}
	return e, f.multi
}

// TestSnapshotIncremental applies random batches of creates, updates (of
// tenant, events, filter, disabled, ordering), deletes, purges and
// unreadable values to a registry, as its watch hands them over, and checks
// every snapshot it made against NewSnapshot over the endpoints live at
// that point: the same Get, All, Len, HasOrdered and ForTenant, and on
// random events the same candidates (but for multi filters, see
// snapFilters) and the same routed endpoints. The snapshots are checked
// after the last batch: later batches leave earlier snapshots unchanged.
func TestSnapshotIncremental(t *testing.T) {
	rnd := rand.New(rand.NewPCG(13, 14))
	r := quietRegistry()
	live := map[string]*Endpoint{}
	multi := map[string]bool{}
	type version struct {
		snap  *Snapshot
		live  map[string]*Endpoint
		multi map[string]bool
	}
	var versions []version
	for round := range 150 {
		var batch []jetstream.KeyValueEntry
		changes := 1 + rnd.IntN(25)
		if round%40 == 39 { // everything goes: tenants empty out
			for id := range live {
				batch = append(batch, entry{key: id, op: jetstream.KeyValueDelete})
				delete(live, id)
			}
			changes = 0
		}
		for range changes {
			id := fmt.Sprintf("ep_%02d", rnd.IntN(80))
			switch k := rnd.IntN(10); {
			case k < 2:
				op := []jetstream.KeyValueOp{jetstream.KeyValueDelete, jetstream.KeyValuePurge}[k]
				batch = append(batch, entry{key: id, op: op})
				delete(live, id)
			case k == 2: // a value that does not decode counts as gone
				batch = append(batch, entry{key: id, value: []byte(`{"id":`), op: jetstream.KeyValuePut})
				delete(live, id)
			default:
				e, m := randomEndpoint(rnd, id)
				b, err := json.Marshal(e)
				if err != nil {
					t.Fatal(err)
				}
				batch = append(batch, entry{key: id, value: b, op: jetstream.KeyValuePut})
				live[id], multi[id] = e, m
			}
		}
		r.applyAll(batch)
		v := version{snap: r.Snapshot(), live: map[string]*Endpoint{}, multi: map[string]bool{}}
		for id, e := range live {
			v.live[id], v.multi[id] = e, multi[id]
		}
		versions = append(versions, v)
	}
	routed, ordered := 0, 0
	for i, v := range versions {
		var list []*Compiled
		for _, e := range v.live {
			list = append(list, Compile(e))
		}
		want := NewSnapshot(list)
		routed += compareSnapshots(t, fmt.Sprintf("version %d", i), v.snap, want, v.multi, rnd)
		if want.HasOrdered() {
			ordered++
		}
	}
	// The checks above hold for empty snapshots too: make sure they were not.
	if routed < 1000 || ordered < len(versions)/2 {
		t.Errorf("a weak test: %d events routed somewhere, %d of %d versions with ordered endpoints", routed, ordered, len(versions))
	}
}

// compareSnapshots fails t unless got answers as want does (see
// TestSnapshotIncremental), and returns how many random events were routed
// to some endpoint.
func compareSnapshots(t *testing.T, name string, got, want *Snapshot, multi map[string]bool, rnd *rand.Rand) int {
	t.Helper()
	if !slices.Equal(ids(got.All()), ids(want.All())) || got.Len() != want.Len() || got.ordered != want.ordered || got.HasOrdered() != want.HasOrdered() {
		t.Fatalf("%s: All %v (Len %d, %d ordered), want %v (%d ordered)", name, ids(got.All()), got.Len(), got.ordered, ids(want.All()), want.ordered)
	}
	if got.tenants.Len() != want.tenants.Len() {
		t.Fatalf("%s: %d tenants indexed, want %d", name, got.tenants.Len(), want.tenants.Len())
	}
	for i := range 80 {
		id := fmt.Sprintf("ep_%02d", i)
		g, w := got.Get(id), want.Get(id)
		if (g == nil) != (w == nil) || g != nil && (!reflect.DeepEqual(g.Endpoint, w.Endpoint) || (g.Broken == nil) != (w.Broken == nil)) {
			t.Fatalf("%s: Get(%s) = %+v, want %+v", name, id, g, w)
		}
	}
	for _, tn := range append(snapTenants, "nobody") {
		if g, w := ids(got.ForTenant(tn)), ids(want.ForTenant(tn)); !slices.Equal(g, w) {
			t.Fatalf("%s: ForTenant(%q) = %v, want %v", name, tn, g, w)
		}
	}
	var ev rules.Evaluator
	routed := 0
	for range 30 {
		n := rnd.IntN(5)
		env := &rules.Env{
			Type:   []string{"order.paid", "order.new", "user.created", "hookd.endpoint.disabled", "other"}[rnd.IntN(5)],
			Tenant: snapTenants[rnd.IntN(len(snapTenants))],
			Data: map[string]any{"tenant": fmt.Sprintf("t-%d", n), "n": float64(n), "status": []string{"paid", "new"}[rnd.IntN(2)],
				"customer": map[string]any{"id": fmt.Sprintf("c-%d", n)}},
		}
		gc, wc := got.Candidates(env, nil), want.Candidates(env, nil)
		for i := 1; i < len(gc); i++ {
			if gc[i-1].ID >= gc[i].ID {
				t.Fatalf("%s: candidates not ordered by id, or repeated: %v", name, ids(gc))
			}
		}
		single := func(c *Compiled) bool { return !multi[c.ID] }
		if g, w := ids(filterCompiled(gc, single)), ids(filterCompiled(wc, single)); !slices.Equal(g, w) {
			t.Fatalf("%s: %s %+v: candidates %v, want %v", name, env.Type, env.Data, g, w)
		}
		matches := func(c *Compiled) bool {
			if c.Broken != nil {
				return true // routers see it, to log it
			}
			ok, _ := c.Rule.Match(&ev, env)
			return ok
		}
		g, w := ids(filterCompiled(gc, matches)), ids(filterCompiled(wc, matches))
		if !slices.Equal(g, w) {
			t.Fatalf("%s: %s %+v: routed to %v, want %v", name, env.Type, env.Data, g, w)
		}
		if len(g) > 0 {
			routed++
		}
	}
	return routed
}

func filterCompiled(list []*Compiled, keep func(*Compiled) bool) []*Compiled {
	var out []*Compiled
	for _, c := range list {
		if keep(c) {
			out = append(out, c)
		}
	}
	return out
}
