package persist

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMapAgainstBuiltin applies random sets and deletes to a Map and to a
// Go map, and checks after each that they agree, and that every earlier
// version still holds what it held. The hash keeps 6 bits, so most keys
// collide: the deepest levels and the collision lists are exercised.
func TestMapAgainstBuiltin(t *testing.T) {
	for _, hash := range map[string]func(int) uint64{
		"full":      func(k int) uint64 { return StringHash(fmt.Sprint(k)) },
		"colliding": func(k int) uint64 { return StringHash(fmt.Sprint(k)) & 0x3f << 58 },
		"constant":  func(int) uint64 { return 7 },
	} {
		rnd := rand.New(rand.NewPCG(3, 4))
		m := NewMap[int, int](hash)
		want := map[int]int{}
		type version struct {
			m    Map[int, int]
			want map[int]int
		}
		var versions []version
		for step := range 3000 {
			k := rnd.IntN(300)
			if rnd.IntN(3) == 0 {
				m = m.Delete(k)
				delete(want, k)
			} else {
				m = m.Set(k, step)
				want[k] = step
			}
			if step%100 == 0 {
				versions = append(versions, version{m, maps.Clone(want)})
			}
		}
		versions = append(versions, version{m, want})
		for i, v := range versions {
			if v.m.Len() != len(v.want) {
				t.Fatalf("version %d: Len %d, want %d", i, v.m.Len(), len(v.want))
			}
			for k := range 300 {
				got, ok := v.m.Get(k)
				w, wok := v.want[k]
				if ok != wok || got != w {
					t.Fatalf("version %d: Get(%d) = %d %v, want %d %v", i, k, got, ok, w, wok)
				}
			}
			seen := map[int]int{}
			v.m.All(func(k, val int) bool { seen[k] = val; return true })
			if !maps.Equal(seen, v.want) {
				t.Fatalf("version %d: All gave %v, want %v", i, seen, v.want)
			}
		}
		// Deleting everything leaves an empty map, still writable.
		for k := range 300 {
			m = m.Delete(k)
		}
		if m.Len() != 0 || m.root != nil {
			t.Fatalf("emptied map: Len %d, root %v", m.Len(), m.root)
		}
		if m = m.Set(1, 1); m.Len() != 1 {
			t.Fatal("emptied map lost its hash")
		}
	}
}

// TestMapFoldsOnDelete checks that deleting what was inserted gives back a
// trie as shallow as before: a child left with one entry folds into its
// parent.
func TestMapFoldsOnDelete(t *testing.T) {
	m := NewMap[int, int](func(k int) uint64 { return uint64(k) }) // 0 and 32 share the first 5 bits
	m = m.Set(0, 0).Set(32, 32)
	if len(m.root.kids) != 1 {
		t.Fatalf("two keys with the same first bits: %d kids at the root", len(m.root.kids))
	}
	m = m.Delete(32)
	if len(m.root.kids) != 0 || len(m.root.entries) != 1 {
		t.Fatalf("after delete: %d kids, %d entries at the root", len(m.root.kids), len(m.root.entries))
	}
}

func TestMapAllStops(t *testing.T) {
	m := NewMap[int, int](func(k int) uint64 { return uint64(k) })
	for k := range 100 {
		m = m.Set(k, k)
	}
	calls := 0
	m.All(func(int, int) bool { calls++; return calls < 3 })
	if calls != 3 {
		t.Errorf("yield called %d times after returning false, want 3", calls)
	}
	var zero Map[int, int]
	if _, ok := zero.Get(1); ok || zero.Len() != 0 || zero.Delete(1).Len() != 0 {
		t.Error("the zero Map is not empty")
	}
	zero.All(func(int, int) bool { t.Error("the zero Map yielded"); return true })
}

