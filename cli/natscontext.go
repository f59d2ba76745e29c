package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/hookd/hookd/app"
)

// natsContext is what hookd reads of a nats CLI context: the JSON files
// `nats context save` writes to ~/.config/nats/context/<name>.json.
// Fields hookd has no use for (description, color_scheme, ...) are
// ignored; fields that would change how the connection works but that
// hookd does not support are refused (see unsupported), rather than
// quietly connecting differently from `nats --context`.
type natsContext struct {
	URL         string `json:"url"`
	User        string `json:"user"`
	Password    string `json:"password"`
	Creds       string `json:"creds"`
	Nkey        string `json:"nkey"`
	Token       string `json:"token"`
	Cert        string `json:"cert"`
	Key         string `json:"key"`
	CA          string `json:"ca"`
	InboxPrefix string `json:"inbox_prefix"`
	TLSFirst    bool   `json:"tls_first"`

	UserJWT            string `json:"user_jwt"`
	NSC                string `json:"nsc"`
	JSDomain           string `json:"jetstream_domain"`
	JSAPIPrefix        string `json:"jetstream_api_prefix"`
	SocksProxy         string `json:"socks_proxy"`
	WindowsCertStore   string `json:"windows_cert_store"`
	WindowsCertMatch   string `json:"windows_cert_match"`
	WindowsCertMatchBy string `json:"windows_cert_match_by"`
	WindowsCACerts     any    `json:"windows_ca_certs_match"`
}

// unsupported names the context's fields hookd cannot honour.
func (c natsContext) unsupported() []string {
	var out []string
	for _, f := range []namedValue{{"user_jwt", c.UserJWT}, {"nsc", c.NSC}, {"jetstream_domain", c.JSDomain},
		{"jetstream_api_prefix", c.JSAPIPrefix}, {"socks_proxy", c.SocksProxy}, {"windows_cert_store", c.WindowsCertStore},
		{"windows_cert_match", c.WindowsCertMatch}, {"windows_cert_match_by", c.WindowsCertMatchBy}} {
		if f.value != "" {
			out = append(out, f.name)
		}
	}
	if c.WindowsCACerts != nil {
		out = append(out, "windows_ca_certs_match")
	}
	return out
}

func (c natsContext) client() app.NATSClient {
	return app.NATSClient{CredsFile: c.Creds, NkeyFile: c.Nkey, User: c.User, Password: c.Password, Token: c.Token,
		CertFile: c.Cert, KeyFile: c.Key, CAFile: c.CA, InboxPrefix: c.InboxPrefix, TLSFirst: c.TLSFirst}
}

// contextName is what the nats CLI accepts as a context name.
var contextName = regexp.MustCompile(`^[A-Za-z0-9_.@-]+$`)

// natsContextDir is where the nats CLI keeps contexts:
// $XDG_CONFIG_HOME/nats/context, by default ~/.config/nats/context.
func natsContextDir() (string, error) {
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "nats", "context"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".config", "nats", "context"), nil
}

// loadNATSContext reads a context by name, or from a path (anything with a
// path separator or ending in .json). Paths in it may start with ~/.
func loadNATSContext(nameOrPath string) (natsContext, error) {
	var c natsContext
	path := nameOrPath
	if !strings.ContainsRune(nameOrPath, filepath.Separator) && !strings.ContainsRune(nameOrPath, '/') && !strings.HasSuffix(nameOrPath, ".json") {
		if !contextName.MatchString(nameOrPath) || strings.Trim(nameOrPath, ".") == "" {
			return c, fmt.Errorf("%q is not a context name", nameOrPath)
		}
		dir, err := natsContextDir()
		if err != nil {
			return c, err
		}
		path = filepath.Join(dir, nameOrPath+".json")
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && path != nameOrPath {
		return c, fmt.Errorf("no context %q (%s does not exist; `nats context ls` lists them)", nameOrPath, path)
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s: %v", path, err)
	}
	if u := c.unsupported(); len(u) > 0 {
		return c, fmt.Errorf("%s: hookd does not support %s", path, strings.Join(u, ", "))
	}
	for _, f := range []*string{&c.Creds, &c.Nkey, &c.Cert, &c.Key, &c.CA} {
		if *f, err = expandHome(*f); err != nil {
			return c, err
		}
	}
	for _, f := range []namedValue{{"creds", c.Creds}, {"nkey", c.Nkey}, {"cert", c.Cert}, {"key", c.Key}, {"ca", c.CA}} {
		if f.value == "" {
			continue
		}
		if _, err := os.Stat(f.value); err != nil {
			return c, fmt.Errorf("%s: %s: %v", path, f.name, err)
		}
	}
	return c, nil
}

func expandHome(p string) (string, error) {
	rest, ok := strings.CutPrefix(p, "~/")
	if !ok {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, rest), nil
}
