package app

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/hookd/hookd/embedded"
	"github.com/hookd/hookd/ops"
	"github.com/hookd/hookd/topology"
)

// InternalKeyFileName is the file in the data directory holding the seed of
// hookd's internal identity on the embedded server, when no other is
// configured. It sits next to secret.key: whoever can read the data
// directory can read every stream's files anyway, so the key adds nothing
// they did not have; it must not leave the machine other than with the
// data (backups of the directory hold it too).
const InternalKeyFileName = "nats-internal.nk"

// NATSClient is how hookd's connections to an existing NATS (Config.NATSURLs)
// authenticate and encrypt, as the nats CLI's options and contexts do. At
// most one credential: CredsFile, NkeyFile (or NkeySeed), User with
// Password, or Token.
type NATSClient struct {
	// CredsFile is a JWT credentials file (.creds), for servers in
	// operator mode. Optional.
	CredsFile string
	// NkeyFile is a file holding a user nkey seed ("SU..."), such as the
	// embedded server's internal key file; NkeySeed is the seed itself.
	// Optional.
	NkeyFile, NkeySeed string
	// User and Password sign in with a user name. Optional.
	User, Password string
	// Token signs in with a token. Optional.
	Token string
	// CertFile and KeyFile are a TLS client certificate and its key, both
	// or neither; CAFile is the CA that signed the servers' certificates
	// (default: the system's). Optional: TLS is used anyway when the
	// server requires it.
	CertFile, KeyFile, CAFile string
	// TLSFirst does the TLS handshake before the server's INFO, for
	// servers configured with handshake_first. Optional.
	TLSFirst bool
	// InboxPrefix is the prefix of the reply subjects hookd's connections
	// subscribe to. Optional: default embedded.InboxPrefix ("_HOOKD_INBOX"),
	// so an account shared with producers that may subscribe to "_INBOX.>"
	// does not hand them hookd's replies.
	InboxPrefix string
}

func (c NATSClient) set() bool { return c != NATSClient{} }

// ErrNATSClient reports NATS client options that cannot be used together.
var ErrNATSClient = errors.New("app: NATS client")

// Validate reports options that contradict each other.
func (c NATSClient) Validate() error {
	n := 0
	for _, set := range []bool{c.CredsFile != "", c.NkeyFile != "" || c.NkeySeed != "", c.User != "", c.Token != ""} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		return fmt.Errorf("%w: give one credential: a credentials file, an nkey, a user and password, or a token", ErrNATSClient)
	case c.NkeyFile != "" && c.NkeySeed != "":
		return fmt.Errorf("%w: an nkey seed file or a seed, not both", ErrNATSClient)
	case c.Password != "" && c.User == "":
		return fmt.Errorf("%w: a password needs a user", ErrNATSClient)
	case (c.CertFile == "") != (c.KeyFile == ""):
		return fmt.Errorf("%w: a TLS client certificate needs its key, and a key its certificate", ErrNATSClient)
	case c.InboxPrefix != "" && (strings.ContainsAny(c.InboxPrefix, "*> \t") || strings.HasSuffix(c.InboxPrefix, ".") ||
		strings.HasPrefix(c.InboxPrefix, ".") || strings.Contains(c.InboxPrefix, "..")):
		return fmt.Errorf("%w: inbox prefix %q is not a subject without wildcards", ErrNATSClient, c.InboxPrefix)
	}
	return nil
}

