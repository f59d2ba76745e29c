package embedded

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
	"golang.org/x/crypto/bcrypt"
)

// InboxPrefix is the prefix of the reply subjects of hookd's own
// connections (nats.CustomInboxPrefix). Producers may subscribe to
// "_INBOX.>" only, for their own JetStream acknowledgements, so they never
// receive hookd's replies: endpoint records read from key-value buckets,
// JetStream API answers, pulled deliveries.
const InboxPrefix = "_HOOKD_INBOX"

// producerInbox is all producers may subscribe to: the replies to their
// own requests under the client libraries' default inbox prefix.
const producerInbox = "_INBOX.>"

// internalUser names hookd's own connections in the server's monitoring.
const internalUser = "hookd"

// anonymousUser names connections without credentials.
const anonymousUser = "anonymous"

// ProducersAccount is the account producers' connections are bound to. It
// imports the producer subjects from the global account, where hookd and
// its streams live; nothing else of hookd's is visible from it.
//
// Producers need an account of their own because JetStream sends a
// publish's acknowledgement to whatever reply subject the publisher chose,
// in the stream's account, whatever the publisher's permissions: in hookd's
// account a producer could have its acknowledgement written into
// "$KV.hookd_endpoints.<id>" (overwriting an endpoint) or
// "hookd.deliver.<id>". Through the import, replies go back to the
// producer's own account instead.
const ProducersAccount = "HOOKD_PRODUCERS"

// ProducerSubjects are the subjects producers publish events to. The
// embedded server does not know hookd's subject layout (package topology
// cannot be imported from here): the app passes it in.
type ProducerSubjects struct {
	// Events captures events addressed to no tenant in particular, e.g.
	// "events.>". It must end in ">".
	Events string
	// TenantEvents captures events addressed to a tenant, with "*" for the
	// tenant token, e.g. "tenants.*.events.>". It must end in ">".
	TenantEvents string
	// ReservedTypes is the event-type prefix that belongs to hookd's own
	// operational events, e.g. "hookd.": producers may not publish under
	// it, so receivers can trust such events came from hookd.
	ReservedTypes string
}

// zero reports subjects never set: producers may then publish nothing.
func (s ProducerSubjects) zero() bool { return s == ProducerSubjects{} }

func (s ProducerSubjects) validate() error {
	if s.zero() {
		return nil
	}
	for _, p := range []string{s.Events, s.TenantEvents} {
		if !strings.HasSuffix(p, ".>") {
			return fmt.Errorf("embedded: producer subject %q must end in .>", p)
		}
	}
	if strings.Count(s.TenantEvents, "*") != 1 {
		return fmt.Errorf("embedded: tenant producer subject %q needs one * for the tenant", s.TenantEvents)
	}
	if s.ReservedTypes != "" && !strings.HasSuffix(s.ReservedTypes, ".") {
		return fmt.Errorf("embedded: reserved event-type prefix %q must end in a dot", s.ReservedTypes)
	}
	return nil
}

// permissions are what a producer may do: publish events (for tenant "",
// every tenant's; else that tenant's only), never hookd's reserved types,
// and subscribe to its own inbox for JetStream acknowledgements.
func (s ProducerSubjects) permissions(tenant string) *server.Permissions {
	var allow []string
	switch {
	case s.zero():
	case tenant == "":
		allow = []string{s.Events, s.TenantEvents}
	default:
		allow = []string{strings.Replace(s.TenantEvents, "*", tenant, 1)}
	}
	var deny []string
	if s.ReservedTypes != "" {
		for _, a := range allow {
			deny = append(deny, strings.TrimSuffix(a, ">")+s.ReservedTypes+">")
		}
	}
	return &server.Permissions{
		// An empty allow list allows nothing (nil would allow everything).
		Publish:   &server.SubjectPermission{Allow: append([]string{}, allow...), Deny: deny},
		Subscribe: &server.SubjectPermission{Allow: []string{producerInbox}},
	}
}

// authenticator decides who a client is and what it may do: hookd's
// internal identity may do everything; a producer identity, or an
// anonymous client when they are allowed, may only publish events.
//
// It replaces nats-server's own users, nkeys and no_auth_user options
// because those cannot express what hookd needs: nats-server's token is one
// token for the whole server and excludes users, while hookd gives each
// producer its own token, password or nkey, and each its own permissions.
type authenticator struct {
	// producers is ProducersAccount once the server runs; until then
	// producers are refused.
	producers atomic.Pointer[server.Account]
	internal  string // hookd's public user nkey
	subjects  ProducerSubjects
	anonymous bool
	users     map[string]*Producer
	tokens    map[[sha256.Size]byte]*Producer
	nkeys     map[string]*Producer
}

