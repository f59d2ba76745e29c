// Package persist holds immutable (persistent) collections: a change
// returns a new collection that shares everything it did not touch with the
// old one, which stays valid and unchanged. A change costs O(log n), so a
// reader can hold a version while a writer derives the next ones, without
// copying n elements per change.
//
// Map is a hash array mapped trie (CHAMP layout); Sorted is a treap ordered
// by string key. Neither is safe for concurrent writers, but a value is
// never modified once built, so any number of goroutines may read it.
package persist
