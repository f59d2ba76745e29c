package httpapi

import (
	"net/http"
	"time"

	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/signing"
)

// parseScheme reads an optional "signing" field.
func parseScheme(s *string) (string, error) {
	if s == nil {
		return "", nil
	}
	switch *s {
	case signing.SchemeHMAC, signing.SchemeEd25519:
		return *s, nil
	default:
		return "", fieldError("signing", "must be %q (shared secret, v1) or %q (public key, v1a)", signing.SchemeHMAC, signing.SchemeEd25519)
	}
}

// signingScheme is the scheme a create asks for: "signing", or the kind of
// secret given; both must agree.
func (in *endpointInput) signingScheme() (string, error) {
	scheme, err := parseScheme(in.Signing)
	if err != nil || in.Secret == nil {
		return scheme, err
	}
	if given := signing.SchemeFor(*in.Secret); scheme != "" && given != scheme {
		return "", fieldError("secret", "is a %s secret but signing is %s", given, scheme)
	} else {
		return given, nil
	}
}

type publicKeysView struct {
	Signing    string               `json:"signing"`
	PublicKeys []endpoint.PublicKey `json:"public_keys"`
}

// getPublicKeys answers the "whpk_" keys receivers verify v1a signatures
// with: the current one first, then any still signing after a rotation.
// Empty for an endpoint that signs with a shared secret only.
func (a *API) getPublicKeys(w http.ResponseWriter, r *http.Request) {
	e, err := a.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	keys := e.PublicKeys(time.Now())
	if keys == nil {
		keys = []endpoint.PublicKey{}
	}
	writeJSON(w, http.StatusOK, publicKeysView{Signing: e.Signing(), PublicKeys: keys})
}