// options are the nats.Options c stands for.
func (c NATSClient) options() ([]nats.Option, error) {
	prefix := c.InboxPrefix
	if prefix == "" {
		prefix = embedded.InboxPrefix
	}
	opts := []nats.Option{nats.CustomInboxPrefix(prefix)}
	switch {
	case c.CredsFile != "":
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	case c.NkeyFile != "":
		o, err := nats.NkeyOptionFromSeed(c.NkeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: nkey seed file %s: %v", ErrNATSClient, c.NkeyFile, err)
		}
		opts = append(opts, o)
	case c.NkeySeed != "":
		o, err := nkeyFromSeed(c.NkeySeed)
		if err != nil {
			return nil, err
		}
		opts = append(opts, o)
	case c.User != "":
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	case c.Token != "":
		opts = append(opts, nats.Token(c.Token))
	}
	if c.CertFile != "" {
		opts = append(opts, nats.ClientCert(c.CertFile, c.KeyFile))
	}
	if c.CAFile != "" {
		opts = append(opts, nats.RootCAs(c.CAFile))
	}
	if c.TLSFirst {
		opts = append(opts, nats.TLSHandshakeFirst())
	}
	return opts, nil
}

// internalKey is the seed of hookd's identity on the embedded server:
// Config.NATSInternalKey, else the file Config.NATSInternalKeyFile (default
// DataDir/nats-internal.nk), created when missing.
func (c Config) internalKey() ([]byte, error) {
	if c.NATSInternalKey != "" {
		return []byte(c.NATSInternalKey), nil
	}
	path := c.NATSInternalKeyFile
	if path == "" {
		path = filepath.Join(c.DataDir, InternalKeyFileName)
	}
	seed, err := embedded.LoadOrCreateInternalKey(path)
	if err != nil {
		return nil, fmt.Errorf("app: NATS internal key: %w", err)
	}
	return seed, nil
}

// ProducerSubjects are where producers may publish: the events stream's
// subjects under the deployment's names, less hookd's own operational event
// types.
func ProducerSubjects(names topology.Names) embedded.ProducerSubjects {
	return embedded.ProducerSubjects{Events: names.EventsSubjects(), TenantEvents: names.TenantEventsSubjects(),
		ReservedTypes: ops.TypePrefix}
}

// NATSOptions are the options hookd's own connections authenticate with
// (its identity, TLS client certificate, inbox prefix): for tools and
// tests that connect to NATSURL, or to Config.NATSURLs, as hookd does.
// With the embedded server, add nats.RootCAs when its client port uses
// TLS with a CA of your own.
func (a *App) NATSOptions() []nats.Option {
	if a.cfg.embedded() {
		return a.ns.InternalOptions()
	}
	opts, _ := a.cfg.NATSClient.options() // checked in connect
	return opts
}

// nkeyFromSeed signs in with the user nkey seed.
func nkeyFromSeed(seed string) (nats.Option, error) {
	kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(seed)))
	if err != nil {
		return nil, fmt.Errorf("%w: nkey seed: %v", ErrNATSClient, err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("%w: nkey seed: %v", ErrNATSClient, err)
	}
	return nats.Nkey(pub, kp.Sign), nil
}

// warnInsecureNATS logs what the embedded server's settings leave open to
// the network: a client port beyond loopback without TLS (producer
// passwords and tokens, and events, travel in clear), and routes beyond
// loopback that anyone reaching them may join.
func (a *App) warnInsecureNATS() {
	sec := a.cfg.NATSSecurity
	if beyondLoopback(a.cfg.NATSListen) && sec.TLS.CertFile == "" {
		a.log.Warn("the NATS port listens beyond loopback without TLS: producers' credentials and events travel in clear (--nats-listen-cert)",
			"listen", a.cfg.NATSListen)
	}
	if a.cfg.ClusterName != "" && beyondLoopback(a.cfg.ClusterListen) && sec.ClusterUser == "" && sec.ClusterTLS.CAFile == "" {
		a.log.Warn("the cluster port listens beyond loopback without route authentication or TLS: whoever reaches it joins the cluster (--cluster-user, --cluster-ca)",
			"cluster", a.cfg.ClusterListen)
	}
}

// beyondLoopback reports a listen address reachable from other machines.
func beyondLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || addr == "" {
		return false
	}
	if host == "localhost" {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err != nil || !ip.IsLoopback()
}
