package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/metrics"
	"github.com/hookd/hookd/netguard"
	"github.com/hookd/hookd/sealed"
	"github.com/hookd/hookd/topology"
	"github.com/hookd/hookd/tracing"
	"github.com/hookd/hookd/version"
	"github.com/hookd/hookd/worker"
)

type serveFlags struct {
	data, httpAddr, natsListen, natsURLs string
	retry                                durationList
	timeout, autoDisableAfter, ackWait   time.Duration
	autoDisableFailures, failingAfter    int
	opsSucceeded                         bool
	direct                               bool
	concurrency, replicas                int
	queueStreams                         int
	logLevel, logFormat, sync            string
	adminKeyFile                         string
	eventsMaxMsgs, endpointMaxMsgs       int64
	indexMaxEvents                       int64
	eventsMaxBytes                       int64
	eventsMaxAge                         time.Duration
	allowNets                            string
	apiRateLimit                         float64
	secretKeyFile                        string
	httpsOnly                            bool
	serverName, clusterName, clusterAddr string
	routes                               string
	metricsListen                        string
	metricsEndpointLabels                int
	prefix                               string
	nats                                 natsFlags
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.data, "data", "./hookd-data", "JetStream data directory of the embedded NATS server")
	fs.StringVar(&f.httpAddr, "http", "127.0.0.1:8080", "HTTP API listen address")
	fs.StringVar(&f.natsListen, "nats-listen", "127.0.0.1:4222", "where the embedded NATS server accepts producers (empty: in-process only)")
	fs.StringVar(&f.natsURLs, "nats", "", "comma-separated URLs of an existing NATS server or cluster (empty: run an embedded server)")
	fs.StringVar(&f.prefix, "prefix", "", "namespace every stream, bucket and subject (producers publish to <prefix>.events.<type>), to share a NATS account; the same for every process (empty: none)")
	f.retry = append(durationList(nil), worker.DefaultRetrySchedule...)
	fs.Var(&f.retry, "retry-schedule", "comma-separated delays before each retry")
	fs.DurationVar(&f.timeout, "timeout", 15*time.Second, "timeout of one delivery attempt")
	fs.BoolVar(&f.direct, "direct", true, "let the router's process attempt a delivery to a fast, healthy endpoint before queueing it (one stored message and one hop fewer); a failure is retried from the queue as usual")
	fs.DurationVar(&f.eventsMaxAge, "events-max-age", 7*24*time.Hour, "how long accepted events are kept: the history backfill and rule tests read, and retries need")
	fs.Int64Var(&f.eventsMaxBytes, "events-max-bytes", -1, "bytes of events kept at most; beyond it POST /v1/events answers 503 with Retry-After, so no event is dropped unrouted (-1: no limit)")
	fs.Int64Var(&f.eventsMaxMsgs, "events-max-msgs", topology.DefaultEventsMaxMsgs, "events kept at most; beyond it POST /v1/events answers 503 with Retry-After (-1: no limit)")
	fs.Int64Var(&f.indexMaxEvents, "index-max-events", topology.DefaultIndexMaxEvents, "events GET /v1/events/{id} finds at most, the newest (each costs the NATS server about 0.12 KiB of memory; -1: no limit but --events-max-age)")
	fs.Int64Var(&f.endpointMaxMsgs, "endpoint-max-msgs", topology.DefaultEndpointMaxMsgs, "deliveries waiting per endpoint at most; beyond it routing holds, then dead-letters (-1: no limit)")
	fs.Float64Var(&f.apiRateLimit, "api-rate-limit", 200, "requests per second each API key may make to this process (-1: no limit)")
	fs.StringVar(&f.secretKeyFile, "secret-key-file", "", "master key sealing endpoint secrets at rest, created if missing (default: <data>/secret.key for a single embedded server; HOOKD_SECRET_KEY gives the key itself)")
	fs.BoolVar(&f.httpsOnly, "https-only", false, "refuse endpoint URLs that are not https")
	fs.StringVar(&f.allowNets, "allow-nets", "", "networks deliveries may reach besides the public internet, e.g. 127.0.0.0/8,10.1.0.0/16 (default: none)")
	fs.DurationVar(&f.ackWait, "ack-wait", 60*time.Second, "how long a delivery held by a worker that died waits before another worker takes it (set on endpoints created by this process)")
	fs.DurationVar(&f.autoDisableAfter, "auto-disable-after", 120*time.Hour, "disable an endpoint that has only failed for this long (0: never)")
	fs.IntVar(&f.autoDisableFailures, "auto-disable-failures", 0, "disable an endpoint after this many failed attempts in a row (0: never)")
	fs.IntVar(&f.failingAfter, "failing-after", 3, "raise a hookd.delivery.failing event after this many failed attempts of a delivery")
	fs.BoolVar(&f.opsSucceeded, "ops-delivery-succeeded", false, "raise a hookd.delivery.succeeded event for every successful delivery")
	fs.IntVar(&f.concurrency, "concurrency", 512, "deliveries in flight at once in this process")
	fs.IntVar(&f.replicas, "replicas", 0, "replicas of the streams this process creates: 1, 3 or 5; 0: 3 on a cluster of 3 or more servers, else 1")
	fs.IntVar(&f.queueStreams, "queue-streams", 0, "streams the queue of plain endpoints' deliveries is split into: 1, 2 or 4 (0: 1 with one replica, 4 with more, so that their leaders spread over the nodes); existing queue streams are kept unless empty")
	fs.StringVar(&f.sync, "sync", "interval", "embedded server's disk sync: interval (every 2 minutes) or always (fsync before every acknowledgement)")
	fs.StringVar(&f.serverName, "server-name", "", "embedded server's name, unique in its cluster (default: hookd)")
	fs.StringVar(&f.clusterName, "cluster-name", "", "run the embedded server as a node of this JetStream cluster")
	fs.StringVar(&f.clusterAddr, "cluster", "", "embedded cluster node's listen address for other nodes, e.g. 0.0.0.0:6222")
	fs.StringVar(&f.routes, "routes", "", "comma-separated cluster URLs of the nodes, e.g. nats://n1:6222,nats://n2:6222,nats://n3:6222")
	fs.StringVar(&f.adminKeyFile, "admin-key-file", "", "file holding the first admin API key (instead of HOOKD_ADMIN_KEY, or of a generated one)")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "text", "text or json")
	fs.StringVar(&f.metricsListen, "metrics-listen", "", "address serving /metrics, /healthz and /readyz without authentication, e.g. 0.0.0.0:9090 (empty: none; the API serves them, /metrics to admin keys)")
	fs.IntVar(&f.metricsEndpointLabels, "metrics-endpoint-labels", metrics.DefaultEndpointLabels, "export each endpoint's backlog while there are at most this many endpoints, else only the total (0: never)")
	f.nats.register(fs)
}

