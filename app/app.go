package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
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
	"github.com/hookd/hookd/internal/transient"
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
	// catalog follows the event types, for the API; nil without one.
	catalog *catalog.Catalog
	// start is what New waits for; apiHandler and probesHandler serve
	// the listeners, first httpapi.Starting (see listen).
	start         startState
	apiHandler    handlerSwitch
	probesHandler handlerSwitch
	// asyncFailures bounds the logging of failed asynchronous publishes.
	asyncFailures transient.Limit
}

// New connects, creates the topology and prepares every role; Run starts
// them. On error, everything New started is stopped again.
//
// While JetStream is unavailable for now (a cluster without quorum, a
// leader being elected) New waits and retries with backoff, until ctx
// ends: meanwhile the API and metrics listeners answer GET /healthz, and
// GET /readyz 503 saying what the start waits for (see startStep). It
// returns an error at once for what retrying cannot mend: a refused
// permission, bad credentials, an invalid configuration.
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
	if err := a.listen(); err != nil {
		return nil, err
	}
	a.start.set("connect to NATS", nil)
	if err := a.connect(ctx); err != nil {
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
		return nil, err
	}
	var kv jetstream.KeyValue
	if err := a.startStep(ctx, "open the endpoints bucket", nil, func(ctx context.Context) (err error) {
		kv, err = a.topo.Endpoints(ctx)
		return err
	}); err != nil {
		return nil, err
	}
	if err := a.startStep(ctx, "upgrade the delivery streams", nil, func(ctx context.Context) error { return a.upgrade(ctx, kv) }); err != nil {
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
	return a, a.addRoles(ctx, kv)
}

func (a *App) setUpKeys(ctx context.Context) error {
	var kv jetstream.KeyValue
	if err := a.startStep(ctx, "open the API keys bucket", nil, func(ctx context.Context) (err error) {
		kv, err = a.topo.Keys(ctx)
		return err
	}); err != nil {
		return err
	}
	a.keys = apikey.NewStore(kv, a.log.With("component", "apikeys"))
	return a.startStep(ctx, "store the admin API key", nil, func(ctx context.Context) (err error) {
		if a.cfg.AdminKey != "" {
			return a.keys.Ensure(ctx, a.cfg.AdminKey, "admin (configured)", apikey.ScopeAdmin)
		}
		a.createdKey, err = a.keys.Bootstrap(ctx)
		return err
	})
}

// CreatedAdminKey is the admin API key this start created because none
// existed, to be shown once; "" when none was created.
func (a *App) CreatedAdminKey() string { return a.createdKey }

// publishAckTimeout is how long an asynchronous publish may wait for its
// acknowledgement before JetStream's client gives up on it: a little more
// than the longest any part waits for one (the router's PublishTimeout,
// the delivery log's 10 s). Without it a publish whose acknowledgement is
// lost (its stream's leader cut off before NATS notices) would hold one
// of the 4096 pending slots for good, and once they are all held every
// publish stalls.
func (a *App) publishAckTimeout() time.Duration {
	return max(a.cfg.Router.PublishTimeout, 10*time.Second) + 5*time.Second
}

func (a *App) jetStream(nc *nats.Conn) (jetstream.JetStream, error) {
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096), jetstream.WithPublishAsyncTimeout(a.publishAckTimeout()),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
			// Every publish fails while a stream is unreachable: said at
			// a bounded rate.
			if ok, skipped := a.asyncFailures.Allow(); ok {
				a.log.Warn("async publish failed", "subject", m.Subject, "err", err, "not_logged", skipped)
			}
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

