// Package persist holds immutable (persistent) collections: a change
// returns a new collection that shares everything it did not touch with the
// old one, which stays valid and unchanged. A change costs O(log n), so a
// reader can hold a version while a writer derives the next ones, without
// copying n elements per change.
//
// Map is a hash array mapped trie (CHAMP layout); Sorted is a treap ordered
// by string key. Neither is safe for concurrent writers, but a value is
// never modified once built, so any number of goroutines may read it.
//
// A batch of changes made under one Edit updates in place the nodes it
// created itself, instead of copying them again for each change: loading
// 100,000 entries in one batch allocates about once per entry, not once per
// level of the tree per entry.
package persist

// Edit marks one batch of changes (SetIn, DeleteIn). Within the batch, only
// the latest version of each collection may be read or changed: a change
// may write nodes that earlier versions of the same batch share. Versions
// from before the batch are never written. Once the batch's results are
// shared (published to readers), the Edit must not be used again.
type Edit struct {
	_ byte // not zero-sized: every Edit has its own address
}

// NewEdit starts a batch.
func NewEdit() *Edit { return new(Edit) }
