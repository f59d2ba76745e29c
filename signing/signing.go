// Package signing owns how hookd proves a delivery came from it: Standard
// Webhooks signatures over "id.timestamp.body", symmetric (HMAC-SHA256,
// "v1", "whsec_" secrets) or asymmetric (ed25519, "v1a", "whsk_" secret
// keys whose "whpk_" public keys receivers verify with).
package signing

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks header names.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Secret prefixes, as the Standard Webhooks specification names them.
const (
	PrefixSymmetric  = "whsec_"
	PrefixSecretKey  = "whsk_"
	PrefixPublicKey  = "whpk_"
	versionSymmetric = "v1"
	versionEd25519   = "v1a"
)

// Schemes an endpoint signs with; SchemeFor tells them apart by prefix.
const (
	SchemeHMAC    = "hmac-sha256"
	SchemeEd25519 = "ed25519"
)

// ErrInvalidSecret reports a secret that is not "whsec_" or "whsk_" and
// the base64 of a key of the right size.
var ErrInvalidSecret = errors.New("invalid signing secret")

// Key signs deliveries under one scheme. Implementations are safe for
// concurrent use.
type Key interface {
	// Sign returns "<version>,<base64 signature>" of body for message id
	// at ts.
	Sign(id string, ts time.Time, body []byte) string
	// AppendSign is Sign appending to dst, which it returns: a worker
	// signs an attempt into one buffer, whatever the number of keys.
	AppendSign(dst []byte, id string, ts time.Time, body []byte) []byte
}

var (
	_ Key = (*HMACKey)(nil)
	_ Key = Ed25519Key(nil)
)

// ParseKey decodes a "whsec_..." (HMACKey) or "whsk_..." (Ed25519Key)
// secret. Errors wrap ErrInvalidSecret.
func ParseKey(secret string) (Key, error) {
	if strings.HasPrefix(secret, PrefixSecretKey) {
		return ParseEd25519Key(secret)
	}
	return ParseHMACKey(secret)
}

// SchemeFor names the scheme a secret signs with: SchemeEd25519 for
// "whsk_" secrets, SchemeHMAC otherwise.
func SchemeFor(secret string) string {
	if strings.HasPrefix(secret, PrefixSecretKey) {
		return SchemeEd25519
	}
	return SchemeHMAC
}

// signedContent is what every scheme signs: "id.timestamp.body".
func signedContent(id string, ts time.Time, body []byte) []byte {
	b := make([]byte, 0, len(id)+len(body)+22)
	b = append(b, id...)
	b = append(b, '.')
	b = strconv.AppendInt(b, ts.Unix(), 10)
	b = append(b, '.')
	return append(b, body...)
}

// Headers returns the three Standard Webhooks headers for one attempt,
// signed with every key (so a receiver can verify during a rotation, even
// one that changes scheme).
func Headers(id string, ts time.Time, body []byte, keys ...Key) map[string]string {
	return map[string]string{
		HeaderID:        id,
		HeaderTimestamp: Timestamp(ts),
		HeaderSignature: Signature(id, ts, body, keys...),
	}
}

// Timestamp is the webhook-timestamp header's value at ts.
func Timestamp(ts time.Time) string { return strconv.FormatInt(ts.Unix(), 10) }

// Signature is the webhook-signature header's value, as Headers gives it:
// every key's signature, separated by spaces ("" without keys), made in
// one buffer.
func Signature(id string, ts time.Time, body []byte, keys ...Key) string {
	if len(keys) == 0 {
		return ""
	}
	// Room for the common case, one HMAC signature ("v1," and 44 base64
	// characters): the string below is then the only other allocation.
	var buf [64]byte
	b := buf[:0]
	for i, k := range keys {
		if i > 0 {
			b = append(b, ' ')
		}
		b = k.AppendSign(b, id, ts, body)
	}
	return string(b)
}

// appendSignedHead appends what is signed before the body, "id.timestamp.".
func appendSignedHead(dst []byte, id string, ts time.Time) []byte {
	dst = append(dst, id...)
	dst = append(dst, '.')
	dst = strconv.AppendInt(dst, ts.Unix(), 10)
	return append(dst, '.')
}
