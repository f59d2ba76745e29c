package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"
)

// Scope is what a key may do.
type Scope string

// Scopes.
const (
	// ScopeAdmin may use every route.
	ScopeAdmin Scope = "admin"
	// ScopePublish may only publish events.
	ScopePublish Scope = "publish"
	// ScopeTenant sees and changes only its tenant's endpoints,
	// deliveries and events.
	ScopeTenant Scope = "tenant"
)

// Valid reports whether s is a known scope.
func (s Scope) Valid() bool { return s == ScopeAdmin || s == ScopePublish || s == ScopeTenant }

// Key is a stored API key: its secret is kept only as a hash.
type Key struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Scope     Scope     `json:"scope"`
	Hash      string    `json:"hash"`
	CreatedAt time.Time `json:"created_at"`
	// Tenant is the tenant a ScopeTenant key is limited to.
	Tenant string `json:"tenant,omitempty"`
	// ExpiresAt, when set, ends the key's validity (portal tokens).
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Portal keys are handed to a tenant's people: they cannot publish.
	Portal bool `json:"portal,omitempty"`
}

// Expired reports whether the key has expired at now.
func (k *Key) Expired(now time.Time) bool { return k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) }

// NewToken returns a new secret key: "hk_" and 32 random bytes, base64url.
func NewToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "hk_" + base64.RawURLEncoding.EncodeToString(b[:])
}

// Hash returns the stored form of a token. Tokens carry 256 random bits, so
// a fast hash is enough: there is nothing to brute-force.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// idFor derives a key id from a token's hash, so the same configured token
// (HOOKD_ADMIN_KEY) always maps to the same stored key.
func idFor(hash string) string { return fmt.Sprintf("key_%s", hash[:20]) }
