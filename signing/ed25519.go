package signing

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Ed25519Key is a decoded "whsk_" secret key: it signs "v1a" (ed25519),
// which receivers verify with the "whpk_" public key alone, so a leaked
// verification key cannot forge a delivery.
type Ed25519Key ed25519.PrivateKey

// NewEd25519Secret returns a new "whsk_" secret key: the base64 of an
// ed25519 private key (seed and public key, 64 bytes).
func NewEd25519Secret() string {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic("signing: no randomness: " + err.Error()) // crypto/rand never fails on supported platforms
	}
	return PrefixSecretKey + base64.StdEncoding.EncodeToString(priv)
}

// ParseEd25519Key decodes a "whsk_..." secret key: the base64 of a 64-byte
// ed25519 private key, or of its 32-byte seed. It is cheap for the 64-byte
// form (workers parse per delivery); CheckEd25519Secret also proves the
// public half matches the seed. Errors wrap ErrInvalidSecret.
func ParseEd25519Key(secret string) (Ed25519Key, error) {
	raw, ok := strings.CutPrefix(secret, PrefixSecretKey)
	if !ok {
		return nil, fmt.Errorf("%w: missing %s prefix", ErrInvalidSecret, PrefixSecretKey)
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSecret, err)
	}
	switch len(b) {
	case ed25519.SeedSize:
		return Ed25519Key(ed25519.NewKeyFromSeed(b)), nil
	case ed25519.PrivateKeySize:
		return Ed25519Key(b), nil
	default:
		return nil, fmt.Errorf("%w: an ed25519 key is %d or %d bytes, not %d", ErrInvalidSecret, ed25519.SeedSize, ed25519.PrivateKeySize, len(b))
	}
}

// CheckEd25519Secret parses secret like ParseEd25519Key and refuses a
// 64-byte key whose second half is not its seed's public key: it would
// sign what no published public key verifies. Errors wrap
// ErrInvalidSecret.
func CheckEd25519Secret(secret string) error {
	k, err := ParseEd25519Key(secret)
	if err != nil {
		return err
	}
	if !ed25519.NewKeyFromSeed(ed25519.PrivateKey(k).Seed()).Equal(ed25519.PrivateKey(k)) {
		return fmt.Errorf("%w: the public half does not match the seed", ErrInvalidSecret)
	}
	return nil
}

// Sign returns the "v1a,<base64>" ed25519 signature of body for message id
// at ts.
func (k Ed25519Key) Sign(id string, ts time.Time, body []byte) string {
	return string(k.AppendSign(nil, id, ts, body))
}

// AppendSign appends Sign's signature to dst.
func (k Ed25519Key) AppendSign(dst []byte, id string, ts time.Time, body []byte) []byte {
	sig := ed25519.Sign(ed25519.PrivateKey(k), signedContent(id, ts, body))
	dst = append(dst, versionEd25519+","...)
	return base64.StdEncoding.AppendEncode(dst, sig)
}

// PublicKey returns the "whpk_" public key receivers verify with.
func (k Ed25519Key) PublicKey() string {
	pub := ed25519.PrivateKey(k).Public().(ed25519.PublicKey)
	return PrefixPublicKey + base64.StdEncoding.EncodeToString(pub)
}

// PublicKeyOf returns the "whpk_" public key of a "whsk_" secret key.
// Errors wrap ErrInvalidSecret.
func PublicKeyOf(secret string) (string, error) {
	k, err := ParseEd25519Key(secret)
	if err != nil {
		return "", err
	}
	return k.PublicKey(), nil
}

// Errors of VerifyEd25519.
var (
	ErrNoMatchingSignature = errors.New("no v1a signature matches")
	ErrTimestamp           = errors.New("webhook-timestamp missing or outside the tolerance")
)

// VerifyEd25519 checks a received delivery the way a receiver should: the
// webhook-timestamp is within tolerance of now, and one of the "v1a"
// signatures in webhook-signature verifies under one of the "whpk_"
// publicKeys. It is what hookd's receivers written in Go can use, and what
// hookd's own tests check deliveries with.
func VerifyEd25519(h http.Header, body []byte, now time.Time, tolerance time.Duration, publicKeys ...string) error {
	sec, err := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return ErrTimestamp
	}
	ts := time.Unix(sec, 0)
	if ts.Before(now.Add(-tolerance)) || ts.After(now.Add(tolerance)) {
		return ErrTimestamp
	}
	msg := signedContent(h.Get(HeaderID), ts, body)
	var pubs []ed25519.PublicKey
	for _, pk := range publicKeys {
		raw, ok := strings.CutPrefix(pk, PrefixPublicKey)
		if !ok {
			return fmt.Errorf("%w: public key lacks the %s prefix", ErrInvalidSecret, PrefixPublicKey)
		}
		b, err := base64.StdEncoding.DecodeString(raw)
		if err != nil || len(b) != ed25519.PublicKeySize {
			return fmt.Errorf("%w: public key is not the base64 of %d bytes", ErrInvalidSecret, ed25519.PublicKeySize)
		}
		pubs = append(pubs, b)
	}
	for _, s := range strings.Fields(h.Get(HeaderSignature)) {
		raw, ok := strings.CutPrefix(s, versionEd25519+",")
		if !ok {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			continue
		}
		for _, pub := range pubs {
			if ed25519.Verify(pub, msg, sig) {
				return nil
			}
		}
	}
	return ErrNoMatchingSignature
}
