package rules

import (
	"errors"
	"testing"
)

func TestKeyRendersValues(t *testing.T) {
	var ev Evaluator
	env := &Env{Type: "order.paid", Data: map[string]any{"order_id": 42.0, "name": "a", "ok": true, "nested": map[string]any{}}}
	for src, want := range map[string]string{
		"data.order_id":           "42",
		"data.name":               "a",
		"data.ok":                 "true",
		"data.missing":            "",
		"type + ':' + data.name":  "order.paid:a",
		"string(data.order_id+1)": "43",
	} {
		k, err := CompileKey(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		got, err := ev.Key(k, env)
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", src, got, err, want)
		}
	}
}

func TestKeyRejectsBadSource(t *testing.T) {
	for _, src := range []string{"data.", "unknown_fn(1)", string(make([]byte, MaxSourceLen+1))} {
		if _, err := CompileKey(src); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("CompileKey(%.20q) = %v, want ErrInvalidKey", src, err)
		}
	}
	if k, err := CompileKey(""); k != nil || err != nil {
		t.Errorf("empty key = %v, %v; want nil, nil", k, err)
	}
}

func TestLaneIsStableAndInRange(t *testing.T) {
	seen := map[int]bool{}
	for i := range 1000 {
		key := string(rune('a'+i%26)) + string(rune('0'+i%10))
		l := Lane(key, 16)
		if l < 1 || l > 16 {
			t.Fatalf("Lane(%q) = %d, out of 1..16", key, l)
		}
		if Lane(key, 16) != l {
			t.Fatalf("Lane(%q) not stable", key)
		}
		seen[l] = true
	}
	if len(seen) < 12 {
		t.Errorf("keys spread over %d of 16 lanes only", len(seen))
	}
	if Lane("x", 1) != 1 || Lane("x", 0) != 1 {
		t.Error("a single lane must be lane 1")
	}
}
