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
	owner       *Edit // the batch that made it, which may change it in place
}

// own returns n itself when the batch e made it, else a copy that e owns.
func (n *tnode[V]) own(e *Edit) *tnode[V] {
	if e != nil && n.owner == e {
		return n
	}
	c := *n
	c.owner = e
	return &c
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
func (s Sorted[V]) Set(key string, val V) Sorted[V] { return s.SetIn(nil, key, val) }

// SetIn is Set as part of the batch e (see Edit); a nil e is Set.
func (s Sorted[V]) SetIn(e *Edit, key string, val V) Sorted[V] {
	if _, ok := s.Get(key); ok {
		s.root = replace(e, s.root, key, val)
		return s
	}
	s.root = insert(e, s.root, &tnode[V]{key: key, val: val, prio: priority(key), owner: e})
	s.n++
	return s
}

// replace copies the path to key, present in n, and gives it val.
func replace[V any](e *Edit, n *tnode[V], key string, val V) *tnode[V] {
	c := n.own(e)
	switch {
	case key < n.key:
		c.left = replace(e, n.left, key, val)
	case key > n.key:
		c.right = replace(e, n.right, key, val)
	default:
		c.val = val
	}
	return c
}

// insert adds x, whose key n lacks: it goes down by key while the nodes
// have a higher priority, then takes the place of the subtree there, split
// around its key.
func insert[V any](e *Edit, n, x *tnode[V]) *tnode[V] {
	if n == nil {
		return x
	}
	if x.prio > n.prio {
		x.left, x.right = split(e, n, x.key)
		return x
	}
	c := n.own(e)
	if x.key < n.key {
		c.left = insert(e, n.left, x)
	} else {
		c.right = insert(e, n.right, x)
	}
	return c
}

// split returns the nodes of n with keys below key and above it (n lacks
// key), copying the nodes it changes.
func split[V any](e *Edit, n *tnode[V], key string) (*tnode[V], *tnode[V]) {
	if n == nil {
		return nil, nil
	}
	c := n.own(e)
	if key < n.key {
		l, r := split(e, n.left, key)
		c.left = r
		return l, c
	}
	l, r := split(e, n.right, key)
	c.right = l
	return c, r
}

// Delete returns s without key (s itself when key is absent).
func (s Sorted[V]) Delete(key string) Sorted[V] { return s.DeleteIn(nil, key) }

// DeleteIn is Delete as part of the batch e (see Edit); a nil e is Delete.
func (s Sorted[V]) DeleteIn(e *Edit, key string) Sorted[V] {
	if _, ok := s.Get(key); !ok {
		return s
	}
	s.root = remove(e, s.root, key)
	s.n--
	return s
}

func remove[V any](e *Edit, n *tnode[V], key string) *tnode[V] {
	switch {
	case key < n.key:
		c := n.own(e)
		c.left = remove(e, n.left, key)
		return c
	case key > n.key:
		c := n.own(e)
		c.right = remove(e, n.right, key)
		return c
	}
	return join(e, n.left, n.right)
}

// join returns the union of a and b, every key of a below every key of b.
func join[V any](e *Edit, a, b *tnode[V]) *tnode[V] {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case a.prio > b.prio:
		c := a.own(e)
		c.right = join(e, a.right, b)
		return c
	default:
		c := b.own(e)
		c.left = join(e, a, b.left)
		return c
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

// All calls yield for every entry in key order until yield returns false.
func (s Sorted[V]) All(yield func(string, V) bool) { each(s.root, yield) }

func each[V any](n *tnode[V], yield func(string, V) bool) bool {
	for n != nil {
		if !each(n.left, yield) || !yield(n.key, n.val) {
			return false
		}
		n = n.right
	}
	return true
}
