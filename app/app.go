package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/apikey"
	"github.com/hookd/hookd/catalog"
	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/embedded"
	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/httpapi"
	"github.com/hookd/hookd/internal/sender"
	"github.com/hookd/hookd/metrics"
	"github.com/hookd/hookd/netguard"
	"github.com/hookd/hookd/ops"
	"github.com/hookd/hookd/router"
	"github.com/hookd/hookd/sealed"
	"github.com/hookd/hookd/supervisor"
	"github.com/hookd/hookd/tenant"
	"github.com/hookd/hookd/topology"
	"github.com/hookd/hookd/version"
	"github.com/hookd/hookd/worker"
)

// App is an assembled hookd process.
type App struct {
	cfg  Config
	log  *slog.Logger
	ns   *embedded.Server
	nc   *nats.Conn
	js   jetstream.JetStream
	topo *topology.Topology
	reg  *endpoint.Registry
	sup  *supervisor.Supervisor
	api  *httpapi.Server
	// closed is closed by the NATS client once the connection is closed.
	closed chan struct{}
	keys   *apikey.Store
	// createdKey is the admin key made on a first start, "" otherwise.
	createdKey string
	// roleConns are the router's and worker's own connections.
	roleConns []*nats.Conn
	// endpointOpts seal endpoint secrets at rest, when a key is set.
	endpointOpts []endpoint.Option
	metrics      *metrics.Metrics
	// probes serves Config.MetricsAddr; nil without one.
	probes *httpapi.Server
	// router and worker are this process's roles, nil when left out: what
	// readiness asks.
	router *router.Router
	worker *worker.Worker
	// storage watches the embedded server's data directory; nil without
	// an embedded server.
	storage *embedded.Storage
	// counters keep the endpoint stats; the router counts rule errors into
	// them (RecordRuleError), the worker role's process counts attempts.
	counters *delivery.Counters
}

// New connects, creates the topology and prepares every role; Run starts
// them. On error, everything New started is stopped again.
func New(ctx context.Context, cfg Config) (_ *App, err error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: cfg.Logger, sup: supervisor.New(cfg.Logger), closed: make(chan struct{}),
		metrics: metrics.New(metrics.Options{EndpointLabels: cfg.MetricsEndpointLabels, Logger: cfg.Logger})}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	if err := a.connect(); err != nil {
		return nil, err
	}
	if a.js, err = a.jetStream(a.nc); err != nil {
		return nil, err
	}
	if a.cfg.Topology.Replicas == 0 {
		a.cfg.Topology.Replicas = a.autoReplicas()
	}
	if a.cfg.Topology.Logger == nil {
		a.cfg.Topology.Logger = a.log.With("component", "topology")
	}
	if a.topo, err = topology.New(a.js, a.cfg.Topology); err != nil {
		return nil, err
	}
	if err := a.ensureCore(ctx); err != nil {
		return nil, a.refused(err)
	}
	kv, err := a.topo.Endpoints(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.upgrade(ctx, kv); err != nil {
		return nil, err
	}
	box, err := a.secretBox()
	if err != nil {
		return nil, err
	}
	if box != nil {
		a.endpointOpts = []endpoint.Option{endpoint.WithSealer(box)}
	}
	a.reg = endpoint.NewRegistry(kv, a.log.With("component", "registry"), a.endpointOpts...)
	if cfg.HTTPAddr != "" {
		if err := a.setUpKeys(ctx); err != nil {
			return nil, err
		}
	}
	return a, a.addRoles(kv)
}

func (a *App) setUpKeys(ctx context.Context) error {
	kv, err := a.topo.Keys(ctx)
	if err != nil {
		return err
	}
	a.keys = apikey.NewStore(kv, a.log.With("component", "apikeys"))
	if a.cfg.AdminKey != "" {
		return a.keys.Ensure(ctx, a.cfg.AdminKey, "admin (configured)", apikey.ScopeAdmin)
	}
	a.createdKey, err = a.keys.Bootstrap(ctx)
	return err
}

// CreatedAdminKey is the admin API key this start created because none
// existed, to be shown once; "" when none was created.
func (a *App) CreatedAdminKey() string { return a.createdKey }

func (a *App) jetStream(nc *nats.Conn) (jetstream.JetStream, error) {
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
			a.log.Warn("async publish failed", "subject", m.Subject, "err", err)
		}))
	if err != nil {
		return nil, fmt.Errorf("app: jetstream: %w", err)
	}
	return js, nil
}