// TestSortedAgainstBuiltin is TestMapAgainstBuiltin for Sorted, which also
// iterates in key order.
func TestSortedAgainstBuiltin(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	var s Sorted[int]
	want := map[string]int{}
	type version struct {
		s    Sorted[int]
		want map[string]int
	}
	var versions []version
	for step := range 4000 {
		k := fmt.Sprintf("k%03d", rnd.IntN(400))
		if rnd.IntN(3) == 0 {
			s = s.Delete(k)
			delete(want, k)
		} else {
			s = s.Set(k, step)
			want[k] = step
		}
		if step%100 == 0 {
			versions = append(versions, version{s, maps.Clone(want)})
		}
	}
	versions = append(versions, version{s, want})
	for i, v := range versions {
		if v.s.Len() != len(v.want) {
			t.Fatalf("version %d: Len %d, want %d", i, v.s.Len(), len(v.want))
		}
		var wantVals []int
		for _, k := range slices.Sorted(maps.Keys(v.want)) {
			wantVals = append(wantVals, v.want[k])
			if got, ok := v.s.Get(k); !ok || got != v.want[k] {
				t.Fatalf("version %d: Get(%s) = %d %v, want %d", i, k, got, ok, v.want[k])
			}
		}
		if got := v.s.Append(nil); !slices.Equal(got, wantVals) {
			t.Fatalf("version %d: Append gave %v, want %v", i, got, wantVals)
		}
		odd := v.s.AppendFunc(nil, func(x int) bool { return x%2 == 1 })
		if want := slices.DeleteFunc(wantVals, func(x int) bool { return x%2 == 0 }); !slices.Equal(odd, want) {
			t.Fatalf("version %d: AppendFunc gave %v, want %v", i, odd, want)
		}
		var keys []string
		v.s.All(func(k string, val int) bool {
			if val != v.want[k] {
				t.Fatalf("version %d: All gave %s=%d, want %d", i, k, val, v.want[k])
			}
			keys = append(keys, k)
			return true
		})
		if !slices.Equal(keys, slices.Sorted(maps.Keys(v.want))) {
			t.Fatalf("version %d: All gave keys %v", i, keys)
		}
		checkTreap(t, v.s.root)
	}
	calls := 0
	s.All(func(string, int) bool { calls++; return calls < 3 })
	if calls != 3 {
		t.Errorf("yield called %d times after returning false, want 3", calls)
	}
	if _, ok := s.Get("absent"); ok || s.Delete("absent").Len() != s.Len() {
		t.Error("an absent key was found or deleted")
	}
}

// checkTreap checks the order and heap invariants, and that the depth stays
// logarithmic (a few times log2 n in expectation).
func checkTreap[V any](t *testing.T, n *tnode[V]) {
	t.Helper()
	var walk func(n *tnode[V], lo, hi string, depth int) int
	walk = func(n *tnode[V], lo, hi string, depth int) int {
		if n == nil {
			return depth
		}
		if (lo != "" && n.key <= lo) || (hi != "" && n.key >= hi) {
			t.Fatalf("key %s out of order", n.key)
		}
		for _, k := range []*tnode[V]{n.left, n.right} {
			if k != nil && k.prio > n.prio {
				t.Fatalf("child %s has a higher priority than %s", k.key, n.key)
			}
		}
		return max(walk(n.left, lo, n.key, depth+1), walk(n.right, n.key, hi, depth+1))
	}
	if d := walk(n, "", "", 0); d > 40 {
		t.Fatalf("depth %d for at most 400 keys", d)
	}
}

// TestSortedShapeIndependentOfOrder checks that the same keys make the same
// tree whatever the order of the changes that led to them.
func TestSortedShapeIndependentOfOrder(t *testing.T) {
	keys := make([]string, 200)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%03d", i)
	}
	var a, b Sorted[int]
	for _, k := range keys {
		a = a.Set(k, 0)
	}
	rnd := rand.New(rand.NewPCG(7, 8))
	for _, i := range rnd.Perm(len(keys)) {
		b = b.Set(keys[i], 0).Set("extra"+keys[i], 0)
	}
	for _, k := range keys {
		b = b.Delete("extra" + k)
	}
	var shape func(n *tnode[int]) string
	shape = func(n *tnode[int]) string {
		if n == nil {
			return "."
		}
		return "(" + shape(n.left) + n.key + shape(n.right) + ")"
	}
	if shape(a.root) != shape(b.root) {
		t.Error("the same keys made different trees")
	}
}

