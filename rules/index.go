package rules

import (
	"runtime"
	"slices"
	"sync"
	"weak"

	"github.com/expr-lang/expr/vm"
)

// Index narrows, for one event, a list of rules down to those that may match
// it, without evaluating filters: routing thousands of endpoints that filter
// on the same field (`data.customer == "c-42" && ...`) costs a few map
// lookups instead of thousands of expr evaluations.
//
// Each rule is filed under its event type patterns (literal ones in a map,
// wildcards and the empty set in a list checked with PatternSet.Match) and
// under one equality its filter needs to be true (see analyze), or in a
// fallback list when its filter has none. The candidates are a superset of
// the matching rules: the caller still runs Rule.Match on each.
//
// An Index is immutable and safe for concurrent use.
type Index struct {
	rules  []*Rule
	byType map[string]*group // rules with only literal patterns, by pattern
	wild   group             // rules with a wildcard pattern or none
	always []int32           // nil rules
}

// group is the rules filed under one literal event type, or the wildcard
// ones, indexed by condition. Positions in every list are ascending.
type group struct {
	check    bool // run PatternSet.Match: the wildcard group
	paths    []pathIndex
	fallback []int32        // rules without an indexed condition
	byPath   map[string]int // path key -> paths position, while building
}

type pathIndex struct {
	path   path
	values map[value][]int32 // literal -> rules whose condition is path == literal
}

// NewIndex indexes rs; a rule's position in rs is how Candidates names it.
// A nil rule is always a candidate (an endpoint whose rule no longer
// compiles: the router still sees it, to log it). rs is not retained.
func NewIndex(rs []*Rule) *Index {
	x := &Index{rules: slices.Clone(rs), byType: map[string]*group{}, wild: group{check: true}}
	conds := make([][]cond, len(rs))
	freq := make(map[condKey]int, len(rs))
	for i, r := range rs {
		if r == nil {
			continue
		}
		conds[i] = conditionsOf(r.Filter)
		for _, c := range conds[i] {
			freq[condKey{c.pathKey, c.lit}]++
		}
	}
	for i, r := range rs {
		if r == nil {
			x.always = append(x.always, int32(i))
			continue
		}
		c := pick(conds[i], freq)
		types, literal := literalTypes(r.Patterns)
		if !literal {
			x.wild.add(int32(i), c)
			continue
		}
		for _, t := range types {
			g := x.byType[t]
			if g == nil {
				g = &group{}
				x.byType[t] = g
			}
			g.add(int32(i), c)
		}
	}
	x.wild.byPath = nil
	for _, g := range x.byType {
		g.byPath = nil
	}
	return x
}

type condKey struct {
	path string
	lit  value
}

// pick chooses the condition to index a rule on, nil for none: the one whose
// path and literal the fewest rules share, so that `data.status == "paid" &&
// data.customer == "c-1"` is filed under its customer whatever the order;
// on a tie the likeliest selective kind (a string, then a number, then a
// bool), then the first.
func pick(cs []cond, freq map[condKey]int) *cond {
	var best *cond
	bestN := 0
	for i := range cs {
		c := &cs[i]
		n := freq[condKey{c.pathKey, c.lit}]
		if best == nil || n < bestN || (n == bestN && c.lit.kind < best.lit.kind) {
			best, bestN = c, n
		}
	}
	return best
}

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

func (g *group) add(pos int32, c *cond) {
	if c == nil {
		g.fallback = append(g.fallback, pos)
		return
	}
	if g.byPath == nil {
		g.byPath = map[string]int{}
	}
	i, ok := g.byPath[c.pathKey]
	if !ok {
		i = len(g.paths)
		g.byPath[c.pathKey] = i
		g.paths = append(g.paths, pathIndex{path: c.path, values: map[value][]int32{}})
	}
	g.paths[i].values[c.lit] = append(g.paths[i].values[c.lit], pos)
}

// Candidates appends to dst[:0], in ascending order, the positions of the
// rules that may match env: every rule that matches is among them. It
// allocates nothing when dst has room. A nil Index has no rules.
func (x *Index) Candidates(env *Env, dst []int) []int {
	dst = dst[:0]
	if x == nil {
		return dst
	}
	if g := x.byType[env.Type]; g != nil {
		dst = g.collect(x.rules, env, dst)
	}
	dst = x.wild.collect(x.rules, env, dst)
	for _, p := range x.always {
		dst = append(dst, int(p))
	}
	// Each list is ascending, and a rule is in one list per event (in one
	// literal type's group or the wildcard one, under one condition), so a
	// sort is enough to merge them.
	if !slices.IsSorted(dst) {
		slices.Sort(dst)
	}
	return dst
}

func (g *group) collect(rs []*Rule, env *Env, dst []int) []int {
	for i := range g.paths {
		p := &g.paths[i]
		v, l := p.path.resolve(env)
		switch l {
		case found:
			dst = g.appendMatching(rs, env, dst, p.values[v])
		case unknown:
			for _, pos := range p.values {
				dst = g.appendMatching(rs, env, dst, pos)
			}
		}
	}
	return g.appendMatching(rs, env, dst, g.fallback)
}

func (g *group) appendMatching(rs []*Rule, env *Env, dst []int, pos []int32) []int {
	for _, p := range pos {
		if g.check && !rs[p].Patterns.Match(env.Type) {
			continue
		}
		dst = append(dst, int(p))
	}
	return dst
}

// conditions memoises analyze per compiled Filter. Every endpoint change
// rebuilds a snapshot with every tenant's Index, and parsing thousands of
// filters each time would take tens of milliseconds; a Filter is immutable
// and shared from one snapshot to the next. The key is a weak pointer to
// the filter's program, and an entry is dropped when it is collected. (The
// program, not the Filter: finding a weak pointer's handle scans the
// special records of the object's memory span, and a span holds hundreds
// of small Filters but only a few dozen programs.)
var conditions sync.Map // weak.Pointer[vm.Program] -> []cond

func conditionsOf(f *Filter) []cond {
	if f == nil {
		return nil
	}
	k := weak.Make(f.program)
	if v, ok := conditions.Load(k); ok {
		return v.([]cond)
	}
	cs := analyze(f.src)
	if _, loaded := conditions.LoadOrStore(k, cs); !loaded {
		runtime.AddCleanup(f.program, func(k weak.Pointer[vm.Program]) { conditions.Delete(k) }, k)
	}
	return cs
}
