package persist

import (
	"hash/maphash"
	"math/bits"
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
func (m Map[K, V]) Set(key K, val V) Map[K, V] {
	root := m.root
	if root == nil {
		root = &hnode[K, V]{}
	}
	next, added := m.set(root, 0, m.hash(key), hentry[K, V]{key, val})
	m.root = next
	if added {
		m.n++
	}
	return m
}

func (m Map[K, V]) set(n *hnode[K, V], shift uint, h uint64, e hentry[K, V]) (*hnode[K, V], bool) {
	if shift > maxShift {
		for i, old := range n.entries {
			if old.key == e.key {
				c := &hnode[K, V]{entries: clone(n.entries)}
				c.entries[i] = e
				return c, false
			}
		}
		return &hnode[K, V]{entries: insertAt(n.entries, len(n.entries), e)}, true
	}
	bit := frag(h, shift)
	c := *n
	switch {
	case n.dataMap&bit != 0:
		i := index(n.dataMap, bit)
		old := n.entries[i]
		if old.key == e.key {
			c.entries = clone(n.entries)
			c.entries[i] = e
			return &c, false
		}
		// Two keys share this slot: push both one level down.
		kid := m.pair(shift+fanBits, old, m.hash(old.key), e, h)
		c.dataMap &^= bit
		c.entries = removeAt(n.entries, i)
		c.nodeMap |= bit
		c.kids = insertAt(n.kids, index(n.nodeMap, bit), kid)
		return &c, true
	case n.nodeMap&bit != 0:
		i := index(n.nodeMap, bit)
		kid, added := m.set(n.kids[i], shift+fanBits, h, e)
		c.kids = clone(n.kids)
		c.kids[i] = kid
		return &c, added
	default:
		c.dataMap |= bit
		c.entries = insertAt(n.entries, index(n.dataMap, bit), e)
		return &c, true
	}
}

// pair returns a node at shift holding two entries of different keys.
func (m Map[K, V]) pair(shift uint, a hentry[K, V], ha uint64, b hentry[K, V], hb uint64) *hnode[K, V] {
	if shift > maxShift {
		return &hnode[K, V]{entries: []hentry[K, V]{a, b}}
	}
	fa, fb := frag(ha, shift), frag(hb, shift)
	switch {
	case fa == fb:
		return &hnode[K, V]{nodeMap: fa, kids: []*hnode[K, V]{m.pair(shift+fanBits, a, ha, b, hb)}}
	case fa < fb:
		return &hnode[K, V]{dataMap: fa | fb, entries: []hentry[K, V]{a, b}}
	default:
		return &hnode[K, V]{dataMap: fa | fb, entries: []hentry[K, V]{b, a}}
	}
}

// Delete returns m without key (m itself when key is absent).
func (m Map[K, V]) Delete(key K) Map[K, V] {
	if m.root == nil {
		return m
	}
	next, removed := m.del(m.root, 0, m.hash(key), key)
	if !removed {
		return m
	}
	m.root, m.n = next, m.n-1
	if m.n == 0 {
		m.root = nil
	}
	return m
}

func (m Map[K, V]) del(n *hnode[K, V], shift uint, h uint64, key K) (*hnode[K, V], bool) {
	if shift > maxShift {
		for i, e := range n.entries {
			if e.key == key {
				return &hnode[K, V]{entries: removeAt(n.entries, i)}, true
			}
		}
		return n, false
	}
	bit := frag(h, shift)
	c := *n
	switch {
	case n.dataMap&bit != 0:
		i := index(n.dataMap, bit)
		if n.entries[i].key != key {
			return n, false
		}
		c.dataMap &^= bit
		c.entries = removeAt(n.entries, i)
		return &c, true
	case n.nodeMap&bit != 0:
		i := index(n.nodeMap, bit)
		kid, removed := m.del(n.kids[i], shift+fanBits, h, key)
		if !removed {
			return n, false
		}
		if len(kid.kids) == 0 && len(kid.entries) == 1 {
			// A child left with one entry folds into this node, so that
			// deleting undoes what inserting did and the trie stays shallow.
			c.nodeMap &^= bit
			c.kids = removeAt(n.kids, i)
			c.dataMap |= bit
			c.entries = insertAt(n.entries, index(n.dataMap, bit), kid.entries[0])
			return &c, true
		}
		c.kids = clone(n.kids)
		c.kids[i] = kid
		return &c, true
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

// clone, insertAt and removeAt return new slices: a node's slices are shared
// with every version that holds the node, so they are never written.

func clone[T any](s []T) []T { return append([]T(nil), s...) }

func insertAt[T any](s []T, i int, v T) []T {
	out := make([]T, len(s)+1)
	copy(out, s[:i])
	out[i] = v
	copy(out[i+1:], s[i:])
	return out
}

func removeAt[T any](s []T, i int) []T {
	if len(s) == 1 {
		return nil
	}
	out := make([]T, len(s)-1)
	copy(out, s[:i])
	copy(out[i:], s[i+1:])
	return out
}
