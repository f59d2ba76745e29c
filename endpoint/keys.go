package endpoint

import (
	"time"

	"github.com/hookd/hookd/signing"
)

// parsedSecrets are an endpoint's signing secrets parsed, in
// SigningSecrets' order: the current one, then each previous one.
type parsedSecrets struct {
	keys    []signing.Key
	errs    []error
	expires []time.Time // zero for the current secret
}

// SigningKeys returns the keys that sign an attempt made at now: the
// current secret's and those of the previous secrets still in their grace
// period, as SigningSecrets lists them. They are parsed once per compiled
// endpoint, not per attempt, and each key keeps its MAC state between
// signatures (signing.HMACKey); a change of the endpoint compiles it anew.
// The slice must not be changed. A secret in use that cannot be parsed is
// an error wrapping signing.ErrInvalidSecret.
func (c *Compiled) SigningKeys(now time.Time) ([]signing.Key, error) {
	ps := c.keys.Load()
	if ps == nil {
		ps = &parsedSecrets{}
		ps.add(c.Secret, time.Time{})
		for _, p := range c.PreviousSecrets {
			ps.add(p.Secret, p.ExpiresAt)
		}
		// Two first attempts at once may both parse: one set is kept.
		c.keys.CompareAndSwap(nil, ps)
		ps = c.keys.Load()
	}
	shared := true // every secret signs, the common case: no copy
	for i, err := range ps.errs {
		if err != nil || ps.expired(i, now) {
			shared = false
			break
		}
	}
	if shared {
		return ps.keys, nil
	}
	out := make([]signing.Key, 0, len(ps.keys))
	for i, k := range ps.keys {
		if ps.expired(i, now) {
			continue
		}
		if ps.errs[i] != nil {
			return nil, ps.errs[i]
		}
		out = append(out, k)
	}
	return out, nil
}

func (ps *parsedSecrets) add(secret string, expires time.Time) {
	k, err := signing.ParseKey(secret)
	ps.keys, ps.errs, ps.expires = append(ps.keys, k), append(ps.errs, err), append(ps.expires, expires)
}

// expired reports whether secret i no longer signs at now.
func (ps *parsedSecrets) expired(i int, now time.Time) bool {
	return !ps.expires[i].IsZero() && !now.Before(ps.expires[i])
}
