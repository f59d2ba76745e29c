package cli

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/embedded"
)

// natsFlags secure NATS: the embedded server's identities, TLS and routes,
// and how hookd connects to an existing NATS (--nats).
type natsFlags struct {
	// The embedded server.
	internalKeyFile, producers      string
	noAnonymous                     bool
	listenCert, listenKey, listenCA string
	clusterCert, clusterKey         string
	clusterCA, clusterUser          string
	clusterPassword                 string
	// An existing NATS.
	context, creds, nkey       string
	user, password, token      string
	cert, key, ca, inboxPrefix string
}

func (f *natsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.internalKeyFile, "nats-internal-key-file", "", "nkey seed of hookd's own identity on the embedded server, created if missing; every cluster node and --nats process needs the same (default: <data>/"+app.InternalKeyFileName+"; HOOKD_NATS_INTERNAL_KEY gives the seed itself)")
	fs.StringVar(&f.producers, "nats-producers", "", "JSON file of producer identities (user and password, token or nkey; optionally one tenant each) the embedded server accepts")
	fs.BoolVar(&f.noAnonymous, "nats-no-anonymous", false, "refuse producers without credentials on the embedded server (by default they may publish events and nothing else)")
	fs.StringVar(&f.listenCert, "nats-listen-cert", "", "TLS certificate (PEM) of the embedded server's client port")
	fs.StringVar(&f.listenKey, "nats-listen-key", "", "private key (PEM) of --nats-listen-cert")
	fs.StringVar(&f.listenCA, "nats-listen-ca", "", "CA (PEM) whose client certificates the embedded server's client port requires")
	fs.StringVar(&f.clusterCert, "cluster-cert", "", "TLS certificate (PEM) of this node on the cluster routes (with --cluster-key and --cluster-ca)")
	fs.StringVar(&f.clusterKey, "cluster-key", "", "private key (PEM) of --cluster-cert")
	fs.StringVar(&f.clusterCA, "cluster-ca", "", "CA (PEM) that signed every node's route certificate")
	fs.StringVar(&f.clusterUser, "cluster-user", "", "user the cluster nodes' routes authenticate with (with --cluster-password)")
	fs.StringVar(&f.clusterPassword, "cluster-password", "", "password of --cluster-user (better given as HOOKD_CLUSTER_PASSWORD)")
	fs.StringVar(&f.context, "nats-context", "", "nats CLI context to connect with: a name in ~/.config/nats/context, or a path to its JSON; flags win over its fields")
	fs.StringVar(&f.creds, "nats-creds", "", "credentials file (.creds) to connect to --nats with")
	fs.StringVar(&f.nkey, "nats-nkey", "", "nkey seed file to connect to --nats with, e.g. the embedded server's internal key file")
	fs.StringVar(&f.user, "nats-user", "", "user to connect to --nats with (with --nats-password)")
	fs.StringVar(&f.password, "nats-password", "", "password of --nats-user (better given as HOOKD_NATS_PASSWORD)")
	fs.StringVar(&f.token, "nats-token", "", "token to connect to --nats with (better given as HOOKD_NATS_TOKEN)")
	fs.StringVar(&f.cert, "nats-cert", "", "TLS client certificate (PEM) to connect to --nats with (with --nats-key)")
	fs.StringVar(&f.key, "nats-key", "", "private key (PEM) of --nats-cert")
	fs.StringVar(&f.ca, "nats-ca", "", "CA (PEM) that signed the --nats servers' certificates (default: the system's)")
	fs.StringVar(&f.inboxPrefix, "nats-inbox-prefix", "", "prefix of hookd's reply subjects on --nats (default: "+embedded.InboxPrefix+")")
}

