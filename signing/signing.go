// Package signing owns how hookd proves a delivery came from it: Standard
// Webhooks signatures (HMAC-SHA256 over "id.timestamp.body").
package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
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

// ErrInvalidSecret reports a secret that is not "whsec_" + base64.
var ErrInvalidSecret = errors.New("invalid signing secret")

// Key is a decoded signing secret.
type Key []byte

// ParseKey decodes a "whsec_..." secret.
func ParseKey(secret string) (Key, error) {
	raw, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return nil, fmt.Errorf("%w: missing whsec_ prefix", ErrInvalidSecret)
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSecret, err)
	}
	return Key(b), nil
}

// Sign returns the "v1,<base64>" signature of body for message id at ts.
func (k Key) Sign(id string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, k)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, ts.Unix(), 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Headers returns the three Standard Webhooks headers for one attempt,
// signed with every key (so a receiver can verify during a secret rotation).
func Headers(id string, ts time.Time, body []byte, keys ...Key) map[string]string {
	sigs := make([]string, len(keys))
	for i, k := range keys {
		sigs[i] = k.Sign(id, ts, body)
	}
	return map[string]string{
		HeaderID:        id,
		HeaderTimestamp: strconv.FormatInt(ts.Unix(), 10),
		HeaderSignature: strings.Join(sigs, " "),
	}
}
