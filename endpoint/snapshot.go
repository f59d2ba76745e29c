package endpoint

import (
	"slices"
	"strings"
	"sync"

	"github.com/hookd/hookd/internal/persist"
	"github.com/hookd/hookd/rules"
	"github.com/hookd/hookd/tenant"
	"github.com/hookd/hookd/topology"
)

// Snapshot is an immutable view of every endpoint at one moment.
//
// A registry holding 100,000 endpoints derives a new snapshot for every
// batch of changes it sees, while routers and workers still hold older ones:
// so a snapshot shares with its predecessor everything a change did not
// touch (persistent maps, see package persist), and a batch of k changes
// costs O(k log n), not a rebuild of all n.
type Snapshot struct {
	byID persist.Map[string, *Compiled]
	// tenants holds, per tenant (normalized), an index of its endpoints'
	// rules keyed by endpoint id.
	tenants persist.Map[string, *rules.Index[*Compiled]]
	// byFP holds the endpoint ids by fingerprint (WithFingerprint).
	byFP    persist.Map[fingerprint, fpIDs]
	ordered int // how many endpoints are ordered

	// all and lists (per tenant) are built on first use: routing needs
	// neither, and building them costs O(n).
	allOnce sync.Once
	all     []*Compiled
	mu      sync.Mutex
	lists   map[string][]*Compiled
}

// fingerprint is topology.Fingerprint of an endpoint id, as bytes.
type fingerprint [topology.FingerprintLen]byte

func (f fingerprint) hash() uint64 { return persist.StringHash(string(f[:])) }

// fpIDs are the ids of the endpoints of one fingerprint: almost always
// one (40 bits: two of 100,000 ids share one with a probability of about
// 0.5%), held without a slice.
type fpIDs struct {
	id   string
	more *[]string
}

func (f fpIDs) with(id string) fpIDs {
	if f.id == "" {
		return fpIDs{id: id}
	}
	var more []string
	if f.more != nil {
		more = append(more, *f.more...)
	}
	more = append(more, id)
	return fpIDs{id: f.id, more: &more}
}

// without returns f without id; empty reports nothing is left.
func (f fpIDs) without(id string) (_ fpIDs, empty bool) {
	var all []string
	if f.id != id {
		all = append(all, f.id)
	}
	if f.more != nil {
		for _, m := range *f.more {
			if m != id {
				all = append(all, m)
			}
		}
	}
	if len(all) == 0 {
		return fpIDs{}, true
	}
	out := fpIDs{id: all[0]}
	if rest := all[1:]; len(rest) > 0 {
		out.more = &rest
	}
	return out, false
}

// change is one endpoint's new state: c, or deleted when c is nil.
type change struct {
	id string
	c  *Compiled
}

// emptySnapshot is the registry's view before it has loaded anything.
func emptySnapshot() *Snapshot {
	return &Snapshot{
		byID:    persist.NewMap[string, *Compiled](persist.StringHash),
		tenants: persist.NewMap[string, *rules.Index[*Compiled]](persist.StringHash),
		byFP:    persist.NewMap[fingerprint, fpIDs](fingerprint.hash),
	}
}

// NewSnapshot builds a snapshot of the given endpoints (of an id given
// twice, the last), for tests and benchmarks of routing.
func NewSnapshot(list []*Compiled) *Snapshot {
	changes := make([]change, len(list))
	for i, c := range list {
		changes[i] = change{id: c.ID, c: c}
	}
	return emptySnapshot().with(changes)
}

