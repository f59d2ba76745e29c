package event

import "testing"

// Ids made one after another sort in that order, even within one
// millisecond: endpoint lists are in creation order, and a bulk creation
// makes thousands of endpoints a millisecond.
func TestNewIDsSortInCreationOrder(t *testing.T) {
	prev := NewID("ep")
	for range 10_000 {
		id := NewID("ep")
		if id <= prev {
			t.Fatalf("%s made after %s sorts before it", id, prev)
		}
		prev = id
	}
}
