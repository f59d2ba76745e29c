package rules

import (
	"slices"
	"strings"

	"github.com/hookd/hookd/internal/persist"
)

// Index narrows, for one event, a set of rules down to those that may match
// it, without evaluating filters: routing thousands of endpoints that filter
// on the same field (`data.customer == "c-42" && ...`) costs a few lookups
// instead of thousands of expr evaluations.
//
// Each rule is named by a key (an endpoint id) and carries a value (the
// endpoint). It is filed under its event type patterns (literal ones by
// type, wildcards and the empty set in a group checked with
// PatternSet.Match) and under one equality its filter needs to be true (see
// analyze), or in a fallback list when its filter has none. The candidates
// are a superset of the matching rules: the caller still runs Rule.Match on
// each.
//
// An Index is immutable and safe for concurrent use. With derives the next
// one, sharing everything a change does not touch: a change costs O(log n),
// however many rules the index holds. The nil *Index is empty.
type Index[V any] struct {
	all    persist.Map[string, *entry[V]] // every rule, by key
	byType persist.Map[string, *group[V]] // rules with only literal patterns, by pattern
	wild   *group[V]                      // rules with a wildcard pattern or none; nil when none
	always persist.Sorted[*entry[V]]      // nil rules
	// freq counts, over the rules with two conditions or more, the rules
	// naming each condition, for pick.
	freq persist.Map[condKey, int]
}

// entry is one rule of an Index. It is not changed once filed.
type entry[V any] struct {
	key  string
	rule *Rule
	val  V
	cond *cond // the condition it is filed under, nil for none
}

// Change is one change to an Index: Key now names Rule and Value (a nil
// Rule, an endpoint whose rule no longer compiles, is always a candidate so
// that the router still sees it), or, with Delete, nothing.
type Change[V any] struct {
	Key    string
	Rule   *Rule
	Value  V
	Delete bool
}

// Len returns the number of rules.
func (x *Index[V]) Len() int {
	if x == nil {
		return 0
	}
	return x.all.Len()
}

// Append appends every rule's value to dst in key order. It costs
// O(n log n): routing has no use for it.
func (x *Index[V]) Append(dst []V) []V {
	if x == nil {
		return dst
	}
	es := make([]*entry[V], 0, x.all.Len())
	x.all.All(func(_ string, e *entry[V]) bool {
		es = append(es, e)
		return true
	})
	slices.SortFunc(es, byKey[V])
	for _, e := range es {
		dst = append(dst, e.val)
	}
	return dst
}

// With returns x with changes made; x is unchanged. Of several changes to a
// key, the last counts. The cost is O(log n) per change.
func (x *Index[V]) With(changes []Change[V]) *Index[V] {
	next := &Index[V]{
		all:    persist.NewMap[string, *entry[V]](persist.StringHash),
		byType: persist.NewMap[string, *group[V]](persist.StringHash),
		freq:   persist.NewMap[condKey, int](condKey.hash),
	}
	if x != nil {
		*next = *x
	}
	last := make(map[string]int, len(changes))
	for i, c := range changes {
		last[c.Key] = i
	}
	// One batch: the nodes it makes are changed in place by its later
	// changes (see persist.Edit); x's are never written.
	ed := persist.NewEdit()
	var added []*entry[V]
	for i, c := range changes {
		if last[c.Key] != i {
			continue
		}
		if old, ok := next.all.Get(c.Key); ok {
			next.unfile(ed, old)
			next.count(ed, old.rule, -1)
			next.all = next.all.DeleteIn(ed, c.Key)
		}
		if c.Delete {
			continue
		}
		e := &entry[V]{key: c.Key, rule: c.Rule, val: c.Value}
		next.count(ed, e.rule, 1)
		next.all = next.all.SetIn(ed, c.Key, e)
		added = append(added, e)
	}
	// Filed once every count is in: a batch (the whole bucket at start)
	// files each rule under its rarest condition among all of them.
	for _, e := range added {
		next.file(ed, e)
	}
	return next
}

