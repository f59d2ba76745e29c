package signing

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RFC 8032, section 7.1, TEST 1: the secret key (seed) and its public key.
const (
	rfcSeed   = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
	rfcPublic = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
)

func rfcSecret(t *testing.T) string {
	t.Helper()
	seed, _ := hex.DecodeString(rfcSeed)
	return PrefixSecretKey + base64.StdEncoding.EncodeToString(seed)
}

func headerOf(m map[string]string) http.Header {
	h := http.Header{}
	for k, v := range m {
		h.Set(k, v)
	}
	return h
}

func TestEd25519PublicKeyMatchesRFC8032(t *testing.T) {
	pub, err := PublicKeyOf(rfcSecret(t))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := hex.DecodeString(rfcPublic)
	if pub != PrefixPublicKey+base64.StdEncoding.EncodeToString(want) {
		t.Fatalf("public key %s, want the RFC 8032 one %x", pub, want)
	}
}

// The v1a signature is ed25519 over "id.timestamp.body", as the Standard
// Webhooks specification defines it: checked with crypto/ed25519 directly,
// not with this package's verifier.
func TestEd25519SignsStandardWebhooksContent(t *testing.T) {
	k, err := ParseEd25519Key(rfcSecret(t))
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":"a.b","data":{"x":1}}`)
	ts := time.Unix(1614265330, 0)
	sig := k.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", ts, body)
	raw, ok := strings.CutPrefix(sig, "v1a,")
	if !ok {
		t.Fatalf("signature %q lacks the v1a version", sig)
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := hex.DecodeString(rfcPublic)
	msg := []byte("msg_p5jXN8AQM9LWM0D4loKWxJek." + strconv.FormatInt(ts.Unix(), 10) + "." + string(body))
	if !ed25519.Verify(pub, msg, b) {
		t.Fatal("crypto/ed25519 refused the v1a signature over id.timestamp.body")
	}
}

func TestVerifyEd25519(t *testing.T) {
	now := time.Now()
	secret := NewEd25519Secret()
	k, err := ParseEd25519Key(secret)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ParseEd25519Key(NewEd25519Secret())
	hmacKey, _ := ParseKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	body := []byte(`{"ok":true}`)
	pub := k.PublicKey()

	cases := []struct {
		name    string
		headers http.Header
		body    []byte
		keys    []string
		want    error
	}{
		{"signed", headerOf(Headers("m1", now, body, k)), body, []string{pub}, nil},
		{"rotation: v1, an old v1a and the new v1a", headerOf(Headers("m1", now, body, hmacKey, other, k)), body, []string{pub}, nil},
		{"either of two public keys", headerOf(Headers("m1", now, body, other)), body, []string{pub, other.PublicKey()}, nil},
		{"changed body", headerOf(Headers("m1", now, body, k)), []byte(`{"ok":false}`), []string{pub}, ErrNoMatchingSignature},
		{"other key", headerOf(Headers("m1", now, body, other)), body, []string{pub}, ErrNoMatchingSignature},
		{"v1 only", headerOf(Headers("m1", now, body, hmacKey)), body, []string{pub}, ErrNoMatchingSignature},
		{"too old", headerOf(Headers("m1", now.Add(-10*time.Minute), body, k)), body, []string{pub}, ErrTimestamp},
		{"bad public key", headerOf(Headers("m1", now, body, k)), body, []string{"whpk_AAAA"}, ErrInvalidSecret},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := VerifyEd25519(c.headers, c.body, now, 5*time.Minute, c.keys...)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	// A changed message id is refused too: it is signed.
	h := headerOf(Headers("m1", now, body, k))
	h.Set(HeaderID, "m2")
	if err := VerifyEd25519(h, body, now, 5*time.Minute, pub); !errors.Is(err, ErrNoMatchingSignature) {
		t.Fatalf("changed id: %v", err)
	}
}

func TestParseEd25519Key(t *testing.T) {
	seedForm, err := ParseEd25519Key(rfcSecret(t))
	if err != nil {
		t.Fatal(err)
	}
	fullForm, err := ParseEd25519Key(PrefixSecretKey + base64.StdEncoding.EncodeToString(seedForm))
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.PrivateKey(seedForm).Equal(ed25519.PrivateKey(fullForm)) {
		t.Fatal("seed and full forms differ")
	}
	mismatched := append([]byte{}, seedForm...)
	mismatched[40] ^= 1
	if err := CheckEd25519Secret(PrefixSecretKey + base64.StdEncoding.EncodeToString(mismatched)); !errors.Is(err, ErrInvalidSecret) {
		t.Errorf("public half mismatched: got %v, want ErrInvalidSecret", err)
	}
	if err := CheckEd25519Secret(NewEd25519Secret()); err != nil {
		t.Errorf("a new secret: %v", err)
	}
	for name, s := range map[string]string{
		"wrong size":       PrefixSecretKey + base64.StdEncoding.EncodeToString([]byte("short")),
		"not base64":       PrefixSecretKey + "!!",
		"symmetric prefix": "whsec_" + base64.StdEncoding.EncodeToString(seedForm),
	} {
		if _, err := ParseEd25519Key(s); !errors.Is(err, ErrInvalidSecret) {
			t.Errorf("%s: got %v, want ErrInvalidSecret", name, err)
		}
	}
	if k, err := ParseKey(NewEd25519Secret()); err != nil {
		t.Fatal(err)
	} else if _, ok := k.(Ed25519Key); !ok {
		t.Fatalf("ParseKey(whsk_) = %T", k)
	}
	if SchemeFor("whsk_x") != SchemeEd25519 || SchemeFor("whsec_x") != SchemeHMAC {
		t.Fatal("SchemeFor")
	}
}
