package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"
	"weak"
)

// HMACKey is a decoded "whsec_" secret: it signs "v1" (HMAC-SHA256). It is
// safe for concurrent use.
//
// A key signing again reuses its MAC state: a new crypto/hmac MAC costs
// five allocations and hashes the key's two pad blocks, Reset of a used
// one neither. One spare state is kept per key, weakly: the collector
// takes it back once the key is idle (its endpoint is not delivering), so
// 100,000 endpoints that each signed once hold no state each (a state is
// about 600 bytes).
type HMACKey struct {
	key []byte

	mu    sync.Mutex
	spare weak.Pointer[macState]
}

// macState is one HMAC-SHA256 of a key, used by one signature at a time,
// with the buffers a signature needs (which would escape to the heap
// through the hash.Hash interface if they were on the stack).
type macState struct {
	mac  hash.Hash
	head [96]byte
	sum  [sha256.Size]byte
}

// ParseHMACKey decodes a "whsec_..." secret. Errors wrap ErrInvalidSecret.
func ParseHMACKey(secret string) (*HMACKey, error) {
	raw, ok := strings.CutPrefix(secret, PrefixSymmetric)
	if !ok {
		return nil, fmt.Errorf("%w: missing %s or %s prefix", ErrInvalidSecret, PrefixSymmetric, PrefixSecretKey)
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSecret, err)
	}
	return &HMACKey{key: b}, nil
}

// Sign returns the "v1,<base64>" signature of body for message id at ts.
func (k *HMACKey) Sign(id string, ts time.Time, body []byte) string {
	return string(k.AppendSign(nil, id, ts, body))
}

// AppendSign appends Sign's signature to dst. The signed content is
// written to the MAC piece by piece, not assembled in a copy of the body.
func (k *HMACKey) AppendSign(dst []byte, id string, ts time.Time, body []byte) []byte {
	s := k.take()
	_, _ = s.mac.Write(appendSignedHead(s.head[:0], id, ts))
	_, _ = s.mac.Write(body)
	dst = append(dst, versionSymmetric+","...)
	dst = base64.StdEncoding.AppendEncode(dst, s.mac.Sum(s.sum[:0]))
	k.give(s)
	return dst
}

// take returns the key's spare state, reset, or a new one when there is
// none (another signature holds it, or the collector took it).
func (k *HMACKey) take() *macState {
	k.mu.Lock()
	s := k.spare.Value()
	k.spare = weak.Pointer[macState]{}
	k.mu.Unlock()
	if s == nil {
		return &macState{mac: hmac.New(sha256.New, k.key)}
	}
	s.mac.Reset()
	return s
}

// give keeps s as the key's spare state, in place of any other.
func (k *HMACKey) give(s *macState) {
	w := weak.Make(s)
	k.mu.Lock()
	k.spare = w
	k.mu.Unlock()
}