func newAuthenticator(internal string, subjects ProducerSubjects, producers []Producer, anonymous bool) *authenticator {
	a := &authenticator{internal: internal, subjects: subjects, anonymous: anonymous, users: map[string]*Producer{},
		tokens: map[[sha256.Size]byte]*Producer{}, nkeys: map[string]*Producer{}}
	for i := range producers {
		p := &producers[i]
		switch {
		case p.User != "":
			a.users[p.User] = p
		case p.Token != "":
			a.tokens[sha256.Sum256([]byte(p.Token))] = p
		case p.Nkey != "":
			a.nkeys[p.Nkey] = p
		}
	}
	return a
}

// Check implements server.Authentication. Credentials that do not match
// are refused, never taken as anonymous: a mistyped password fails loudly.
func (a *authenticator) Check(c server.ClientAuthentication) bool {
	if c.Kind() != server.CLIENT {
		return false // no leaf nodes, websockets or MQTT are configured
	}
	o := c.GetOpts()
	switch {
	case o.JWT != "":
		return false // no operator is configured: no JWT can be trusted
	case o.Nkey != "":
		if !verifyNonce(o.Nkey, o.Sig, c.GetNonce()) {
			return false
		}
		if subtle.ConstantTimeCompare([]byte(o.Nkey), []byte(a.internal)) == 1 {
			c.RegisterUser(&server.User{Username: internalUser}) // nil permissions: everything
			return true
		}
		return a.register(c, a.nkeys[o.Nkey])
	case o.Username != "":
		p := a.users[o.Username]
		if p == nil || !passwordMatches(p.Password, o.Password) {
			return false
		}
		return a.register(c, p)
	case o.Token != "":
		return a.register(c, a.tokens[sha256.Sum256([]byte(o.Token))])
	case o.Password != "":
		return false
	default:
		if !a.anonymous {
			return false
		}
		return a.registerProducer(c, anonymousUser, "")
	}
}

func (a *authenticator) register(c server.ClientAuthentication, p *Producer) bool {
	if p == nil {
		return false
	}
	return a.registerProducer(c, "producer:"+p.Name, p.Tenant)
}

func (a *authenticator) registerProducer(c server.ClientAuthentication, name, tenant string) bool {
	acc := a.producers.Load()
	if acc == nil {
		return false // the server is starting
	}
	c.RegisterUser(&server.User{Username: name, Account: acc, Permissions: a.subjects.permissions(tenant)})
	return true
}

// producersAccount creates ProducersAccount on the running server ns,
// importing the producer subjects from the global account. It runs after
// Start: an account registered before would make nats-server enable
// JetStream only for accounts configured with it, not for the global
// account, which holds hookd's streams.
func (a *authenticator) producersAccount(ns *server.Server, subjects ProducerSubjects) error {
	acc, err := ns.RegisterAccount(ProducersAccount)
	if err != nil {
		return fmt.Errorf("embedded: producers account: %w", err)
	}
	if !subjects.zero() {
		global := ns.GlobalAccount()
		for _, subj := range []string{subjects.Events, subjects.TenantEvents} {
			if err := global.AddServiceExport(subj, []*server.Account{acc}); err != nil {
				return fmt.Errorf("embedded: export %s to producers: %w", subj, err)
			}
			if err := acc.AddServiceImport(global, subj, subj); err != nil {
				return fmt.Errorf("embedded: import %s for producers: %w", subj, err)
			}
		}
	}
	a.producers.Store(acc)
	return nil
}

// verifyNonce checks that sig (base64) is the nonce the server sent,
// signed by the private key of the public user nkey pub.
func verifyNonce(pub, sig string, nonce []byte) bool {
	if len(nonce) == 0 || sig == "" {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		if raw, err = base64.StdEncoding.DecodeString(sig); err != nil {
			return false
		}
	}
	kp, err := nkeys.FromPublicKey(pub)
	if err != nil {
		return false
	}
	return kp.Verify(nonce, raw) == nil
}

// bcryptHash recognises a bcrypt hash, as nats-server does.
var bcryptHash = regexp.MustCompile(`^\$2[abxy]?\$\d\d\$`)

// passwordMatches compares a client's password with a stored one: a
// bcrypt hash, or the password itself (compared in constant time).
func passwordMatches(stored, given string) bool {
	if bcryptHash.MatchString(stored) {
		return bcrypt.CompareHashAndPassword([]byte(stored), []byte(given)) == nil
	}
	return subtle.ConstantTimeCompare([]byte(stored), []byte(given)) == 1
}

// ErrInternalKey reports an internal identity seed that is not an nkey
// user seed.
var ErrInternalKey = errors.New("not an nkey user seed (SU...)")

// internalKeyPair parses hookd's internal identity seed.
func internalKeyPair(seed []byte) (nkeys.KeyPair, error) {
	kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(seed))))
	if err != nil {
		return nil, fmt.Errorf("embedded: internal key: %w", ErrInternalKey)
	}
	if pub, _ := kp.PublicKey(); !nkeys.IsValidPublicUserKey(pub) {
		return nil, fmt.Errorf("embedded: internal key: %w", ErrInternalKey)
	}
	return kp, nil
}
