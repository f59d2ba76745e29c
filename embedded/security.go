package embedded

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// Security is who may connect to the server, and how. Its zero value
// keeps the server locked down: hookd's internal identity may do
// everything, clients without credentials may only publish events, no TLS,
// and cluster routes that need no password.
type Security struct {
	// Producers are identities producers connect with (see Producer).
	// Optional.
	Producers []Producer
	// NoAnonymous refuses clients without credentials. Optional: by
	// default they connect as anonymous producers, which may publish
	// events (any tenant's) and nothing else.
	NoAnonymous bool
	// TLS secures the client port. With a CA, every TCP client must
	// present a certificate it signed. Optional. In-process connections
	// (hookd's own) do not use TLS: they never leave the process.
	TLS TLSFiles
	// ClusterTLS secures the routes between cluster nodes: each node
	// presents its certificate and accepts only nodes whose certificate
	// the CA signed (all three files are required). Optional.
	ClusterTLS TLSFiles
	// ClusterUser and ClusterPassword authenticate routes: a node accepts
	// a route only with them, and presents them on the routes it opens
	// (unless a route URL carries its own). Optional; both or neither.
	ClusterUser, ClusterPassword string
}

// TLSFiles are PEM files: a certificate, its private key, and a CA.
type TLSFiles struct {
	CertFile, KeyFile, CAFile string
}

func (t TLSFiles) set() bool { return t.CertFile != "" || t.KeyFile != "" || t.CAFile != "" }

// ErrTLS reports TLS files that are incomplete.
var ErrTLS = errors.New("embedded: TLS")

func (s Security) validate(cluster bool) error {
	if err := ValidateProducers(s.Producers); err != nil {
		return fmt.Errorf("embedded: %w", err)
	}
	if s.TLS.set() && (s.TLS.CertFile == "" || s.TLS.KeyFile == "") {
		return fmt.Errorf("%w: the client port needs a certificate and its key (a CA alone does nothing)", ErrTLS)
	}
	if !cluster && (s.ClusterTLS.set() || s.ClusterUser != "" || s.ClusterPassword != "") {
		return errors.New("embedded: cluster TLS and route credentials need a cluster name")
	}
	if s.ClusterTLS.set() && (s.ClusterTLS.CertFile == "" || s.ClusterTLS.KeyFile == "" || s.ClusterTLS.CAFile == "") {
		return fmt.Errorf("%w: routes need a certificate, its key and the CA that signed the nodes' certificates", ErrTLS)
	}
	if (s.ClusterUser == "") != (s.ClusterPassword == "") {
		return errors.New("embedded: route authentication needs both a user and a password")
	}
	return nil
}

// apply sets the server options that s stands for.
func (s Security) apply(opts *server.Options) error {
	if s.TLS.set() {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: s.TLS.CertFile, KeyFile: s.TLS.KeyFile,
			CaFile: s.TLS.CAFile, Verify: s.TLS.CAFile != ""})
		if err != nil {
			return fmt.Errorf("%w: client port: %v", ErrTLS, err)
		}
		opts.TLSConfig, opts.TLS, opts.TLSVerify, opts.TLSTimeout = tc, true, s.TLS.CAFile != "", 2
	}
	if s.ClusterTLS.set() {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: s.ClusterTLS.CertFile, KeyFile: s.ClusterTLS.KeyFile,
			CaFile: s.ClusterTLS.CAFile, Verify: true})
		if err != nil {
			return fmt.Errorf("%w: routes: %v", ErrTLS, err)
		}
		// A node is a TLS server and client both, with the same CA, as
		// nats-server's own configuration parser sets routes up.
		tc.ClientAuth, tc.RootCAs = tls.RequireAndVerifyClientCert, tc.ClientCAs
		opts.Cluster.TLSConfig, opts.Cluster.TLSTimeout = tc, 2
	}
	if s.ClusterUser != "" {
		opts.Cluster.Username, opts.Cluster.Password = s.ClusterUser, s.ClusterPassword
		for _, r := range opts.Routes {
			if r.User == nil {
				r.User = url.UserPassword(s.ClusterUser, s.ClusterPassword)
			}
		}
	}
	return nil
}

// NewInternalKey returns a new seed for hookd's internal identity: an nkey
// user seed, "SU...".
func NewInternalKey() ([]byte, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, fmt.Errorf("embedded: new internal key: %w", err)
	}
	return kp.Seed()
}

// LoadOrCreateInternalKey reads the seed of hookd's internal identity from
// path, creating the file (mode 0600, and its directory 0700) with a new
// seed when it does not exist. The file is an nkey seed file, so a process
// started with --nats can sign in with it as any nkey (`--nats-nkey`).
// Errors: the file cannot be read or written, or ErrInternalKey.
func LoadOrCreateInternalKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createInternalKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("embedded: read internal key: %w", err)
	}
	if _, err := internalKeyPair(b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return bytes.TrimSpace(b), nil
}

func createInternalKey(path string) ([]byte, error) {
	seed, err := NewInternalKey()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("embedded: create internal key: %w", err)
	}
	// O_EXCL: two processes starting at once on one directory agree on
	// the first key written.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadOrCreateInternalKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("embedded: create internal key: %w", err)
	}
	_, err = f.Write(append(seed, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("embedded: create internal key: %w", err)
	}
	return seed, nil
}