// TestEditBatches makes random batches of changes under an Edit each, to a
// Map (with colliding hashes) and a Sorted, and checks every version kept
// between batches at the end: the batches' in-place writes never reach a
// version from before them.
func TestEditBatches(t *testing.T) {
	rnd := rand.New(rand.NewPCG(11, 12))
	m := NewMap[int, int](func(k int) uint64 { return StringHash(fmt.Sprint(k)) & 0xff << 55 })
	var s Sorted[int]
	want := map[int]int{}
	type version struct {
		m    Map[int, int]
		s    Sorted[int]
		want map[int]int
	}
	var versions []version
	for batch := range 200 {
		e := NewEdit()
		for step := range rnd.IntN(40) {
			k := rnd.IntN(500)
			if rnd.IntN(3) == 0 {
				m, s = m.DeleteIn(e, k), s.DeleteIn(e, fmt.Sprintf("k%03d", k))
				delete(want, k)
			} else {
				v := batch*100 + step
				m, s = m.SetIn(e, k, v), s.SetIn(e, fmt.Sprintf("k%03d", k), v)
				want[k] = v
			}
		}
		versions = append(versions, version{m, s, maps.Clone(want)})
		if batch%10 == 0 { // persistent changes between batches too
			m, s = m.Set(-batch-1, batch), s.Set("z", batch)
			want[-batch-1] = batch
			versions = append(versions, version{m, s.Delete("z"), maps.Clone(want)})
			m, s = m.Delete(-batch-1), s.Delete("z")
			delete(want, -batch-1)
		}
	}
	for i, v := range versions {
		got := map[int]int{}
		v.m.All(func(k, val int) bool { got[k] = val; return true })
		if !maps.Equal(got, v.want) || v.m.Len() != len(v.want) {
			t.Fatalf("version %d: map holds %v (Len %d), want %v", i, got, v.m.Len(), v.want)
		}
		for k, val := range v.want {
			if g, ok := v.m.Get(k); !ok || g != val {
				t.Fatalf("version %d: Get(%d) = %d %v, want %d", i, k, g, ok, val)
			}
		}
		var keys []string
		v.s.All(func(k string, val int) bool {
			keys = append(keys, k)
			var n int
			fmt.Sscanf(k, "k%d", &n)
			if v.want[n] != val {
				t.Fatalf("version %d: sorted %s=%d, want %d", i, k, val, v.want[n])
			}
			return true
		})
		if len(keys) != v.s.Len() || !slices.IsSorted(keys) {
			t.Fatalf("version %d: %d keys (Len %d), sorted %v", i, len(keys), v.s.Len(), slices.IsSorted(keys))
		}
		for k := range v.want {
			if k >= 0 && !slices.Contains(keys, fmt.Sprintf("k%03d", k)) {
				t.Fatalf("version %d: sorted lacks k%03d", i, k)
			}
		}
		checkTreap(t, v.s.root)
	}
}

// TestEditAllocations checks what an Edit is for: loading many entries in
// one batch allocates a few times per entry, not per level per entry.
func TestEditAllocations(t *testing.T) {
	const n = 20000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%06d", i)
	}
	load := func(e *Edit) {
		m := NewMap[string, int](StringHash)
		var s Sorted[int]
		for i, k := range keys {
			m, s = m.SetIn(e, k, i), s.SetIn(e, k, i)
		}
	}
	persistent := testing.AllocsPerRun(1, func() { load(nil) }) / n
	batched := testing.AllocsPerRun(1, func() { load(NewEdit()) }) / n
	t.Logf("allocations per entry: %.1f one by one, %.1f in a batch", persistent, batched)
	if batched > 4 || batched > persistent/4 {
		t.Errorf("a batch allocates %.1f times per entry, one by one %.1f", batched, persistent)
	}
}