func (a *App) connect(ctx context.Context) error {
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
	// A cluster node can create streams only once the cluster has formed,
	// which takes a quorum of its nodes: the node waits for it as long as
	// it takes (a node restarted while the others are cut off must be
	// there when they return).
	always := func(error) bool { return true }
	if err := a.startStep(ctx, "join the JetStream cluster", always, func(context.Context) error { return a.ns.WaitJetStream(time.Second) }); err != nil {
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

func (a *App) addRoles(ctx context.Context, kv jetstream.KeyValue) error {
	a.sup.Add("registry", a.reg)
	if err := a.setUpCounters(ctx); err != nil {
		return err
	}
	if a.cfg.HTTPAddr != "" {
		var dlog *delivery.Log
		var tkv, ekv jetstream.KeyValue
		if err := a.startStep(ctx, "open the delivery log and the tenants and event types buckets", nil, func(ctx context.Context) (err error) {
			// A waiting delivery is looked for on the endpoints its id's
			// fingerprint names, as this process knows them: not by
			// reading every endpoint's backlog.
			if dlog, err = delivery.OpenLog(ctx, a.topo, delivery.WithEndpoints(func(fp string) []string {
				return a.reg.Snapshot().WithFingerprint(fp)
			})); err != nil {
				return err
			}
			if tkv, err = a.topo.Tenants(ctx); err != nil {
				return err
			}
			ekv, err = a.topo.EventTypes(ctx)
			return err
		}); err != nil {
			return err
		}
		cat := catalog.New(ekv, a.log.With("component", "catalog"))
		a.catalog = cat
		api, err := httpapi.New(httpapi.Config{Topology: a.topo, Endpoints: endpoint.NewStore(kv, a.endpointOpts...), Keys: a.keys, Catalog: cat,
			Sender:     sender.New(version.UserAgent(), netguard.New(a.cfg.Worker.AllowNets), a.log),
			Deliveries: dlog, Counters: a.counters, Storage: a.storageState(), Tenants: tenant.NewStore(tkv), Timeout: a.cfg.Worker.Timeout, KeyRateLimit: a.cfg.APIKeyRateLimit, HTTPSOnly: a.cfg.HTTPSOnly,
			Ready: a.Ready, Metrics: a.metrics.Handler(), Logger: a.log})
		if err != nil {
			return err
		}
		a.apiHandler.set(api)
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
	if a.probes != nil {
		a.probesHandler.set(httpapi.Probes(a.Ready, a.metrics.Handler()))
		a.sup.Add("metrics", a.probes)
	}
	return nil
}

// listen listens on Config.HTTPAddr and Config.MetricsAddr, if set, and
// serves httpapi.Starting on them at once: while New waits for JetStream
// (a cluster without quorum), an orchestrator's liveness probe finds the
// process alive and its readiness probe finds it not ready, saying why,
// rather than a port that refuses connections. addRoles then hands the
// listeners to the API and the probes.
func (a *App) listen() error {
	starting := httpapi.Starting(a.start.ready, a.metrics.Handler())
	if a.cfg.HTTPAddr != "" {
		ln, err := net.Listen("tcp", a.cfg.HTTPAddr)
		if err != nil {
			return fmt.Errorf("app: http listen %s: %w", a.cfg.HTTPAddr, err)
		}
		a.apiHandler.set(starting)
		a.api = httpapi.NewServer(ln, &a.apiHandler)
		a.api.Start()
	}
	if a.cfg.MetricsAddr != "" {
		ln, err := net.Listen("tcp", a.cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("app: metrics listen %s: %w", a.cfg.MetricsAddr, err)
		}
		a.probesHandler.set(starting)
		a.probes = httpapi.NewServer(ln, &a.probesHandler)
		a.probes.Start()
	}
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
func (a *App) close() {
	for _, srv := range []*httpapi.Server{a.api, a.probes} {
		if srv != nil {
			srv.Close()
		}
	}
	a.closeBy(time.Now().Add(ShutdownCloseTime))
}

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
// formed may also lack peers for a while ("no suitable peers for
// placement"): a cluster node retries any error for two minutes, as long
// as a cluster may take to gather, and errors of JetStream being
// unavailable for now (no quorum) as long as it takes.
func (a *App) ensureCore(ctx context.Context) error {
	forming := time.Now().Add(2 * time.Minute)
	retry := func(error) bool { return a.cfg.ClusterName != "" && time.Now().Before(forming) }
	return a.startStep(ctx, "create the streams and buckets", retry, a.topo.EnsureCore)
}

// startAttempt bounds each attempt of a start step (a JetStream request
// times out after 5 s by itself; EnsureCore makes a few dozen, and what an
// attempt created is kept, so the next goes on from there). Short, with
// startBackoff's cap: an attempt begun while the cluster had no quorum
// must not hold the start long after quorum returns (a restarted node's
// API answered 20 s after the heal with 15 s).
const startAttempt = 8 * time.Second

// startBackoff caps the wait between a start step's attempts.
const startBackoff = 2 * time.Second

// startStep runs f until it succeeds, waiting out with backoff JetStream
// being unavailable for now (transient.Temporary, or retry's errors): what
// it waits for is logged at a bounded rate and is what GET /readyz says
// meanwhile. It returns f's error at once when retrying cannot mend it,
// and when the NATS server refused hookd a permission (a request on a
// subject the user may not publish on shows only as a timeout); ctx's
// error once ctx ends.
func (a *App) startStep(ctx context.Context, what string, retry func(error) bool, f func(context.Context) error) error {
	rep := &transient.Reporter{Log: a.log, Msg: "cannot " + what + " yet, retrying"}
	if a.cfg.ClusterName != "" {
		// Nodes started together wait for each other a little: said at
		// INFO for that long.
		rep.Expected = 30 * time.Second
	}
	a.start.set(what, rep)
	b := transient.Backoff{Max: startBackoff}
	for {
		attempt, cancel := context.WithTimeout(ctx, startAttempt)
		err := f(attempt)
		cancel()
		switch {
		case err == nil:
			rep.Recovered()
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("app: %s: %w", what, ctx.Err())
		case a.nc != nil && errors.Is(a.nc.LastError(), nats.ErrPermissionViolation):
			return a.refused(err)
		case !transient.Temporary(err) && (retry == nil || !retry(err)):
			return err
		}
		rep.Failed(err)
		if !transient.Sleep(ctx, b.Next()) {
			return fmt.Errorf("app: %s: %w", what, ctx.Err())
		}
	}
}

// startState is what New waits for, for GET /readyz while it does.
type startState struct {
	mu   sync.Mutex
	step string
	rep  *transient.Reporter
}

func (s *startState) set(step string, rep *transient.Reporter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.step, s.rep = step, rep
}

// ready is the readiness of a process starting: never ready, saying what
// it waits for.
func (s *startState) ready(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rep != nil {
		if err := s.rep.Err(); err != nil {
			return fmt.Errorf("starting: %w", err)
		}
	}
	if s.step == "" {
		return errors.New("starting")
	}
	return fmt.Errorf("starting: %s", s.step)
}

// handlerSwitch serves the handler set last: a listener serves
// httpapi.Starting while New waits, then the API or the probes.
type handlerSwitch struct{ h atomic.Pointer[http.Handler] }

func (s *handlerSwitch) set(h http.Handler) { s.h.Store(&h) }

func (s *handlerSwitch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
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
