package endpoint

import (
	"crypto/rand"
	"encoding/base64"
	"math"
	"time"

	"github.com/hookd/hookd/signing"
)

// Endpoint is a URL that receives the events matching its rule.
type Endpoint struct {
	// ID is assigned at creation, e.g. "ep_01j9...".
	ID string `json:"id"`
	// Tenant owns the endpoint; "" is the default tenant.
	Tenant string `json:"tenant,omitempty"`
	// Name and Description are free text for people.
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	// URL receives the deliveries: absolute http or https.
	URL string `json:"url"`
	// Events are NATS-style patterns over the event type; empty means every
	// event type.
	Events []string `json:"events"`
	// Filter is an optional expr expression over the event.
	Filter string `json:"filter,omitempty"`
	// Secret signs every delivery (Standard Webhooks): a shared "whsec_"
	// secret (HMAC-SHA256, "v1") or a "whsk_" ed25519 secret key ("v1a"),
	// whose public key receivers verify with.
	Secret string `json:"secret"`
	// PreviousSecrets still sign deliveries until they expire, so receivers
	// can switch secrets without a gap.
	PreviousSecrets []PreviousSecret `json:"previous_secrets,omitempty"`
	// Headers are sent with every delivery (an API key, a bearer token).
	// Their values are secrets: never shown in full, never logged. A value
	// holding "{{" is a template over the event, rendered per delivery by
	// the router (see package payload).
	Headers map[string]string `json:"headers,omitempty"`
	// Timeout bounds one attempt; 0 means the server's default.
	Timeout time.Duration `json:"timeout,omitempty"`
	// Retry overrides the server's retry schedule.
	Retry RetryPolicy `json:"retry,omitzero"`
	// MaxInFlight caps the deliveries out at once to this endpoint across
	// all workers; 0 means no cap beyond the workers' own.
	MaxInFlight int `json:"max_in_flight,omitempty"`
	// RateLimit caps the deliveries per second to this endpoint across all
	// workers; 0 means none.
	RateLimit float64 `json:"rate_limit,omitempty"`
	// Ordering is OrderingNone ("") or OrderingOrdered. Fixed at creation.
	Ordering string `json:"ordering,omitempty"`
	// OrderingKey is an optional expr expression (e.g. `data.order_id`) of
	// an ordered endpoint: only deliveries with equal keys wait for each
	// other. Fixed at creation.
	OrderingKey string `json:"ordering_key,omitempty"`
	// Batch, when set, sends the endpoint's deliveries in batches, as one
	// POST each.
	Batch *Batch `json:"batch,omitempty"`
	// Profile selects ready-made response handling: ProfileStandard ("")
	// or ProfileLangSmith.
	Profile string `json:"profile,omitempty"`
	// Format is what the endpoint receives: one of package payload's
	// formats; "" is the standard envelope.
	Format string `json:"format,omitempty"`
	// Transform is the expr expression that builds the body when Format
	// is "transform".
	Transform string `json:"transform,omitempty"`
	// Metadata are free labels.
	Metadata map[string]string `json:"metadata,omitempty"`
	// Disabled endpoints are still routed to, but their deliveries are held
	// until the endpoint is enabled again.
	Disabled bool `json:"disabled"`
	// DisabledReason says why hookd disabled the endpoint by itself (it
	// answered 410 Gone, or auto-disable): empty when a person disabled
	// it, so operators can tell the two apart. Cleared on enable.
	DisabledReason string `json:"disabled_reason,omitempty"`
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// RoutedFromSeq is the events stream sequence from which routers route
	// events to the endpoint: the first event accepted after its creation
	// (earlier ones reach it by backfill). It is a stream position, not a
	// time: acceptance times come from the stream leader's clock,
	// CreatedAt from the API process's. RoutedFromPending while the
	// creation has not read it yet; 0 (endpoints stored by versions
	// before it) is every event. Set by Store.Create and Store.RouteFrom.
	RoutedFromSeq uint64 `json:"routed_from_seq,omitempty"`
}

