package app

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/hookd/hookd/embedded"
	"github.com/hookd/hookd/router"
	"github.com/hookd/hookd/topology"
	"github.com/hookd/hookd/worker"
)

// Config configures an App.
type Config struct {
	// NATSURLs are the servers of an existing NATS deployment, comma
	// separated. Optional: empty runs an embedded nats-server.
	NATSURLs string
	// DataDir is the embedded server's JetStream directory. Required when
	// NATSURLs is empty.
	DataDir string
	// NATSListen is where the embedded server accepts producers, e.g.
	// "127.0.0.1:4222". Optional: empty accepts in-process clients only.
	NATSListen string
	// ServerName, ClusterName, ClusterListen and Routes make the embedded
	// server a node of a JetStream cluster (see embedded.Config). Optional:
	// empty runs a single server.
	ServerName    string
	ClusterName   string
	ClusterListen string
	Routes        []string
	// NATSInternalKeyFile holds the seed of hookd's own identity on the
	// embedded server (an nkey seed, which may do everything there);
	// NATSInternalKey is the seed itself and wins. A file that does not
	// exist is created. Every node of a cluster, and every process that
	// connects to it with NATSURLs (as NATSClient.NkeyFile), needs the same.
	// Optional: default DataDir/nats-internal.nk.
	NATSInternalKeyFile, NATSInternalKey string
	// NATSSecurity is who else may connect to the embedded server: producer
	// identities, anonymous producers, TLS, route authentication (see
	// embedded.Security). Optional: clients without credentials may
	// publish events and nothing else.
	NATSSecurity embedded.Security
	// NATSClient authenticates and encrypts the connections to NATSURLs.
	// Optional.
	NATSClient NATSClient
	// Storage watches the embedded server's data directory: below
	// Storage.MinFree free (64 MiB by default), or once JetStream failed a
	// write, new events are refused (503 storage_full) and /readyz is not
	// ready; with room again, JetStream is repaired without a restart.
	// Optional: zero fields take their defaults.
	Storage embedded.StorageConfig
	// SyncAlways makes the embedded server fsync every write before
	// acknowledging it. Optional: default false (sync every 2 minutes).
	SyncAlways bool
	// AdminKey, when set, is stored as an admin API key (if it is not
	// already): how deployments and tests choose the first key. Optional:
	// without it, the first start creates one (see App.CreatedAdminKey).
	AdminKey string
	// HTTPAddr is the API's listen address; "127.0.0.1:0" picks a free port.
	// Optional: empty runs no API.
	HTTPAddr string
	// SecretKey (base64) or SecretKeyFile is the master key that seals
	// endpoint secrets, header values and URLs at rest; a named file that does
	// not exist is created with a new key. Optional: a single embedded
	// server keeps one in DataDir/secret.key; elsewhere (a cluster, or
	// --nats) without a key, secrets are stored unsealed and hookd warns.
	SecretKey     string
	SecretKeyFile string
	// HTTPSOnly refuses endpoint URLs that are not https. Optional.
	HTTPSOnly bool
	// APIKeyRateLimit caps each API key's requests per second. Optional:
	// default 200; negative turns it off.
	APIKeyRateLimit float64
	// NoRouter and NoWorker leave a role out of this process. Optional.
	NoRouter, NoWorker bool
	// MetricsAddr is where GET /metrics, /healthz and /readyz are served
	// without authentication, for Prometheus and probes; a role without
	// the API has no other. "127.0.0.1:0" picks a free port. Optional:
	// empty serves them only on the API (metrics with an admin key).
	MetricsAddr string
	// MetricsEndpointLabels caps the endpoints whose backlog is exported
	// per endpoint; above it only the aggregate is. Optional: default 100;
	// negative exports only the aggregate.
	MetricsEndpointLabels int
	// TracerProvider makes the route and deliver spans (see package
	// tracing). Optional: default no-op, which still passes a producer's
	// traceparent on to receivers.
	TracerProvider trace.TracerProvider
	// Topology, Router and Worker configure the parts; zero fields take their
	// defaults. Optional.
	Topology topology.Config
	Router   router.Config
	Worker   worker.Config
	// ShutdownTimeout bounds how long Run takes to return once its context
	// ends: the roles get all of it but ShutdownCloseTime to finish (a
	// delivery in flight is bounded by Worker.Timeout), then the
	// connections and the embedded server get the rest. Optional: default
	// Worker.Timeout (15s unless set) + 10s.
	ShutdownTimeout time.Duration
	// RouterMiddleware wraps event routing, e.g. for fault injection in
	// tests. Optional.
	RouterMiddleware []router.Middleware
	// Logger receives every part's logs. Optional: default slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Router.Logger == nil {
		c.Router.Logger = c.Logger
	}
	if c.Worker.Logger == nil {
		c.Worker.Logger = c.Logger
	}
	if c.TracerProvider == nil {
		c.TracerProvider = noop.NewTracerProvider()
	}
	if c.ShutdownTimeout == 0 {
		attempt := c.Worker.Timeout
		if attempt <= 0 {
			attempt = 15 * time.Second // worker.Config's default
		}
		c.ShutdownTimeout = attempt + 10*time.Second
	}
	if c.Router.TracerProvider == nil {
		c.Router.TracerProvider = c.TracerProvider
	}
	if c.Worker.TracerProvider == nil {
		c.Worker.TracerProvider = c.TracerProvider
	}
}

// Validate reports a configuration that cannot start.
func (c Config) Validate() error {
	if c.embedded() && c.DataDir == "" {
		return errors.New("app: a data directory is required for the embedded NATS server")
	}
	if c.embedded() && c.NATSClient.set() {
		return errors.New("app: NATS client credentials are for an existing NATS (NATSURLs), not the embedded server")
	}
	if !c.embedded() && (!reflect.ValueOf(c.NATSSecurity).IsZero() || c.NATSInternalKey != "" || c.NATSInternalKeyFile != "") {
		return errors.New("app: the NATS internal key, producers, TLS and route settings configure the embedded server: not with NATSURLs")
	}
	if err := c.NATSClient.Validate(); err != nil {
		return err
	}
	if c.HTTPAddr == "" && c.NoRouter && c.NoWorker {
		return errors.New("app: no role to run")
	}
	if err := c.Topology.Validate(); err != nil {
		return err // a bad prefix fails before any server starts
	}
	if c.ShutdownTimeout <= ShutdownCloseTime {
		return fmt.Errorf("app: ShutdownTimeout %s must be longer than the %s kept for closing", c.ShutdownTimeout, ShutdownCloseTime)
	}
	return nil
}

func (c Config) embedded() bool { return strings.TrimSpace(c.NATSURLs) == "" }
