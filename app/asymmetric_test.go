package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/signing"
)

type signedEndpoint struct {
	ID        string `json:"id"`
	Signing   string `json:"signing"`
	PublicKey string `json:"public_key"`
	Secret    string `json:"secret"`
}

func decodeInto(t *testing.T, out []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
}

// An ed25519 endpoint signs v1a: the receiver verifies with the public key
// from the create answer alone; the secret key is never shown and is not
// stored in plain text; a rotation signs with both keys for its grace
// period, and the public-keys route lists both.
func TestEd25519SignedDeliveries(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	h := hookdtest.Start(t, fastConfig())
	status, out := h.Do(t, http.MethodPost, "/v1/endpoints", map[string]any{"url": rc.URL, "signing": "ed25519"})
	if status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, out)
	}
	var ep signedEndpoint
	decodeInto(t, out, &ep)
	if ep.Signing != signing.SchemeEd25519 || !strings.HasPrefix(ep.PublicKey, "whpk_") || ep.Secret != "" || strings.Contains(string(out), "whsk_") {
		t.Fatalf("create answered %s: want signing ed25519, a public key and no secret", out)
	}
	h.WaitEndpoint(t, ep.ID, func(e *hookdtest.Endpoint) bool { return e != nil })

	h.PublishEvent(t, "a.b", map[string]int{"n": 1})
	hookdtest.WaitFor(t, 10*time.Second, "the first delivery", func() bool { return rc.Count() == 1 })
	first := rc.Requests()[0]
	if err := signing.VerifyEd25519(first.Header, first.Body, time.Now(), 5*time.Minute, ep.PublicKey); err != nil {
		t.Fatalf("the public key does not verify the delivery: %v (signature %q)", err, first.Header.Get(signing.HeaderSignature))
	}
	if sig := first.Header.Get(signing.HeaderSignature); strings.Contains(sig, "v1,") {
		t.Fatalf("an ed25519 endpoint also sent a v1 signature: %q", sig)
	}

	for _, path := range []string{"/secret", ""} {
		status, out = h.Do(t, http.MethodGet, "/v1/endpoints/"+ep.ID+path, nil)
		if status != http.StatusOK || strings.Contains(string(out), "whsk_") || !strings.Contains(string(out), ep.PublicKey) {
			t.Fatalf("GET %s: %d %s: want the public key, never the secret key", path, status, out)
		}
	}
	if raw := h.StoredEndpoint(t, ep.ID); strings.Contains(raw, "whsk_") || !strings.Contains(raw, "sealed:v1:") {
		t.Fatalf("the stored endpoint shows its secret key, or nothing sealed: %s", raw)
	}

	status, out = h.Do(t, http.MethodPost, "/v1/endpoints/"+ep.ID+"/rotate-secret", map[string]string{"grace_period": "1h"})
	if status != http.StatusOK {
		t.Fatalf("rotate: %d %s", status, out)
	}
	var rot signedEndpoint
	decodeInto(t, out, &rot)
	if rot.PublicKey == "" || rot.PublicKey == ep.PublicKey || rot.Secret != "" {
		t.Fatalf("rotate answered %s", out)
	}
	status, out = h.Do(t, http.MethodGet, "/v1/endpoints/"+ep.ID+"/public-keys", nil)
	var keys struct {
		PublicKeys []struct {
			PublicKey string     `json:"public_key"`
			ExpiresAt *time.Time `json:"expires_at"`
		} `json:"public_keys"`
	}
	decodeInto(t, out, &keys)
	if status != http.StatusOK || len(keys.PublicKeys) != 2 || keys.PublicKeys[0].PublicKey != rot.PublicKey ||
		keys.PublicKeys[1].PublicKey != ep.PublicKey || keys.PublicKeys[1].ExpiresAt == nil {
		t.Fatalf("public-keys: %d %s: want the new key, then the old one with its expiry", status, out)
	}
	hookdtest.WaitFor(t, 10*time.Second, "the rotation in the registry", func() bool {
		c := h.App.Registry().Snapshot().Get(ep.ID)
		return c != nil && len(c.PreviousSecrets) == 1
	})
	h.PublishEvent(t, "a.b", map[string]int{"n": 2})
	hookdtest.WaitFor(t, 10*time.Second, "the second delivery", func() bool { return rc.Count() == 2 })
	second := rc.Requests()[1]
	for _, pk := range []string{ep.PublicKey, rot.PublicKey} {
		if err := signing.VerifyEd25519(second.Header, second.Body, time.Now(), 5*time.Minute, pk); err != nil {
			t.Fatalf("during the grace period, key %s does not verify: %v", pk, err)
		}
	}
}

