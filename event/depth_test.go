package event

import (
	"strings"
	"testing"
)

func TestTooDeep(t *testing.T) {
	nest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	for _, c := range []struct {
		data string
		deep bool
	}{
		{`{"a":{"b":[1,2,{"c":null}]}}`, false},
		{nest(MaxDepth), false},
		{nest(MaxDepth + 1), true},
		{`{"s":"` + strings.Repeat("[", 1000) + `"}`, false}, // brackets inside a string do not count
		{`{"s":"\"` + strings.Repeat("{", 100) + `"}`, false},
		{`"plain"`, false},
	} {
		if got := TooDeep([]byte(c.data)); got != c.deep {
			t.Errorf("TooDeep(%.40q) = %v, want %v", c.data, got, c.deep)
		}
	}
}
