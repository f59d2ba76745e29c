package embedded

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/nats-io/nkeys"
	"golang.org/x/crypto/bcrypt"

	"github.com/hookd/hookd/tenant"
)

// Producer is an identity a producer connects to the embedded server with.
// It has exactly one credential: User with Password, Token, or Nkey. It
// may publish events (never hookd's reserved "hookd." types) and receive
// its JetStream acknowledgements, nothing else: no JetStream API, no
// key-value buckets, no hookd subjects.
type Producer struct {
	// Name identifies the producer in errors and in the server's
	// monitoring (as user "producer:<name>"). Required, unique.
	Name string `json:"name"`
	// User and Password: a password, or its bcrypt hash ("$2a$..."), as
	// nats-server accepts them (`nats server passwd` makes one). A plain
	// password must be at least 8 characters.
	User     string `json:"user,omitempty"`
	Password string `json:"password,omitempty"`
	// Token is a secret of at least 8 characters the producer presents
	// (`nats --token`).
	Token string `json:"token,omitempty"`
	// Nkey is the producer's public user nkey ("U..."); the producer signs
	// in with its seed (`nats --nkey seed.nk`).
	Nkey string `json:"nkey,omitempty"`
	// Tenant, when set, restricts the producer to that tenant's events:
	// "tenants.<tenant>.events.>". Optional: empty may publish every
	// event subject, as an anonymous producer may.
	Tenant string `json:"tenant,omitempty"`
}

// ErrInvalidProducer reports a producer definition that cannot be used;
// the error is a *ProducerError naming the entry and field.
var ErrInvalidProducer = errors.New("invalid producer")

// ProducerError is one wrong field of one producer definition.
type ProducerError struct {
	Index   int    // the entry's position, from 0
	Name    string // the entry's name, "" when it has none
	Field   string // the JSON field
	Message string
}

func (e *ProducerError) Error() string {
	entry := fmt.Sprintf("producers[%d]", e.Index)
	if e.Name != "" {
		entry += fmt.Sprintf(" (%q)", e.Name)
	}
	if e.Field == "" {
		return entry + ": " + e.Message
	}
	return fmt.Sprintf("%s: %s: %s", entry, e.Field, e.Message)
}

func (e *ProducerError) Unwrap() error { return ErrInvalidProducer }

var producerName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// ValidateProducers checks every producer and that names and credentials
// are unique; the first problem is returned as a *ProducerError.
func ValidateProducers(ps []Producer) error {
	names, users, tokens, keys := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i, p := range ps {
		fail := func(field, format string, args ...any) error {
			return &ProducerError{Index: i, Name: p.Name, Field: field, Message: fmt.Sprintf(format, args...)}
		}
		switch {
		case p.Name == "":
			return fail("name", "required")
		case !producerName.MatchString(p.Name):
			return fail("name", "must be 1 to 64 of A-Z a-z 0-9 _ . -")
		case names[p.Name]:
			return fail("name", "%q is used by an earlier entry", p.Name)
		}
		names[p.Name] = true
		creds := 0
		for _, set := range []bool{p.User != "", p.Token != "", p.Nkey != ""} {
			if set {
				creds++
			}
		}
		if creds != 1 {
			return fail("", "needs exactly one credential: user and password, token, or nkey")
		}
		switch {
		case p.User != "":
			if users[p.User] {
				return fail("user", "%q is used by an earlier entry", p.User)
			}
			users[p.User] = true
			if err := checkPassword(p.Password); err != nil {
				return fail("password", "%v", err)
			}
		case p.Password != "":
			return fail("password", "needs a user")
		case p.Token != "":
			if len(p.Token) < 8 {
				return fail("token", "must be at least 8 characters")
			}
			if tokens[p.Token] {
				return fail("token", "is used by an earlier entry")
			}
			tokens[p.Token] = true
		case p.Nkey != "":
			if strings.HasPrefix(p.Nkey, "SU") {
				return fail("nkey", "is a seed, the private key: give its public key (U...), which `nk -inkey seed.nk -pubout` prints")
			}
			if !nkeys.IsValidPublicUserKey(p.Nkey) {
				return fail("nkey", "%q is not a public user nkey (U...)", p.Nkey)
			}
			if keys[p.Nkey] {
				return fail("nkey", "is used by an earlier entry")
			}
			keys[p.Nkey] = true
		}
		if p.Tenant != "" {
			if err := tenant.ValidateID(p.Tenant); err != nil {
				return fail("tenant", "%v", err)
			}
		}
	}
	return nil
}

func checkPassword(pw string) error {
	switch {
	case pw == "":
		return errors.New("required with user")
	case bcryptHash.MatchString(pw):
		if _, err := bcrypt.Cost([]byte(pw)); err != nil {
			return fmt.Errorf("looks like a bcrypt hash but is not one: %v", err)
		}
	case len(pw) < 8:
		return errors.New("must be at least 8 characters (or a bcrypt hash)")
	}
	return nil
}

// ParseProducers reads a producers document:
//
//	{"producers": [
//	  {"name": "billing", "user": "billing", "password": "$2a$11$..."},
//	  {"name": "acme", "token": "...", "tenant": "acme"},
//	  {"name": "edge", "nkey": "UD..."}
//	]}
//
// Unknown fields are errors, so a misspelt one cannot quietly widen or
// narrow what a producer may do. Every entry is validated (see
// ValidateProducers).
func ParseProducers(data []byte) ([]Producer, error) {
	var doc struct {
		Producers []json.RawMessage `json:"producers"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: want {\"producers\": [...]}: %v", ErrInvalidProducer, err)
	}
	ps := make([]Producer, len(doc.Producers))
	for i, raw := range doc.Producers {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.DisallowUnknownFields()
		if err := d.Decode(&ps[i]); err != nil {
			var name struct {
				Name string `json:"name"`
			}
			_ = json.Unmarshal(raw, &name)
			pe := &ProducerError{Index: i, Name: name.Name, Message: strings.TrimPrefix(err.Error(), "json: ")}
			if te := (*json.UnmarshalTypeError)(nil); errors.As(err, &te) {
				pe.Field, pe.Message = te.Field, "must be a string"
				if te.Field == "" {
					pe.Message = "must be an object"
				}
			}
			return nil, pe
		}
	}
	if err := ValidateProducers(ps); err != nil {
		return nil, err
	}
	return ps, nil
}

// LoadProducers reads and validates a producers file (see ParseProducers).
func LoadProducers(path string) ([]Producer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ps, err := ParseProducers(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ps, nil
}
