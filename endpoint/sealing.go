package endpoint

import (
	"errors"
	"fmt"
)

// ErrSealed reports an endpoint whose secrets cannot be opened: no master
// key, or not the one they were sealed with. Its deliveries are held.
var ErrSealed = errors.New("endpoint secrets cannot be opened")

// Sealer encrypts secrets at rest (see package sealed). Seal must leave ""
// alone; Open must return a value that was never sealed as it is.
type Sealer interface {
	Seal(plain string) string
	Open(value string) (string, error)
}

// Option configures a Store or a Registry.
type Option func(*options)

type options struct {
	sealer Sealer
}

// WithSealer stores signing secrets, header values and URLs sealed, and
// opens them when reading. Optional: without it they are stored as they
// are.
func WithSealer(s Sealer) Option { return func(o *options) { o.sealer = s } }

func apply(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	return o
}

// sealedCopy returns a copy of e with its secrets sealed. The URL is
// sealed whole: its path can be the credential (Slack's, Discord's and
// Teams' webhook URLs), not only its query (?token=), and nothing reads a
// URL from the store without opening it, so no part of it is kept in the
// clear.
func (e *Endpoint) sealedCopy(s Sealer) *Endpoint {
	if s == nil {
		return e
	}
	c := *e
	c.URL = s.Seal(e.URL)
	c.Secret = s.Seal(e.Secret)
	c.PreviousSecrets = make([]PreviousSecret, len(e.PreviousSecrets))
	for i, p := range e.PreviousSecrets {
		c.PreviousSecrets[i] = PreviousSecret{Secret: s.Seal(p.Secret), ExpiresAt: p.ExpiresAt}
	}
	if e.Headers != nil {
		c.Headers = make(map[string]string, len(e.Headers))
		for k, v := range e.Headers {
			c.Headers[k] = s.Seal(v)
		}
	}
	return &c
}

// open opens e's sealed secrets in place. Without a sealer, a sealed value
// is an error: the master key is missing.
func (e *Endpoint) open(s Sealer) error {
	s = orPlain(s)
	var err error
	if e.URL, err = s.Open(e.URL); err != nil {
		return fmt.Errorf("%w: %s: url: %v", ErrSealed, e.ID, err)
	}
	if e.Secret, err = s.Open(e.Secret); err != nil {
		return fmt.Errorf("%w: %s: secret: %v", ErrSealed, e.ID, err)
	}
	for i := range e.PreviousSecrets {
		if e.PreviousSecrets[i].Secret, err = s.Open(e.PreviousSecrets[i].Secret); err != nil {
			return fmt.Errorf("%w: %s: previous secret: %v", ErrSealed, e.ID, err)
		}
	}
	for k, v := range e.Headers {
		if e.Headers[k], err = s.Open(v); err != nil {
			return fmt.Errorf("%w: %s: header %s: %v", ErrSealed, e.ID, k, err)
		}
	}
	return nil
}

// orPlain returns s, or plainOnly when there is no sealer.
func orPlain(s Sealer) Sealer {
	if s == nil {
		return plainOnly{}
	}
	return s
}

// plainOnly opens only values that were never sealed.
type plainOnly struct{}

func (plainOnly) Seal(plain string) string { return plain }
func (plainOnly) Open(value string) (string, error) {
	if len(value) > 10 && value[:10] == "sealed:v1:" {
		return "", fmt.Errorf("the value is sealed and no master key is configured (--secret-key-file)")
	}
	return value, nil
}

// PlainSealer returns the Sealer used without a master key: values are
// stored as they are, and only values never sealed open.
func PlainSealer() Sealer { return plainOnly{} }
