package rules

import "github.com/hookd/hookd/internal/persist"

// group is the rules filed under one literal event type, or the wildcard
// ones, by condition. Like the Index, it is immutable once its batch is
// done: add and remove return the group to keep (remove returns nil for an
// empty one), and the nil group is empty.
type group[V any] struct {
	check    bool // run PatternSet.Match: the wildcard group
	paths    persist.Map[string, *pathIndex[V]]
	fallback persist.Sorted[*entry[V]] // rules without a condition
	owner    *persist.Edit             // the batch that made it, which changes it in place
}

// pathIndex is the rules of a group filed under a condition on one path,
// by literal.
type pathIndex[V any] struct {
	path   path
	values persist.Map[value, bucket[V]]
	owner  *persist.Edit
}

// bucket is the rules filed under one literal: most often one (each
// endpoint with its own `data.tenant == "t-<i>"`), held without a tree, which
// saves a tree node per endpoint.
type bucket[V any] struct {
	one  *entry[V]                 // the only rule, when more is empty
	more persist.Sorted[*entry[V]] // two rules or more
}

func (b bucket[V]) add(ed *persist.Edit, e *entry[V]) bucket[V] {
	switch {
	case b.more.Len() > 0:
		b.more = b.more.SetIn(ed, e.key, e)
	case b.one == nil || b.one.key == e.key:
		b.one = e
	default:
		b.more = b.more.SetIn(ed, b.one.key, b.one).SetIn(ed, e.key, e)
		b.one = nil
	}
	return b
}

// remove returns b without key; empty reports whether nothing is left.
func (b bucket[V]) remove(ed *persist.Edit, key string) (_ bucket[V], empty bool) {
	if b.more.Len() == 0 {
		if b.one != nil && b.one.key == key {
			b.one = nil
		}
		return b, b.one == nil
	}
	if b.more = b.more.DeleteIn(ed, key); b.more.Len() == 1 {
		b.more.All(func(_ string, e *entry[V]) bool { b.one = e; return false })
		b.more = persist.Sorted[*entry[V]]{}
	}
	return b, false
}

// appendTo appends b's rules in key order, those keep accepts when keep is
// not nil.
func (b bucket[V]) appendTo(dst []*entry[V], keep func(*entry[V]) bool) []*entry[V] {
	switch {
	case b.one != nil:
		if keep == nil || keep(b.one) {
			dst = append(dst, b.one)
		}
		return dst
	case keep == nil:
		return b.more.Append(dst)
	}
	return b.more.AppendFunc(dst, keep)
}

// own returns g itself when the batch ed made it, else a copy ed owns.
func (g *group[V]) own(ed *persist.Edit, check bool) *group[V] {
	if g == nil {
		return &group[V]{check: check, paths: persist.NewMap[string, *pathIndex[V]](persist.StringHash), owner: ed}
	}
	if g.owner == ed {
		return g
	}
	c := *g
	c.owner = ed
	return &c
}

func (g *group[V]) add(ed *persist.Edit, e *entry[V], check bool) *group[V] {
	c := g.own(ed, check)
	if e.cond == nil {
		c.fallback = c.fallback.SetIn(ed, e.key, e)
		return c
	}
	p, _ := c.paths.Get(e.cond.pathKey)
	switch {
	case p == nil:
		p = &pathIndex[V]{path: e.cond.path, values: persist.NewMap[value, bucket[V]](value.hash), owner: ed}
	case p.owner != ed:
		cp := *p
		cp.owner = ed
		p = &cp
	}
	b, _ := p.values.Get(e.cond.lit)
	p.values = p.values.SetIn(ed, e.cond.lit, b.add(ed, e))
	c.paths = c.paths.SetIn(ed, e.cond.pathKey, p)
	return c
}

func (g *group[V]) remove(ed *persist.Edit, e *entry[V]) *group[V] {
	c := g.own(ed, g.check)
	if e.cond == nil {
		c.fallback = c.fallback.DeleteIn(ed, e.key)
	} else if p, ok := c.paths.Get(e.cond.pathKey); ok {
		if p.owner != ed {
			cp := *p
			cp.owner = ed
			p = &cp
		}
		b, _ := p.values.Get(e.cond.lit)
		if b, empty := b.remove(ed, e.key); empty {
			p.values = p.values.DeleteIn(ed, e.cond.lit)
		} else {
			p.values = p.values.SetIn(ed, e.cond.lit, b)
		}
		if p.values.Len() == 0 {
			c.paths = c.paths.DeleteIn(ed, e.cond.pathKey)
		} else {
			c.paths = c.paths.SetIn(ed, e.cond.pathKey, p)
		}
	}
	if c.paths.Len() == 0 && c.fallback.Len() == 0 {
		return nil
	}
	return c
}

// collect appends the group's candidates for env to dst: for each path,
// the rules filed under the event's value there, then the fallback rules.
func (g *group[V]) collect(env *Env, dst []*entry[V]) []*entry[V] {
	if g == nil {
		return dst
	}
	var keep func(*entry[V]) bool // nil: every rule
	if g.check {
		keep = func(e *entry[V]) bool { return e.rule.Patterns.Match(env.Type) }
	}
	g.paths.All(func(_ string, p *pathIndex[V]) bool {
		v, l := p.path.resolve(env)
		switch l {
		case found:
			if b, ok := p.values.Get(v); ok {
				dst = b.appendTo(dst, keep)
			}
		case unknown:
			p.values.All(func(_ value, b bucket[V]) bool {
				dst = b.appendTo(dst, keep)
				return true
			})
		}
		return true
	})
	return bucket[V]{more: g.fallback}.appendTo(dst, keep)
}
