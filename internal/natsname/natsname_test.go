package natsname

import (
	"errors"
	"strings"
	"testing"
)

func TestValidTokenAndKey(t *testing.T) {
	for _, c := range []struct {
		s          string
		token, key bool
	}{
		{"ep_01jb7k2m3n4p5q6r7s8t9v0wxy", true, true},
		{"acme-1", true, true},
		{"key_0123456789abcdef0123", true, true},
		{strings.Repeat("a", MaxTokenLen), true, true},
		{strings.Repeat("a", MaxTokenLen+1), false, true},
		{strings.Repeat("a", MaxKeyLen), false, true},
		{strings.Repeat("a", MaxKeyLen+1), false, false},
		{strings.Repeat("a", 5000), false, false},
		{"order.paid", false, true},
		{"pause.ep_1", false, true},
		{"a=b/c", false, true},
		{"", false, false},
		{"*", false, false},
		{">", false, false},
		{"a.*", false, false},
		{"a b", false, false},
		{".a", false, false},
		{"a.", false, false},
		{"a..b", false, false},
		{"é", false, false},
		{"a\x00", false, false},
	} {
		if err := ValidToken(c.s); (err == nil) != c.token || err != nil && !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidToken(%s) = %v, want valid %v", Truncate(c.s), err, c.token)
		}
		if err := ValidKey(c.s); (err == nil) != c.key || err != nil && !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidKey(%s) = %v, want valid %v", Truncate(c.s), err, c.key)
		}
	}
	if got := Truncate(strings.Repeat("x", 5000)); len(got) > 100 || !strings.Contains(got, "5000 bytes") {
		t.Errorf("Truncate of 5000 bytes: %s", got)
	}
}
