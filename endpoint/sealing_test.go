package endpoint

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/sealed"
)

func testBox(t *testing.T, b byte) *sealed.Box {
	t.Helper()
	key := make([]byte, sealed.KeySize)
	key[0] = b
	box, err := sealed.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return box
}

// Sealing covers the secret, rotated-out secrets and header values; opening
// restores them; a value stored before sealing opens as it is; without the
// right key an endpoint reports ErrSealed.
func TestSealedCopyAndOpen(t *testing.T) {
	box := testBox(t, 1)
	const hook = "https://hooks.slack.com/services/T0/B0/pathSecret?token=q"
	e := &Endpoint{ID: "ep_1", URL: hook, Secret: "whsec_current", Headers: map[string]string{"X-Key": "v4lue"},
		PreviousSecrets: []PreviousSecret{{Secret: "whsec_old", ExpiresAt: time.Now().Add(time.Hour)}}}
	s := e.sealedCopy(box)
	for _, v := range []string{s.URL, s.Secret, s.PreviousSecrets[0].Secret, s.Headers["X-Key"]} {
		if !strings.HasPrefix(v, "sealed:v1:") {
			t.Fatalf("not sealed: %q", v)
		}
	}
	if e.URL != hook || e.Secret != "whsec_current" || e.Headers["X-Key"] != "v4lue" {
		t.Fatal("sealing changed the original")
	}
	if err := s.open(box); err != nil || s.URL != hook || s.Secret != "whsec_current" || s.PreviousSecrets[0].Secret != "whsec_old" || s.Headers["X-Key"] != "v4lue" {
		t.Fatalf("opened %+v, %v", s, err)
	}
	legacy := &Endpoint{ID: "ep_2", URL: "https://x.example/hook?token=plain", Secret: "whsec_plain"}
	if err := legacy.open(box); err != nil || legacy.Secret != "whsec_plain" || legacy.URL != "https://x.example/hook?token=plain" {
		t.Fatalf("legacy: %+v, %v", legacy, err)
	}
	for _, wrong := range []Sealer{testBox(t, 2), nil} {
		again := e.sealedCopy(box)
		if err := again.open(wrong); !errors.Is(err, ErrSealed) {
			t.Fatalf("opened with the wrong key or none: %v", err)
		}
	}
}
