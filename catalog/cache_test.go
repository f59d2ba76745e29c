package catalog

import "testing"

// The watch and a process's own writes reach the cache in either order:
// only a newer revision replaces what is there, a deletion included.
func TestSetKeepsTheNewestRevision(t *testing.T) {
	c := &Catalog{byName: map[string]entry{}}
	v5 := &Compiled{EventType: &EventType{Name: "a", Description: "v5"}}
	v4 := &Compiled{EventType: &EventType{Name: "a", Description: "v4"}}
	c.set("a", 5, v5)
	c.set("a", 4, v4) // the watch catching up with an older write
	c.set("a", 5, v4) // the same revision again
	if got := c.Lookup("a"); got != v5 {
		t.Fatalf("Lookup = %v, want revision 5's", got)
	}
	c.set("a", 6, nil) // deleted
	c.set("a", 5, v5)  // a late put must not bring it back
	if got := c.Lookup("a"); got != nil {
		t.Fatalf("deleted type came back: %v", got)
	}
	c.set("a", 7, v4) // created again
	if got := c.Lookup("a"); got != v4 {
		t.Fatalf("Lookup = %v, want revision 7's", got)
	}
}