// count adds delta to the frequency of r's conditions. A rule with one
// condition or none is not counted: pick has no choice to make for it, and
// not counting the most common kind of rule (`data.tenant == "t-1"`) saves
// a map entry per rule.
func (x *Index[V]) count(ed *persist.Edit, r *Rule, delta int) {
	cs := r.conditions()
	if len(cs) < 2 {
		return
	}
	for i := range cs {
		k := cs[i].key()
		n, _ := x.freq.Get(k)
		if n += delta; n == 0 {
			x.freq = x.freq.DeleteIn(ed, k)
		} else {
			x.freq = x.freq.SetIn(ed, k, n)
		}
	}
}

func (x *Index[V]) freqOf(k condKey) int {
	n, _ := x.freq.Get(k)
	return n
}

// file adds e under its patterns and the condition pick chooses.
func (x *Index[V]) file(ed *persist.Edit, e *entry[V]) {
	if e.rule == nil {
		x.always = x.always.SetIn(ed, e.key, e)
		return
	}
	e.cond = pick(e.rule.conditions(), x.freqOf)
	types, literal := literalTypes(e.rule.Patterns)
	if !literal {
		x.wild = x.wild.add(ed, e, true)
		return
	}
	for _, t := range types {
		g, _ := x.byType.Get(t)
		x.byType = x.byType.SetIn(ed, t, g.add(ed, e, false))
	}
}

// unfile removes e from where file put it.
func (x *Index[V]) unfile(ed *persist.Edit, e *entry[V]) {
	if e.rule == nil {
		x.always = x.always.DeleteIn(ed, e.key)
		return
	}
	types, literal := literalTypes(e.rule.Patterns)
	if !literal {
		x.wild = x.wild.remove(ed, e)
		return
	}
	for _, t := range types {
		g, _ := x.byType.Get(t)
		if g = g.remove(ed, e); g == nil {
			x.byType = x.byType.DeleteIn(ed, t)
		} else {
			x.byType = x.byType.SetIn(ed, t, g)
		}
	}
}

// Candidates appends to dst[:0], in key order, the values of the rules that
// may match env: every rule that matches is among them, and every nil rule.
// It allocates nothing when dst has room and there are at most 64.
func (x *Index[V]) Candidates(env *Env, dst []V) []V {
	dst = dst[:0]
	if x == nil {
		return dst
	}
	var buf [64]*entry[V]
	found := buf[:0]
	if g, ok := x.byType.Get(env.Type); ok {
		found = g.collect(env, found)
	}
	found = x.wild.collect(env, found)
	found = x.always.Append(found)
	// Each list is in key order, and a rule is in one list per event (in
	// one literal type's group or the wildcard one, under one condition),
	// so ordering the lists' concatenation is enough; it is often one list.
	if !slices.IsSortedFunc(found, byKey[V]) {
		slices.SortFunc(found, byKey[V])
	}
	for _, e := range found {
		dst = append(dst, e.val)
	}
	return dst
}

func byKey[V any](a, b *entry[V]) int { return strings.Compare(a.key, b.key) }

// literalTypes returns the distinct patterns of s when none has a wildcard.
// A literal pattern matches exactly the type equal to it, reserved ones
// included, so a map lookup keeps PatternSet.Match's meaning; the empty set
// matches (almost) everything, so it is not literal.
func literalTypes(s PatternSet) ([]string, bool) {
	if len(s) == 0 {
		return nil, false
	}
	types := make([]string, 0, len(s))
	for _, p := range s {
		if len(p.tokens) == 0 || slices.ContainsFunc(p.tokens, func(t string) bool { return t == "*" || t == ">" }) {
			return nil, false
		}
		if !slices.Contains(types, p.src) {
			types = append(types, p.src)
		}
	}
	return types, true
}

// pick chooses the condition to index a rule on, nil for none: the one
// fewest rules name (freq), so that `data.status == "paid" && data.customer
// == "c-1"` is filed under its customer whatever the order; on a tie the
// likeliest selective kind (a string, then a number, then a bool), then the
// first.
func pick(cs []cond, freq func(condKey) int) *cond {
	var best *cond
	bestN := 0
	for i := range cs {
		c := &cs[i]
		n := freq(c.key())
		if best == nil || n < bestN || (n == bestN && c.lit.kind < best.lit.kind) {
			best, bestN = c, n
		}
	}
	return best
}

// conditions returns the conditions of r's filter, nil for a nil rule or
// filter.
func (r *Rule) conditions() []cond {
	if r == nil || r.Filter == nil {
		return nil
	}
	return r.Filter.conds
}
