package httpapi

import (
	"net/http"
	"time"

	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/signing"
)

// defaultGracePeriod is how long a rotated-out secret keeps signing.
const defaultGracePeriod = 24 * time.Hour

type rotateInput struct {
	GracePeriod *string `json:"grace_period"`
	Signing     *string `json:"signing"`
}

// rotated shows the new shared secret, or the new public key of an
// ed25519 endpoint (its secret key never leaves hookd).
type rotated struct {
	Signing                 string     `json:"signing"`
	Secret                  string     `json:"secret,omitempty"`
	PublicKey               string     `json:"public_key,omitempty"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
}

// rotateSecret makes a new secret; during the grace period every delivery
// is signed with both, so receivers can switch without a gap.
func (a *API) rotateSecret(w http.ResponseWriter, r *http.Request) {
	var in rotateInput
	if r.ContentLength != 0 {
		if err := decodeBody(w, r, maxSmallBody, &in); err != nil {
			writeError(w, err)
			return
		}
	}
	grace := defaultGracePeriod
	if in.GracePeriod != nil {
		d, err := time.ParseDuration(*in.GracePeriod)
		if err != nil || d < 0 || d > 30*24*time.Hour {
			writeError(w, fieldError("grace_period", "must be a duration from 0s to 720h, like 24h"))
			return
		}
		grace = d
	}
	scheme, err := parseScheme(in.Signing)
	if err != nil {
		writeError(w, err)
		return
	}
	now := time.Now().UTC()
	a.change(w, r, "secret rotated", func(e *endpoint.Endpoint) error {
		e.Rotate(now, grace, scheme)
		return nil
	}, func(e *endpoint.Endpoint) any {
		out := rotated{Signing: e.Signing()}
		if out.Signing == signing.SchemeHMAC {
			out.Secret = e.Secret
		} else {
			out.PublicKey = e.PublicKeys(now)[0].PublicKey
		}
		if grace > 0 {
			exp := now.Add(grace)
			out.PreviousSecretExpiresAt = &exp
		}
		return out
	})
}