func runServe(ctx context.Context, role string, args []string, stdout, stderr io.Writer, getenv Env) error {
	fs := flag.NewFlagSet("hookd "+role, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f serveFlags
	f.register(fs)
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return &usageError{err}
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if err := applyEnv(fs, getenv); err != nil {
		return &usageError{err}
	}
	cfg, err := f.config(role, stderr)
	if err != nil {
		return &usageError{err}
	}
	if cfg.AdminKey, err = f.adminKey(getenv); err != nil {
		return &usageError{err}
	}
	if cfg.SecretKeyFile == "" {
		cfg.SecretKey, _ = lookup(getenv, "HOOKD_SECRET_KEY")
		if _, err := sealed.ParseKey(cfg.SecretKey); cfg.SecretKey != "" && err != nil {
			return &usageError{fmt.Errorf("HOOKD_SECRET_KEY: %v", err)}
		}
	}
	if err := f.internalKey(&cfg, getenv); err != nil {
		return &usageError{err}
	}
	tp, err := tracing.FromEnv(ctx, func(k string) string { v, _ := lookup(getenv, k); return v }, role, cfg.Logger)
	if err != nil {
		return &usageError{err}
	}
	defer func() {
		// Spans still buffered go out before the process ends.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := tp.Shutdown(sctx); err != nil {
			cfg.Logger.Warn("spans not exported", "err", err)
		}
	}()
	cfg.TracerProvider = tp
	a, err := app.New(ctx, cfg)
	if err != nil {
		return startError(err)
	}
	if key := a.CreatedAdminKey(); key != "" {
		_, _ = fmt.Fprintf(stdout, "\nCreated the first admin API key. It is shown only this once; store it:\n\n    %s\n\n", key)
	}
	cfg.Logger.Info("hookd started", "version", version.Version, "role", role, "http", a.HTTPAddr(), "nats", a.NATSURL(), "data", f.data,
		"metrics", a.MetricsAddr(), "tracing", tp.Enabled())
	err = a.Run(ctx)
	cfg.Logger.Info("hookd stopped")
	return err
}