// Switching an HMAC endpoint to ed25519 by rotation keeps the shared
// secret signing for the grace period: deliveries carry both v1 (the
// official library verifies it) and v1a.
func TestRotateFromHMACToEd25519(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	h := hookdtest.Start(t, fastConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL})
	status, out := h.Do(t, http.MethodPost, "/v1/endpoints/"+ep.ID+"/rotate-secret", map[string]string{"grace_period": "1h", "signing": "ed25519"})
	if status != http.StatusOK {
		t.Fatalf("rotate: %d %s", status, out)
	}
	var rot signedEndpoint
	decodeInto(t, out, &rot)
	if rot.Signing != signing.SchemeEd25519 || rot.PublicKey == "" {
		t.Fatalf("rotate answered %s", out)
	}
	hookdtest.WaitFor(t, 10*time.Second, "the rotation in the registry", func() bool {
		c := h.App.Registry().Snapshot().Get(ep.ID)
		return c != nil && strings.HasPrefix(c.Secret, "whsk_")
	})
	h.PublishEvent(t, "a.b", map[string]int{"n": 1})
	hookdtest.WaitFor(t, 10*time.Second, "the delivery", func() bool { return rc.Count() == 1 })
	got := rc.Requests()[0]
	verify(t, ep.Secret, got)
	if err := signing.VerifyEd25519(got.Header, got.Body, time.Now(), 5*time.Minute, rot.PublicKey); err != nil {
		t.Fatalf("v1a: %v", err)
	}
}

// Bad signing input names its field.
func TestSigningInputErrors(t *testing.T) {
	h := hookdtest.Start(t, fastConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": "https://example.com/hook"})
	cases := []struct {
		method, path string
		body         any
		field        string
	}{
		{http.MethodPost, "/v1/endpoints", map[string]any{"url": "https://example.com/a", "signing": "rsa"}, "signing"},
		{http.MethodPost, "/v1/endpoints", map[string]any{"url": "https://example.com/a", "signing": "ed25519", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, "secret"},
		{http.MethodPost, "/v1/endpoints", map[string]any{"url": "https://example.com/a", "secret": "whsk_AAAA"}, "secret"},
		{http.MethodPatch, "/v1/endpoints/" + ep.ID, map[string]any{"signing": "ed25519"}, "signing"},
		{http.MethodPost, "/v1/endpoints/" + ep.ID + "/rotate-secret", map[string]any{"signing": "none"}, "signing"},
	}
	for _, c := range cases {
		status, out := h.Do(t, c.method, c.path, c.body)
		if status != http.StatusBadRequest || !strings.Contains(string(out), `"field":"`+c.field+`"`) {
			t.Errorf("%s %s %v: %d %s, want 400 naming %s", c.method, c.path, c.body, status, out, c.field)
		}
	}
	// A given whsk_ secret key is taken, and signs.
	status, out := h.Do(t, http.MethodPost, "/v1/endpoints", map[string]any{"url": "https://example.com/b", "secret": signing.NewEd25519Secret()})
	if status != http.StatusCreated || !strings.Contains(string(out), `"signing":"ed25519"`) {
		t.Fatalf("create with a whsk_ secret: %d %s", status, out)
	}
}
