package faults

import (
	"strings"
	"testing"
)

// The ordered endpoint's check in TestFaultsUnderLoad: a redelivery may
// repeat an earlier event anywhere, but the first arrivals of one key's
// events must come in acceptance order; other keys' events interleave
// freely.
func TestFirstArrivalsOutOfOrder(t *testing.T) {
	rank := map[string]int{"a1": 0, "b1": 1, "a2": 2, "b2": 3, "a3": 4}
	key := func(id string) string { return id[:1] }
	for _, c := range []struct {
		arrivals []string
		want     string // "" or a part of the violation
	}{
		{[]string{"a1", "b1", "a2", "b2", "a3"}, ""},
		{[]string{"b1", "b2", "a1", "a2", "a3"}, ""},                   // keys interleave
		{[]string{"a1", "a2", "a1", "b1", "a2", "b2", "a3", "b1"}, ""}, // repeats after a kill
		{[]string{"a2", "a1", "b1", "b2", "a3"}, "a1 (key a) delivered for the first time after a2"},
		{[]string{"a1", "b2", "b1", "a2", "a3"}, "b1 (key b) delivered for the first time after b2"},
		{[]string{"a1", "a3", "a1", "a2"}, "a2 (key a) delivered for the first time after a3"},
	} {
		rc := &receiver{arrivals: map[string][]string{"/o": c.arrivals}}
		got := rc.firstArrivalsOutOfOrder("/o", key, rank)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%v: %q, want %q", c.arrivals, got, c.want)
		}
	}
}