// roleTopology gives a role its own connection: the server reads each
// connection in one goroutine, so a router and a worker sharing one would
// queue behind each other's publishes and acks.
func (a *App) roleTopology(role string) (*topology.Topology, error) {
	opts := a.natsOptions("hookd-" + role)
	var nc *nats.Conn
	var err error
	if a.ns != nil {
		nc, err = a.ns.Connect(opts...)
	} else {
		nc, err = nats.Connect(a.cfg.NATSURLs, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("app: %s connection: %w", role, err)
	}
	a.roleConns = append(a.roleConns, nc)
	js, err := a.jetStream(nc)
	if err != nil {
		return nil, err
	}
	return topology.New(js, a.cfg.Topology)
}

// natsOptions are the options of every connection hookd makes. With the
// embedded server, its Connect adds the internal identity and inbox prefix;
// with NATSURLs, NATSClient gives them.
func (a *App) natsOptions(name string) []nats.Option {
	var auth []nats.Option
	if !a.cfg.embedded() {
		auth, _ = a.cfg.NATSClient.options() // checked in connect
	}
	return append(auth, nats.Name(name), nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				a.log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { a.log.Info("nats reconnected", "url", nc.ConnectedUrl()) }),
		// The default handler writes to stderr, outside the structured logs.
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			a.log.Warn("nats async error", "subject", subject, "err", err)
		}),
	)
}

func (a *App) connect() error {
	if !a.cfg.embedded() {
		if _, err := a.cfg.NATSClient.options(); err != nil {
			return err
		}
	}
	opts := append(a.natsOptions("hookd"), nats.ClosedHandler(func(*nats.Conn) { close(a.closed) }))
	var err error
	if !a.cfg.embedded() {
		a.nc, err = nats.Connect(a.cfg.NATSURLs, opts...)
		if err != nil {
			return fmt.Errorf("app: connect to %s: %w", a.cfg.NATSURLs, err)
		}
		return nil
	}
	seed, err := a.cfg.internalKey()
	if err != nil {
		return err
	}
	names, err := topology.NewNames(a.cfg.Topology.Prefix)
	if err != nil {
		return err
	}
	a.warnInsecureNATS()
	a.ns, err = embedded.Start(embedded.Config{StoreDir: a.cfg.DataDir, Listen: a.cfg.NATSListen, SyncAlways: a.cfg.SyncAlways,
		ServerName: a.cfg.ServerName, ClusterName: a.cfg.ClusterName, ClusterListen: a.cfg.ClusterListen, Routes: a.cfg.Routes,
		InternalKey: seed, ProducerSubjects: ProducerSubjects(names), Security: a.cfg.NATSSecurity, Logger: a.log})
	if err != nil {
		return err
	}
	// A cluster node can create streams only once the cluster has formed.
	if err := a.ns.WaitJetStream(2 * time.Minute); err != nil {
		a.ns.Shutdown()
		a.ns = nil
		return err
	}
	if err := a.watchStorage(); err != nil {
		return err
	}
	a.nc, err = a.ns.Connect(opts...)
	return err
}

