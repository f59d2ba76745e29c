package persist

import (
	"hash/maphash"
	"math/bits"
	"slices"
)

// Map is an immutable hash map. The zero Map is empty but has no hash
// function: read it freely, but derive maps to write from NewMap.
type Map[K comparable, V any] struct {
	root *hnode[K, V]
	n    int
	hash func(K) uint64
}

// NewMap returns an empty Map that places keys by hash, which must give
// equal keys equal hashes (keys that are equal under == but not identical,
// such as 0.0 and -0.0, included).
func NewMap[K comparable, V any](hash func(K) uint64) Map[K, V] {
	return Map[K, V]{hash: hash}
}

var seed = maphash.MakeSeed()

// StringHash hashes a string key for NewMap.
func StringHash(s string) uint64 { return maphash.String(seed, s) }

// hnode is a trie node: entries stored here and child nodes, each placed by
// 5 bits of the key's hash at this depth, kept compact in two bitmaps (as in
// CHAMP). Below the 64 bits of a hash, a node is a list of the colliding
// entries (collision: both bitmaps unused).
type hnode[K comparable, V any] struct {
	dataMap, nodeMap uint32
	entries          []hentry[K, V]
	kids             []*hnode[K, V]
	owner            *Edit // the batch that made it, which may change it in place
}

type hentry[K comparable, V any] struct {
	key K
	val V
}

const (
	fanBits  = 5
	maxShift = 60 // the last level uses the hash's 4 top bits
)

func frag(h uint64, shift uint) uint32 { return 1 << ((h >> shift) & (1<<fanBits - 1)) }

func index(bitmap, bit uint32) int { return bits.OnesCount32(bitmap & (bit - 1)) }

// Len returns the number of entries.
func (m Map[K, V]) Len() int { return m.n }

// Get returns the value of key, and whether it is present.
func (m Map[K, V]) Get(key K) (V, bool) {
	var zero V
	if m.root == nil {
		return zero, false
	}
	h := m.hash(key)
	n := m.root
	for shift := uint(0); ; shift += fanBits {
		if shift > maxShift {
			for _, e := range n.entries {
				if e.key == key {
					return e.val, true
				}
			}
			return zero, false
		}
		bit := frag(h, shift)
		switch {
		case n.dataMap&bit != 0:
			if e := n.entries[index(n.dataMap, bit)]; e.key == key {
				return e.val, true
			}
			return zero, false
		case n.nodeMap&bit != 0:
			n = n.kids[index(n.nodeMap, bit)]
		default:
			return zero, false
		}
	}
}

// Set returns m with key set to val.
func (m Map[K, V]) Set(key K, val V) Map[K, V] { return m.SetIn(nil, key, val) }

// SetIn is Set as part of the batch e (see Edit); a nil e is Set.
func (m Map[K, V]) SetIn(e *Edit, key K, val V) Map[K, V] {
	root := m.root
	if root == nil {
		root = &hnode[K, V]{owner: e}
	}
	next, added := m.set(e, root, 0, m.hash(key), hentry[K, V]{key, val})
	m.root = next
	if added {
		m.n++
	}
	return m
}

// own returns n itself when the batch e made it, else a copy that e owns.
// An owned node's slices are its own (a copy clones them), so changes of
// the same batch write them in place.
func (n *hnode[K, V]) own(e *Edit) *hnode[K, V] {
	if e != nil && n.owner == e {
		return n
	}
	c := *n
	c.owner = e
	if e != nil {
		c.entries, c.kids = clone(n.entries), clone(n.kids)
	}
	return &c
}

func (m Map[K, V]) set(ed *Edit, n *hnode[K, V], shift uint, h uint64, e hentry[K, V]) (*hnode[K, V], bool) {
	mine := ed != nil // c's slices may be written in place
	if shift > maxShift {
		for i, old := range n.entries {
			if old.key == e.key {
				c := n.own(ed)
				c.entries = setAt(c.entries, i, e, mine)
				return c, false
			}
		}
		c := n.own(ed)
		c.entries = insertAt(c.entries, len(c.entries), e, mine)
		return c, true
	}
	bit := frag(h, shift)
	switch {
	case n.dataMap&bit != 0:
		i := index(n.dataMap, bit)
		old := n.entries[i]
		c := n.own(ed)
		if old.key == e.key {
			c.entries = setAt(c.entries, i, e, mine)
			return c, false
		}
		// Two keys share this slot: push both one level down.
		kid := m.pair(ed, shift+fanBits, old, m.hash(old.key), e, h)
		c.kids = insertAt(c.kids, index(c.nodeMap, bit), kid, mine)
		c.dataMap &^= bit
		c.entries = removeAt(c.entries, i, mine)
		c.nodeMap |= bit
		return c, true
	case n.nodeMap&bit != 0:
		i := index(n.nodeMap, bit)
		kid, added := m.set(ed, n.kids[i], shift+fanBits, h, e)
		c := n
		if kid != n.kids[i] { // else kid was changed in place, and so is n
			c = n.own(ed)
			c.kids = setAt(c.kids, i, kid, mine)
		}
		return c, added
	default:
		c := n.own(ed)
		c.entries = insertAt(c.entries, index(c.dataMap, bit), e, mine)
		c.dataMap |= bit
		return c, true
	}
}