// with returns a new snapshot with changes applied in order; s is
// unchanged.
func (s *Snapshot) with(changes []change) *Snapshot {
	next := &Snapshot{byID: s.byID, tenants: s.tenants, byFP: s.byFP, ordered: s.ordered}
	ed := persist.NewEdit() // one batch: see persist.Edit
	perTenant := map[string][]rules.Change[*Compiled]{}
	for _, ch := range changes {
		old, existed := next.byID.Get(ch.id)
		if existed {
			t := tenant.Normalize(old.Tenant)
			perTenant[t] = append(perTenant[t], rules.Change[*Compiled]{Key: ch.id, Delete: true})
			if old.Ordered() {
				next.ordered--
			}
		}
		if ch.c == nil {
			next.byID = next.byID.DeleteIn(ed, ch.id)
			if existed {
				next.unfileFingerprint(ed, ch.id)
			}
			continue
		}
		if !existed {
			next.fileFingerprint(ed, ch.id)
		}
		next.byID = next.byID.SetIn(ed, ch.id, ch.c)
		t := tenant.Normalize(ch.c.Tenant)
		// A nil Rule (Broken) is always a candidate, so routers log it.
		perTenant[t] = append(perTenant[t], rules.Change[*Compiled]{Key: ch.id, Rule: ch.c.Rule, Value: ch.c})
		if ch.c.Ordered() {
			next.ordered++
		}
	}
	for t, chs := range perTenant {
		x, _ := next.tenants.Get(t)
		if x = x.With(chs); x.Len() == 0 {
			next.tenants = next.tenants.DeleteIn(ed, t)
		} else {
			next.tenants = next.tenants.SetIn(ed, t, x)
		}
	}
	return next
}

// HasOrdered reports whether any endpoint is ordered: if none is, the
// ordered routing lane has nothing to do.
func (s *Snapshot) HasOrdered() bool { return s.ordered > 0 }

// Len returns the number of endpoints.
func (s *Snapshot) Len() int { return s.byID.Len() }

// Get returns the endpoint with id, or nil.
func (s *Snapshot) Get(id string) *Compiled {
	c, _ := s.byID.Get(id)
	return c
}

// All returns every endpoint, ordered by id. The slice must not be
// changed. The first call on a snapshot costs O(n log n); use Len for a
// count.
func (s *Snapshot) All() []*Compiled {
	s.allOnce.Do(func() {
		s.all = make([]*Compiled, 0, s.byID.Len())
		s.byID.All(func(_ string, c *Compiled) bool {
			s.all = append(s.all, c)
			return true
		})
		slices.SortFunc(s.all, func(a, b *Compiled) int { return strings.Compare(a.ID, b.ID) })
	})
	return s.all
}

// ForTenant returns the endpoints of a tenant ("" is the default tenant),
// ordered by id. The slice must not be changed. The first call for a
// tenant on a snapshot costs O(n) in its endpoints; routing uses
// Candidates.
func (s *Snapshot) ForTenant(tenantID string) []*Compiled {
	t := tenant.Normalize(tenantID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if list, ok := s.lists[t]; ok {
		return list
	}
	x, _ := s.tenants.Get(t)
	list := x.Append(nil)
	if s.lists == nil {
		s.lists = map[string][]*Compiled{}
	}
	s.lists[t] = list
	return list
}

// WithFingerprint returns the ids of the endpoints whose id has the
// fingerprint fp (topology.Fingerprint, which delivery ids hold): usually
// one or none, two when ids collide. It is a lookup, whatever the number
// of endpoints.
func (s *Snapshot) WithFingerprint(fp string) []string {
	if len(fp) != topology.FingerprintLen {
		return nil
	}
	ids, ok := s.byFP.Get(fingerprint([]byte(fp)))
	if !ok {
		return nil
	}
	out := []string{ids.id}
	if ids.more != nil {
		out = append(out, *ids.more...)
	}
	return out
}

func (s *Snapshot) fileFingerprint(ed *persist.Edit, id string) {
	f := fingerprint([]byte(topology.Fingerprint(id)))
	ids, _ := s.byFP.Get(f)
	s.byFP = s.byFP.SetIn(ed, f, ids.with(id))
}

func (s *Snapshot) unfileFingerprint(ed *persist.Edit, id string) {
	f := fingerprint([]byte(topology.Fingerprint(id)))
	ids, _ := s.byFP.Get(f)
	if ids, empty := ids.without(id); empty {
		s.byFP = s.byFP.DeleteIn(ed, f)
	} else {
		s.byFP = s.byFP.SetIn(ed, f, ids)
	}
}

// Candidates appends to dst[:0] the endpoints of env's tenant ("" is the
// default tenant) that may match env, ordered by id: every endpoint whose
// rule matches is among them, as is every Broken endpoint, but so may be
// others. The caller still runs each rule; the index only spares it most of
// them (see rules.Index). It allocates only when dst lacks room.
func (s *Snapshot) Candidates(env *rules.Env, dst []*Compiled) []*Compiled {
	x, _ := s.tenants.Get(tenant.Normalize(env.Tenant))
	return x.Candidates(env, dst)
}