func (a *App) addRoles(kv jetstream.KeyValue) error {
	a.sup.Add("registry", a.reg)
	if err := a.setUpCounters(); err != nil {
		return err
	}
	if a.cfg.HTTPAddr != "" {
		ln, err := net.Listen("tcp", a.cfg.HTTPAddr)
		if err != nil {
			return fmt.Errorf("app: http listen %s: %w", a.cfg.HTTPAddr, err)
		}
		// A waiting delivery is looked for on the endpoints its id's
		// fingerprint names, as this process knows them: not by reading
		// every endpoint's backlog.
		dlog, err := delivery.OpenLog(context.Background(), a.topo, delivery.WithEndpoints(func(fp string) []string {
			return a.reg.Snapshot().WithFingerprint(fp)
		}))
		if err != nil {
			ln.Close()
			return err
		}
		tkv, err := a.topo.Tenants(context.Background())
		if err != nil {
			ln.Close()
			return err
		}
		ekv, err := a.topo.EventTypes(context.Background())
		if err != nil {
			ln.Close()
			return err
		}
		cat := catalog.New(ekv, a.log.With("component", "catalog"))
		api, err := httpapi.New(httpapi.Config{Topology: a.topo, Endpoints: endpoint.NewStore(kv, a.endpointOpts...), Keys: a.keys, Catalog: cat,
			Sender:     sender.New(version.UserAgent(), netguard.New(a.cfg.Worker.AllowNets), a.log),
			Deliveries: dlog, Counters: a.counters, Storage: a.storageState(), Tenants: tenant.NewStore(tkv), Timeout: a.cfg.Worker.Timeout, KeyRateLimit: a.cfg.APIKeyRateLimit, HTTPSOnly: a.cfg.HTTPSOnly,
			Ready: a.Ready, Metrics: a.metrics.Handler(), Logger: a.log})
		if err != nil {
			ln.Close()
			return err
		}
		a.api = httpapi.NewServer(ln, api)
		a.sup.Add("apikeys", a.keys)
		a.sup.Add("catalog", cat)
		a.sup.Add("api", a.api)
	}
	if !a.cfg.NoWorker {
		topo, err := a.roleTopology("worker")
		if err != nil {
			return err
		}
		wcfg := a.cfg.Worker
		wcfg.EndpointOptions = append(wcfg.EndpointOptions, a.endpointOpts...)
		if wcfg.Ops == nil {
			wcfg.Ops = ops.NewPublisher(topo)
		}
		wcfg.Metrics = a.metrics.Delivery
		// Each record is counted by the process that stored it.
		wcfg.Attempts = a.counters
		w, err := worker.New(topo, a.reg, wcfg)
		if err != nil {
			return err
		}
		a.worker = w
		a.sup.Add("worker", w)
		// The backlog is the same seen from any process: the workers,
		// whose work it is, report it.
		a.metrics.WatchBacklog(a.backlogs)
	}
	if !a.cfg.NoRouter {
		topo, err := a.roleTopology("router")
		if err != nil {
			return err
		}
		rcfg := a.cfg.Router
		rcfg.Metrics = a.metrics.Routing
		// Rule errors show on the endpoint: in the metrics, in its stats
		// (GET /v1/endpoints/{id}/stats), and in any recorder the
		// configuration adds.
		recs := router.RuleErrorRecorders{a.metrics.Routing, a.counters}
		if rcfg.RuleErrors != nil {
			recs = append(recs, rcfg.RuleErrors)
		}
		rcfg.RuleErrors = recs
		rcfg.Attempts = a.counters
		if a.worker != nil && a.cfg.Worker.DirectTimeout >= 0 {
			// The fast path: this process's worker attempts what it can
			// before the router queues it.
			rcfg.Direct = a.worker
		}
		r, err := router.New(topo, a.reg, rcfg, a.cfg.RouterMiddleware...)
		if err != nil {
			return err
		}
		a.router = r
		a.sup.Add("router", r)
	}
	return a.listenProbes()
}

// listenProbes listens on Config.MetricsAddr, if set.
func (a *App) listenProbes() error {
	if a.cfg.MetricsAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", a.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("app: metrics listen %s: %w", a.cfg.MetricsAddr, err)
	}
	a.probes = httpapi.NewServer(ln, httpapi.Probes(a.Ready, a.metrics.Handler()))
	a.sup.Add("metrics", a.probes)
	return nil
}

// MetricsAddr is the address of the metrics and probes listener, or "" when
// there is none.
func (a *App) MetricsAddr() string {
	if a.probes == nil {
		return ""
	}
	return a.probes.Addr().String()
}

// HTTPAddr is the API's address, or "" when it runs no API.
func (a *App) HTTPAddr() string {
	if a.api == nil {
		return ""
	}
	return a.api.Addr().String()
}

// NATSURL is the embedded server's client URL, or "" when none listens.
func (a *App) NATSURL() string {
	if a.ns == nil {
		return ""
	}
	return a.ns.ClientURL()
}

// Registry is the process's view of the endpoints.
func (a *App) Registry() *endpoint.Registry { return a.reg }

// Counters returns the endpoint stats counters this process keeps: what
// its worker and router store is counted there.
func (a *App) Counters() *delivery.Counters { return a.counters }

// Run runs every role until ctx is done or one fails, drains them, then
// closes the NATS connection and the embedded server. Once the stop
// begins it returns within Config.ShutdownTimeout (see shutdown.go).
func (a *App) Run(ctx context.Context) error {
	a.sup.SetStopTimeout(a.cfg.ShutdownTimeout - ShutdownCloseTime)
	var mu sync.Mutex
	var stopAt time.Time
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		stopAt = time.Now()
		mu.Unlock()
	})
	defer stop()
	err := a.sup.Run(ctx)
	a.closeBy(a.closeDeadline(&mu, &stopAt))
	return err
}