// pair returns a node at shift holding two entries of different keys.
func (m Map[K, V]) pair(ed *Edit, shift uint, a hentry[K, V], ha uint64, b hentry[K, V], hb uint64) *hnode[K, V] {
	if shift > maxShift {
		return &hnode[K, V]{entries: []hentry[K, V]{a, b}, owner: ed}
	}
	fa, fb := frag(ha, shift), frag(hb, shift)
	switch {
	case fa == fb:
		return &hnode[K, V]{nodeMap: fa, kids: []*hnode[K, V]{m.pair(ed, shift+fanBits, a, ha, b, hb)}, owner: ed}
	case fa < fb:
		return &hnode[K, V]{dataMap: fa | fb, entries: []hentry[K, V]{a, b}, owner: ed}
	default:
		return &hnode[K, V]{dataMap: fa | fb, entries: []hentry[K, V]{b, a}, owner: ed}
	}
}

// Delete returns m without key (m itself when key is absent).
func (m Map[K, V]) Delete(key K) Map[K, V] { return m.DeleteIn(nil, key) }

// DeleteIn is Delete as part of the batch e (see Edit); a nil e is Delete.
func (m Map[K, V]) DeleteIn(e *Edit, key K) Map[K, V] {
	if m.root == nil {
		return m
	}
	next, removed := m.del(e, m.root, 0, m.hash(key), key)
	if !removed {
		return m
	}
	m.root, m.n = next, m.n-1
	if m.n == 0 {
		m.root = nil
	}
	return m
}

func (m Map[K, V]) del(ed *Edit, n *hnode[K, V], shift uint, h uint64, key K) (*hnode[K, V], bool) {
	mine := ed != nil
	if shift > maxShift {
		for i, e := range n.entries {
			if e.key == key {
				c := n.own(ed)
				c.entries = removeAt(c.entries, i, mine)
				return c, true
			}
		}
		return n, false
	}
	bit := frag(h, shift)
	switch {
	case n.dataMap&bit != 0:
		i := index(n.dataMap, bit)
		if n.entries[i].key != key {
			return n, false
		}
		c := n.own(ed)
		c.dataMap &^= bit
		c.entries = removeAt(c.entries, i, mine)
		return c, true
	case n.nodeMap&bit != 0:
		i := index(n.nodeMap, bit)
		kid, removed := m.del(ed, n.kids[i], shift+fanBits, h, key)
		if !removed {
			return n, false
		}
		if len(kid.kids) == 0 && len(kid.entries) == 1 {
			// A child left with one entry folds into this node, so that
			// deleting undoes what inserting did and the trie stays shallow.
			c := n.own(ed)
			c.entries = insertAt(c.entries, index(c.dataMap, bit), kid.entries[0], mine)
			c.dataMap |= bit
			c.kids = removeAt(c.kids, i, mine)
			c.nodeMap &^= bit
			return c, true
		}
		c := n
		if kid != n.kids[i] {
			c = n.own(ed)
			c.kids = setAt(c.kids, i, kid, mine)
		}
		return c, true
	}
	return n, false
}

// All calls yield for every entry, in no particular order, until yield
// returns false.
func (m Map[K, V]) All(yield func(K, V) bool) {
	if m.root != nil {
		m.root.each(yield)
	}
}

func (n *hnode[K, V]) each(yield func(K, V) bool) bool {
	for _, e := range n.entries {
		if !yield(e.key, e.val) {
			return false
		}
	}
	for _, k := range n.kids {
		if !k.each(yield) {
			return false
		}
	}
	return true
}

// setAt, insertAt and removeAt write s in place when mine (s belongs to a
// node the current batch owns), and otherwise return a new slice: a node's
// slices are shared with every version that holds the node.

func clone[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return append([]T(nil), s...)
}

func setAt[T any](s []T, i int, v T, mine bool) []T {
	if !mine {
		s = clone(s)
	}
	s[i] = v
	return s
}

func insertAt[T any](s []T, i int, v T, mine bool) []T {
	if mine && len(s) < cap(s) {
		return slices.Insert(s, i, v)
	}
	// Grown by one, not doubled: a node's spare room would stay unused
	// in every version that keeps it.
	out := make([]T, len(s)+1)
	copy(out, s[:i])
	out[i] = v
	copy(out[i+1:], s[i:])
	return out
}

func removeAt[T any](s []T, i int, mine bool) []T {
	if mine {
		return slices.Delete(s, i, i+1)
	}
	if len(s) == 1 {
		return nil
	}
	out := make([]T, len(s)-1)
	copy(out, s[:i])
	copy(out[i:], s[i+1:])
	return out
}