func (f *serveFlags) config(role string, stderr io.Writer) (app.Config, error) {
	log, err := newLogger(f.logLevel, f.logFormat, stderr)
	if err != nil {
		return app.Config{}, err
	}
	if f.timeout <= 0 {
		return app.Config{}, fmt.Errorf("--timeout must be positive, not %s", f.timeout)
	}
	if f.eventsMaxAge < time.Minute {
		return app.Config{}, fmt.Errorf("--events-max-age must be at least 1m, not %s", f.eventsMaxAge)
	}
	if f.eventsMaxBytes == 0 {
		return app.Config{}, fmt.Errorf("--events-max-bytes must be positive, or -1 for no limit")
	}
	if f.eventsMaxMsgs == 0 || f.endpointMaxMsgs == 0 {
		return app.Config{}, fmt.Errorf("--events-max-msgs and --endpoint-max-msgs must be positive, or -1 for no limit")
	}
	if f.indexMaxEvents == 0 {
		return app.Config{}, fmt.Errorf("--index-max-events must be positive, or -1 for no limit")
	}
	allow, err := netguard.ParseAllow(f.allowNets)
	if err != nil {
		return app.Config{}, fmt.Errorf("--allow-nets: %v", err)
	}
	if f.ackWait < time.Second {
		return app.Config{}, fmt.Errorf("--ack-wait must be at least 1s, not %s", f.ackWait)
	}
	if f.concurrency <= 0 {
		return app.Config{}, fmt.Errorf("--concurrency must be positive, not %d", f.concurrency)
	}
	if f.replicas != 0 && f.replicas != 1 && f.replicas != 3 && f.replicas != 5 {
		return app.Config{}, fmt.Errorf("--replicas must be 1, 3 or 5 (or 0 to choose by the cluster's size), not %d", f.replicas)
	}
	if f.queueStreams != 0 && !topology.ValidQueueStreams(f.queueStreams) {
		return app.Config{}, fmt.Errorf("--queue-streams must be 1, 2 or 4 (or 0 to choose by the replicas), not %d", f.queueStreams)
	}
	if err := topology.ValidatePrefix(f.prefix); err != nil {
		return app.Config{}, fmt.Errorf("--prefix: %v", err)
	}
	if f.sync != "interval" && f.sync != "always" {
		return app.Config{}, fmt.Errorf("--sync must be interval or always, not %q", f.sync)
	}
	natsURLs, natsClient, err := f.nats.client(f.natsURLs)
	if err != nil {
		return app.Config{}, err
	}
	if role != "serve" && strings.TrimSpace(natsURLs) == "" {
		return app.Config{}, fmt.Errorf("hookd %s needs --nats: only serve runs an embedded server", role)
	}
	routes := splitList(f.routes)
	if f.clusterName != "" || f.clusterAddr != "" || len(routes) > 0 {
		switch {
		case strings.TrimSpace(natsURLs) != "":
			return app.Config{}, fmt.Errorf("--cluster-name, --cluster and --routes configure the embedded server: not with --nats")
		case f.clusterName == "":
			return app.Config{}, fmt.Errorf("--cluster-name is required with --cluster and --routes")
		case f.clusterAddr == "":
			return app.Config{}, fmt.Errorf("--cluster is required with --cluster-name")
		case len(routes) == 0:
			return app.Config{}, fmt.Errorf("--routes is required with --cluster-name")
		case f.serverName == "":
			return app.Config{}, fmt.Errorf("--server-name is required with --cluster-name: each node needs its own")
		}
	}
	cfg := app.Config{
		ServerName:    f.serverName,
		ClusterName:   f.clusterName,
		ClusterListen: f.clusterAddr,
		Routes:        routes,
		NATSURLs:      natsURLs,
		NATSClient:    natsClient,
		DataDir:       f.data,
		NATSListen:    f.natsListen,
		SyncAlways:    f.sync == "always",
		Logger:        log,
	}
	if err := f.nats.server(&cfg, strings.TrimSpace(natsURLs), f.clusterName != ""); err != nil {
		return app.Config{}, err
	}
	cfg.Topology.Replicas = f.replicas
	cfg.Topology.QueueStreams = f.queueStreams
	cfg.Topology.Prefix = f.prefix
	cfg.Topology.DeliveryAckWait = f.ackWait
	cfg.Topology.EventsMaxMsgs, cfg.Topology.EndpointMaxMsgs = f.eventsMaxMsgs, f.endpointMaxMsgs
	cfg.Topology.IndexMaxEvents = f.indexMaxEvents
	cfg.Topology.EventsMaxAge, cfg.Topology.EventsMaxBytes = f.eventsMaxAge, f.eventsMaxBytes
	cfg.Worker.AllowNets = allow
	cfg.APIKeyRateLimit = f.apiRateLimit
	cfg.SecretKeyFile = f.secretKeyFile
	cfg.HTTPSOnly = f.httpsOnly
	if f.apiRateLimit == 0 {
		cfg.APIKeyRateLimit = -1 // the flag's 0 means none too
	}
	cfg.Worker.RetrySchedule = f.retry
	cfg.Worker.Timeout = f.timeout
	if !f.direct {
		cfg.Worker.DirectTimeout = -1
	}
	cfg.Worker.Concurrency = f.concurrency
	cfg.Worker.AutoDisableAfter = f.autoDisableAfter
	if f.autoDisableAfter == 0 {
		cfg.Worker.AutoDisableAfter = -1 // the flag's 0 means never
	}
	cfg.Worker.AutoDisableFailures = f.autoDisableFailures
	cfg.Worker.FailingAfter = f.failingAfter
	cfg.Worker.OpsDeliverySucceeded = f.opsSucceeded
	if role == "serve" || role == "api" {
		cfg.HTTPAddr = f.httpAddr
	}
	cfg.MetricsAddr = f.metricsListen
	cfg.MetricsEndpointLabels = f.metricsEndpointLabels
	if f.metricsEndpointLabels <= 0 {
		cfg.MetricsEndpointLabels = -1 // the flag's 0 means never
	}
	cfg.NoRouter = role != "serve" && role != "router"
	cfg.NoWorker = role != "serve" && role != "worker"
	return cfg, nil
}