// RoutedFromPending is RoutedFromSeq while an endpoint's creation has not
// read the events stream's position yet: routers hold the events it might
// receive until it is known (see package router).
const RoutedFromPending = math.MaxUint64

// Routes reports whether the event at events stream sequence seq is the
// endpoint's to be routed: accepted after the endpoint's creation. It is
// false for every event while RoutedFromSeq is RoutedFromPending.
func (e *Endpoint) Routes(seq uint64) bool {
	return seq >= e.RoutedFromSeq && e.RoutedFromSeq != RoutedFromPending
}

// PreviousSecret is a rotated-out secret and when it stops signing.
type PreviousSecret struct {
	Secret    string    `json:"secret"`
	ExpiresAt time.Time `json:"expires_at"`
}

// SecretPrefix starts every generated symmetric signing secret.
const SecretPrefix = signing.PrefixSymmetric

// NewSecret returns a new symmetric signing secret: "whsec_" and the
// base64 of 32 random bytes, the form Standard Webhooks libraries accept.
func NewSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return SecretPrefix + base64.StdEncoding.EncodeToString(b[:])
}

// NewSecretFor returns a new secret of scheme: signing.SchemeEd25519 or
// signing.SchemeHMAC (also for "").
func NewSecretFor(scheme string) string {
	if scheme == signing.SchemeEd25519 {
		return signing.NewEd25519Secret()
	}
	return NewSecret()
}

// Signing names the scheme the endpoint's current secret signs with.
func (e *Endpoint) Signing() string { return signing.SchemeFor(e.Secret) }

// PublicKey is an ed25519 public key receivers verify with, and until when
// (zero: the current key, no end).
type PublicKey struct {
	PublicKey string     `json:"public_key"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// PublicKeys returns the "whpk_" public keys of every ed25519 secret that
// signs a delivery made at now: the current one first. An endpoint that
// signs with HMAC only has none.
func (e *Endpoint) PublicKeys(now time.Time) []PublicKey {
	var out []PublicKey
	if pk, err := signing.PublicKeyOf(e.Secret); err == nil {
		out = append(out, PublicKey{PublicKey: pk})
	}
	for _, p := range e.PreviousSecrets {
		if !now.Before(p.ExpiresAt) {
			continue
		}
		if pk, err := signing.PublicKeyOf(p.Secret); err == nil {
			exp := p.ExpiresAt
			out = append(out, PublicKey{PublicKey: pk, ExpiresAt: &exp})
		}
	}
	return out
}

// maxPreviousSecrets bounds how many rotated-out secrets are kept signing.
const maxPreviousSecrets = 5

// SigningSecrets returns the secrets that sign a delivery made at now: the
// current one first, then every previous one still in its grace period.
func (e *Endpoint) SigningSecrets(now time.Time) []string {
	out := []string{e.Secret}
	for _, p := range e.PreviousSecrets {
		if now.Before(p.ExpiresAt) {
			out = append(out, p.Secret)
		}
	}
	return out
}

// Rotate makes a new current secret of scheme ("" keeps the current one's);
// the old one keeps signing for grace (not at all when grace is 0), so a
// receiver can even switch from HMAC to ed25519 without a gap. Expired
// previous secrets are dropped.
func (e *Endpoint) Rotate(now time.Time, grace time.Duration, scheme string) (newSecret string) {
	kept := e.PreviousSecrets[:0]
	for _, p := range e.PreviousSecrets {
		if now.Before(p.ExpiresAt) {
			kept = append(kept, p)
		}
	}
	if grace > 0 {
		kept = append(kept, PreviousSecret{Secret: e.Secret, ExpiresAt: now.Add(grace).UTC()})
	}
	if len(kept) > maxPreviousSecrets {
		kept = kept[len(kept)-maxPreviousSecrets:]
	}
	e.PreviousSecrets = kept
	if scheme == "" {
		scheme = e.Signing()
	}
	e.Secret = NewSecretFor(scheme)
	return e.Secret
}
