package persist

import "hash/maphash"

// Sorted is an immutable map from string keys to values, iterated in key
// order. The zero Sorted is empty and ready to use.
//
// It is a treap: a binary search tree by key that is also a heap by a
// priority drawn from the key's hash, so its shape depends only on the keys
// it holds (not on the order they came in) and is balanced in expectation.
// A change copies the O(log n) nodes on one path.
type Sorted[V any] struct {
	root *tnode[V]
	n    int
}

type tnode[V any] struct {
	key         string
	val         V
	prio        uint64
	left, right *tnode[V]
}

func priority(key string) uint64 { return maphash.String(seed, key) }

// Len returns the number of entries.
func (s Sorted[V]) Len() int { return s.n }

// Get returns the value of key, and whether it is present.
func (s Sorted[V]) Get(key string) (V, bool) {
	for n := s.root; n != nil; {
		switch {
		case key < n.key:
			n = n.left
		case key > n.key:
			n = n.right
		default:
			return n.val, true
		}
	}
	var zero V
	return zero, false
}

// Set returns s with key set to val.
func (s Sorted[V]) Set(key string, val V) Sorted[V] {
	if _, ok := s.Get(key); ok {
		s.root = replace(s.root, key, val)
		return s
	}
	s.root = insert(s.root, &tnode[V]{key: key, val: val, prio: priority(key)})
	s.n++
	return s
}

// replace copies the path to key, present in n, and gives it val.
func replace[V any](n *tnode[V], key string, val V) *tnode[V] {
	c := *n
	switch {
	case key < n.key:
		c.left = replace(n.left, key, val)
	case key > n.key:
		c.right = replace(n.right, key, val)
	default:
		c.val = val
	}
	return &c
}

// insert adds x, whose key n lacks: it goes down by key while the nodes
// have a higher priority, then takes the place of the subtree there, split
// around its key.
func insert[V any](n, x *tnode[V]) *tnode[V] {
	if n == nil {
		return x
	}
	if x.prio > n.prio {
		x.left, x.right = split(n, x.key)
		return x
	}
	c := *n
	if x.key < n.key {
		c.left = insert(n.left, x)
	} else {
		c.right = insert(n.right, x)
	}
	return &c
}

// split returns the nodes of n with keys below key and above it (n lacks
// key), copying the nodes it changes.
func split[V any](n *tnode[V], key string) (*tnode[V], *tnode[V]) {
	if n == nil {
		return nil, nil
	}
	c := *n
	if key < n.key {
		l, r := split(n.left, key)
		c.left = r
		return l, &c
	}
	l, r := split(n.right, key)
	c.right = l
	return &c, r
}

// Delete returns s without key (s itself when key is absent).
func (s Sorted[V]) Delete(key string) Sorted[V] {
	if _, ok := s.Get(key); !ok {
		return s
	}
	s.root = remove(s.root, key)
	s.n--
	return s
}

func remove[V any](n *tnode[V], key string) *tnode[V] {
	switch {
	case key < n.key:
		c := *n
		c.left = remove(n.left, key)
		return &c
	case key > n.key:
		c := *n
		c.right = remove(n.right, key)
		return &c
	}
	return join(n.left, n.right)
}

// join returns the union of a and b, every key of a below every key of b.
func join[V any](a, b *tnode[V]) *tnode[V] {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case a.prio > b.prio:
		c := *a
		c.right = join(a.right, b)
		return &c
	default:
		c := *b
		c.left = join(a, b.left)
		return &c
	}
}

// Append appends the values to dst in key order and returns it.
func (s Sorted[V]) Append(dst []V) []V { return appendTo(s.root, dst) }

func appendTo[V any](n *tnode[V], dst []V) []V {
	for n != nil {
		dst = appendTo(n.left, dst)
		dst = append(dst, n.val)
		n = n.right
	}
	return dst
}

// AppendFunc appends, in key order, the values for which keep returns true.
func (s Sorted[V]) AppendFunc(dst []V, keep func(V) bool) []V {
	return appendFunc(s.root, dst, keep)
}

func appendFunc[V any](n *tnode[V], dst []V, keep func(V) bool) []V {
	for n != nil {
		dst = appendFunc(n.left, dst, keep)
		if keep(n.val) {
			dst = append(dst, n.val)
		}
		n = n.right
	}
	return dst
}