// internalKey takes hookd's internal identity from HOOKD_NATS_INTERNAL_KEY
// (the seed itself) when no file names it: the embedded server's, or, with
// --nats and no other credential, the one hookd signs in with.
func (f *serveFlags) internalKey(cfg *app.Config, getenv Env) error {
	seed, _ := lookup(getenv, "HOOKD_NATS_INTERNAL_KEY")
	if seed == "" || f.nats.internalKeyFile != "" {
		return nil
	}
	seed = strings.TrimSpace(seed)
	if _, err := nkeys.FromSeed([]byte(seed)); err != nil || !strings.HasPrefix(seed, "SU") {
		return fmt.Errorf("HOOKD_NATS_INTERNAL_KEY is not an nkey user seed (SU...)")
	}
	if cfg.NATSURLs == "" {
		cfg.NATSInternalKey = seed
		return nil
	}
	c := &cfg.NATSClient
	if c.CredsFile == "" && c.NkeyFile == "" && c.User == "" && c.Token == "" {
		c.NkeySeed = seed
	}
	return nil
}

// adminKey reads the first admin key from --admin-key-file, else from
// HOOKD_ADMIN_KEY.
func (f *serveFlags) adminKey(getenv Env) (string, error) {
	if f.adminKeyFile != "" {
		b, err := os.ReadFile(f.adminKeyFile)
		if err != nil {
			return "", fmt.Errorf("--admin-key-file: %v", err)
		}
		key := strings.TrimSpace(string(b))
		if len(key) < 16 {
			return "", fmt.Errorf("--admin-key-file: the key must be at least 16 characters")
		}
		return key, nil
	}
	key, _ := lookup(getenv, "HOOKD_ADMIN_KEY")
	if key != "" && len(key) < 16 {
		return "", fmt.Errorf("HOOKD_ADMIN_KEY must be at least 16 characters")
	}
	return key, nil
}

func newLogger(level, format string, w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %q is not debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	if w == nil {
		w = os.Stderr
	}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format: %q is not text or json", format)
	}
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
