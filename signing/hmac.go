package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// HMACKey is a decoded "whsec_" secret: it signs "v1" (HMAC-SHA256).
type HMACKey []byte

// ParseHMACKey decodes a "whsec_..." secret. Errors wrap ErrInvalidSecret.
func ParseHMACKey(secret string) (HMACKey, error) {
	raw, ok := strings.CutPrefix(secret, PrefixSymmetric)
	if !ok {
		return nil, fmt.Errorf("%w: missing %s or %s prefix", ErrInvalidSecret, PrefixSymmetric, PrefixSecretKey)
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSecret, err)
	}
	return HMACKey(b), nil
}

// Sign returns the "v1,<base64>" signature of body for message id at ts.
func (k HMACKey) Sign(id string, ts time.Time, body []byte) string {
	return string(k.AppendSign(nil, id, ts, body))
}

// AppendSign appends Sign's signature to dst. The signed content is
// written to the MAC piece by piece, not assembled in a copy of the body.
func (k HMACKey) AppendSign(dst []byte, id string, ts time.Time, body []byte) []byte {
	mac := hmac.New(sha256.New, k)
	writeSignedContent(mac, id, ts, body)
	var sum [sha256.Size]byte
	dst = append(dst, versionSymmetric+","...)
	return base64.StdEncoding.AppendEncode(dst, mac.Sum(sum[:0]))
}