// client resolves the connection to an existing NATS: --nats-context,
// overridden by --nats and the other flags. It returns the URLs to connect
// to ("" for the embedded server) and the client configuration.
func (f *natsFlags) client(natsURLs string) (string, app.NATSClient, error) {
	var c app.NATSClient
	if f.context != "" {
		ctx, err := loadNATSContext(f.context)
		if err != nil {
			return "", c, fmt.Errorf("--nats-context: %v", err)
		}
		if strings.TrimSpace(natsURLs) == "" {
			natsURLs = ctx.URL
		}
		c = ctx.client()
	}
	// A credential on the command line replaces the context's, whatever
	// its kind; likewise a client certificate.
	if f.creds != "" || f.nkey != "" || f.user != "" || f.token != "" || f.internalKeyFile != "" {
		c.CredsFile, c.NkeyFile, c.User, c.Password, c.Token = f.creds, f.nkey, f.user, f.password, f.token
	}
	if f.internalKeyFile != "" && strings.TrimSpace(natsURLs) != "" {
		// hookd's internal identity on a hookd cluster: the same key file
		// the nodes were given.
		if c.CredsFile != "" || c.NkeyFile != "" || c.User != "" || c.Token != "" {
			return "", c, fmt.Errorf("--nats-internal-key-file is the identity hookd connects with: not with --nats-creds, --nats-nkey, --nats-user or --nats-token")
		}
		c.NkeyFile = f.internalKeyFile
	}
	if f.password != "" && f.user == "" && c.User != "" {
		c.Password = f.password // the context's user with this password
	}
	if f.cert != "" || f.key != "" {
		c.CertFile, c.KeyFile = f.cert, f.key
	}
	if f.ca != "" {
		c.CAFile = f.ca
	}
	if f.inboxPrefix != "" {
		c.InboxPrefix = f.inboxPrefix
	}
	if strings.TrimSpace(natsURLs) == "" {
		for _, fl := range []namedValue{{"nats-context", f.context}, {"nats-creds", f.creds}, {"nats-nkey", f.nkey}, {"nats-user", f.user},
			{"nats-password", f.password}, {"nats-token", f.token}, {"nats-cert", f.cert}, {"nats-key", f.key}, {"nats-ca", f.ca},
			{"nats-inbox-prefix", f.inboxPrefix}} {
			if fl.value != "" {
				return "", c, fmt.Errorf("--%s is for connecting to an existing NATS: it needs --nats (or a context with a url)", fl.name)
			}
		}
		return "", c, nil
	}
	if err := filesExist([]namedValue{{"nats-creds", f.creds}, {"nats-nkey", f.nkey}, {"nats-internal-key-file", f.internalKeyFile}, {"nats-cert", f.cert},
		{"nats-key", f.key}, {"nats-ca", f.ca}}); err != nil {
		return "", c, err
	}
	if err := c.Validate(); err != nil {
		return "", c, fmt.Errorf("--nats-*: %v", strings.TrimPrefix(err.Error(), "app: "))
	}
	return natsURLs, c, nil
}

// server applies the embedded server's flags to cfg; natsURLs is the
// resolved --nats, with which they are mistakes.
func (f *natsFlags) server(cfg *app.Config, natsURLs string, cluster bool) error {
	noAnonymous := ""
	if f.noAnonymous {
		noAnonymous = "true"
	}
	for _, fl := range []namedValue{{"nats-producers", f.producers},
		{"nats-no-anonymous", noAnonymous}, {"nats-listen-cert", f.listenCert}, {"nats-listen-key", f.listenKey},
		{"nats-listen-ca", f.listenCA}, {"cluster-cert", f.clusterCert}, {"cluster-key", f.clusterKey}, {"cluster-ca", f.clusterCA},
		{"cluster-user", f.clusterUser}, {"cluster-password", f.clusterPassword}} {
		switch {
		case fl.value == "":
		case natsURLs != "":
			return fmt.Errorf("--%s configures the embedded server: not with --nats (use --nats-creds, --nats-nkey, ... to connect)", fl.name)
		case strings.HasPrefix(fl.name, "cluster-") && !cluster:
			return fmt.Errorf("--%s secures the cluster routes: it needs --cluster-name", fl.name)
		}
	}
	if natsURLs != "" {
		return nil
	}
	sec := &cfg.NATSSecurity
	if f.producers != "" {
		ps, err := embedded.LoadProducers(f.producers)
		if err != nil {
			return fmt.Errorf("--nats-producers: %v", err)
		}
		sec.Producers = ps
	}
	sec.NoAnonymous = f.noAnonymous
	switch {
	case (f.listenCert == "") != (f.listenKey == ""):
		return fmt.Errorf("--nats-listen-cert and --nats-listen-key go together")
	case f.listenCA != "" && f.listenCert == "":
		return fmt.Errorf("--nats-listen-ca needs --nats-listen-cert and --nats-listen-key")
	case (f.clusterCert != "" || f.clusterKey != "" || f.clusterCA != "") && (f.clusterCert == "" || f.clusterKey == "" || f.clusterCA == ""):
		return fmt.Errorf("--cluster-cert, --cluster-key and --cluster-ca go together")
	case (f.clusterUser == "") != (f.clusterPassword == ""):
		return fmt.Errorf("--cluster-user and --cluster-password go together")
	}
	if err := filesExist([]namedValue{{"nats-listen-cert", f.listenCert}, {"nats-listen-key", f.listenKey}, {"nats-listen-ca", f.listenCA},
		{"cluster-cert", f.clusterCert}, {"cluster-key", f.clusterKey}, {"cluster-ca", f.clusterCA}}); err != nil {
		return err
	}
	sec.TLS = embedded.TLSFiles{CertFile: f.listenCert, KeyFile: f.listenKey, CAFile: f.listenCA}
	sec.ClusterTLS = embedded.TLSFiles{CertFile: f.clusterCert, KeyFile: f.clusterKey, CAFile: f.clusterCA}
	sec.ClusterUser, sec.ClusterPassword = f.clusterUser, f.clusterPassword
	cfg.NATSInternalKeyFile = f.internalKeyFile
	return nil
}

// namedValue is a flag's name and value.
type namedValue struct{ name, value string }

// filesExist checks that every named file flag given names a file that
// can be read, naming the flag otherwise.
func filesExist(files []namedValue) error {
	for _, fl := range files {
		if fl.value == "" {
			continue
		}
		f, err := os.Open(fl.value)
		if err != nil {
			return fmt.Errorf("--%s: %v", fl.name, err)
		}
		f.Close()
	}
	return nil
}
