package endpoint

import (
	"crypto/rand"
	"encoding/base64"
	"time"
)

// Endpoint is a URL that receives the events matching its rule.
type Endpoint struct {
	// ID is assigned at creation, e.g. "ep_01j9...".
	ID string `json:"id"`
	// URL receives the deliveries: absolute http or https.
	URL string `json:"url"`
	// Events are NATS-style patterns over the event type; empty means every
	// event type.
	Events []string `json:"events"`
	// Filter is an optional expr expression over the event.
	Filter string `json:"filter,omitempty"`
	// Secret signs every delivery (Standard Webhooks, "whsec_" + base64).
	Secret string `json:"secret"`
	// Disabled endpoints are still routed to, but their deliveries are held
	// until the endpoint is enabled again.
	Disabled bool `json:"disabled"`
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// SecretPrefix starts every generated signing secret.
const SecretPrefix = "whsec_"

// NewSecret returns a new signing secret: "whsec_" and the base64 of 32
// random bytes, the form Standard Webhooks libraries accept.
func NewSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return SecretPrefix + base64.StdEncoding.EncodeToString(b[:])
}
