package sealed

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	key := make([]byte, KeySize)
	key[0] = 1
	b, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	s := b.Seal(secret)
	if strings.Contains(s, "MfKQ") || !strings.HasPrefix(s, prefix) || s == b.Seal(secret) {
		t.Fatalf("sealed %q: must hide the value and use a fresh nonce each time", s)
	}
	if got, err := b.Open(s); err != nil || got != secret {
		t.Fatalf("open: %q, %v", got, err)
	}
	if got, err := b.Open("plain legacy"); err != nil || got != "plain legacy" {
		t.Fatalf("legacy plain value: %q, %v", got, err)
	}
	tampered := s[:len(s)-2] + "AA"
	if _, err := b.Open(tampered); !errors.Is(err, ErrOpen) {
		t.Fatalf("tampered value opened: %v", err)
	}
	other, _ := New(make([]byte, KeySize))
	if _, err := other.Open(s); !errors.Is(err, ErrOpen) {
		t.Fatalf("another key opened it: %v", err)
	}
	var none *Box
	if none.Seal(secret) != secret {
		t.Fatal("a nil box sealed")
	}
	if _, err := none.Open(s); !errors.Is(err, ErrOpen) {
		t.Fatal("a nil box opened a sealed value")
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	k1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", info.Mode(), err)
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil || string(k1) != string(k2) {
		t.Fatal("the key changed between starts")
	}
	if _, err := ParseKey("short"); err == nil {
		t.Fatal("a short key parsed")
	}
}