// close closes what New opened, when New fails.
func (a *App) close() { a.closeBy(time.Now().Add(ShutdownCloseTime)) }

// JetStream is the process's JetStream context, for tests and tools.
func (a *App) JetStream() jetstream.JetStream { return a.js }

// Names are the names of the deployment's streams, buckets and subjects
// (Config.Topology.Prefix applied), for tests and tools.
func (a *App) Names() topology.Names { return a.topo.Names() }

// backlogs is every endpoint's backlog, 0 for those with nothing waiting:
// the delivery streams know only the endpoints with deliveries.
func (a *App) backlogs(ctx context.Context) (map[string]uint64, error) {
	waiting, err := a.topo.Backlogs(ctx)
	if err != nil {
		return nil, err
	}
	all := a.reg.Snapshot().All()
	out := make(map[string]uint64, len(all)+len(waiting))
	for _, ep := range all {
		out[ep.ID] = 0
	}
	for id, n := range waiting {
		out[id] = n
	}
	return out, nil
}

// Topology returns the deployment's streams and buckets.
func (a *App) Topology() *topology.Topology { return a.topo }

// upgrade moves deliveries waiting in the per-endpoint streams of an
// earlier release into the shared delivery streams (topology.Upgrade),
// before any role runs.
func (a *App) upgrade(ctx context.Context, kv jetstream.KeyValue) error {
	rep, err := a.topo.Upgrade(ctx, func(id string) (topology.EndpointLayout, bool, error) {
		entry, err := kv.Get(ctx, id)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return topology.EndpointLayout{}, false, nil
		}
		if err != nil {
			return topology.EndpointLayout{}, false, err
		}
		var e endpoint.Endpoint
		if err := json.Unmarshal(entry.Value(), &e); err != nil {
			return topology.EndpointLayout{}, false, err
		}
		return e.Layout(), true, nil
	})
	if err != nil {
		return err
	}
	if rep.Streams > 0 {
		a.log.Info("upgraded to the shared delivery streams", "streams_removed", rep.Streams, "deliveries_moved", rep.Moved)
	}
	return nil
}

// ensureCore creates the streams and buckets. A cluster that has just
// formed may time out or lack peers for a while: a node retries for up to
// two minutes.
func (a *App) ensureCore(ctx context.Context) error {
	if a.cfg.ClusterName == "" {
		return a.topo.EnsureCore(ctx)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		attempt, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := a.topo.EnsureCore(attempt)
		cancel()
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		a.log.Info("cluster not ready for streams yet, retrying", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// refused adds to err the NATS server's refusal of something hookd's
// connection did, if there was one: a user without the permissions hookd
// needs otherwise shows only as a timeout.
func (a *App) refused(err error) error {
	if last := a.nc.LastError(); errors.Is(last, nats.ErrPermissionViolation) {
		return fmt.Errorf("%w (the NATS server refused: %v; see docs/nats.md for the permissions hookd needs)", err, last)
	}
	return err
}

// autoReplicas is the replica count for new streams when none is
// configured: 3 on a cluster of three or more servers (any one can then
// fail), else 1.
func (a *App) autoReplicas() int {
	servers := len(a.nc.Servers())
	if a.cfg.ClusterName != "" {
		servers = len(a.cfg.Routes)
	}
	if servers >= 3 {
		return 3
	}
	return 1
}

// secretBox returns the box sealing endpoint secrets, nil when no master
// key is configured and none can be kept (see Config.SecretKey).
func (a *App) secretBox() (*sealed.Box, error) {
	var key []byte
	var err error
	switch {
	case a.cfg.SecretKey != "":
		key, err = sealed.ParseKey(a.cfg.SecretKey)
	case a.cfg.SecretKeyFile != "":
		key, err = sealed.LoadOrCreateKey(a.cfg.SecretKeyFile)
	case a.cfg.embedded() && a.cfg.ClusterName == "":
		key, err = sealed.LoadOrCreateKey(filepath.Join(a.cfg.DataDir, "secret.key"))
	default:
		a.log.Warn("endpoint secrets are stored unsealed: give every hookd process the same --secret-key-file (or HOOKD_SECRET_KEY)")
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("app: secret key: %w", err)
	}
	return sealed.New(key)
}
