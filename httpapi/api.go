package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/apikey"
	"github.com/hookd/hookd/catalog"
	"github.com/hookd/hookd/dashboard"
	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/internal/sender"
	"github.com/hookd/hookd/tenant"
	"github.com/hookd/hookd/topology"
	"github.com/hookd/hookd/version"
)

// Request body limits.
const (
	maxSmallBody = 64 << 10
	// MaxEventBody is the largest event accepted over HTTP.
	MaxEventBody = 1 << 20
)

// Config is what the API needs.
type Config struct {
	// Topology gives access to JetStream. Required.
	Topology *topology.Topology
	// Endpoints stores endpoints. Required.
	Endpoints *endpoint.Store
	// Keys authenticates requests. Required.
	Keys *apikey.Store
	// Deliveries reads the delivery log. Required.
	Deliveries *delivery.Log
	// Storage tells whether storage takes writes: while it does not, POST
	// /v1/events answers 503 storage_full at once. Optional: without it,
	// only JetStream's own refusals are answered so.
	Storage StorageState
	// Counters answer endpoint stats. Optional: without them, stats scan
	// the delivery log, which costs about 6 CPU-seconds per 100,000
	// attempts in the window.
	Counters *delivery.Counters
	// Tenants stores tenants. Required.
	Tenants *tenant.Store
	// Catalog is the event-type catalogue; POST /v1/events checks event
	// data against it. Required, and running (catalog.Catalog.Run).
	Catalog *catalog.Catalog
	// Sender makes test deliveries. Optional: default a new sender.Sender.
	Sender *sender.Sender
	// Timeout bounds a test delivery when the endpoint sets none. Optional:
	// default 15s.
	Timeout time.Duration
	// HTTPSOnly refuses endpoint URLs that are not https. Optional.
	HTTPSOnly bool
	// KeyRateLimit caps each API key's requests per second (burst: two
	// seconds' worth) in this process; beyond it, 429 rate_limited with
	// Retry-After. Optional: default 200; negative turns it off.
	KeyRateLimit float64
	// Ready answers GET /readyz. Optional: default JetStream reachable.
	Ready ReadyFunc
	// Metrics serves GET /metrics (to admin keys). Optional: without it,
	// the route answers 404.
	Metrics http.Handler
	// Logger receives the API's logs. Optional: default slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Sender == nil {
		c.Sender = sender.New(version.UserAgent(), nil, c.Logger)
	}
	if c.Timeout == 0 {
		c.Timeout = 15 * time.Second
	}
	if c.KeyRateLimit == 0 {
		c.KeyRateLimit = 200
	}
	if c.Ready == nil && c.Topology != nil {
		js := c.Topology.JetStream()
		c.Ready = func(ctx context.Context) error {
			_, err := js.AccountInfo(ctx)
			return err
		}
	}
}

// Validate reports a missing dependency.
func (c Config) Validate() error {
	if c.Topology == nil || c.Endpoints == nil || c.Keys == nil || c.Deliveries == nil || c.Tenants == nil || c.Catalog == nil {
		return errors.New("httpapi: Topology, Endpoints, Keys, Deliveries, Tenants and Catalog are required")
	}
	return nil
}

// API serves /v1, /healthz, /openapi.json, and the dashboard at /.
type API struct {
	store      *endpoint.Store
	topo       *topology.Topology
	keys       *apikey.Store
	deliveries *delivery.Log
	counters   *delivery.Counters
	storage    StorageState
	tenants    *tenant.Store
	catalog    *catalog.Catalog
	limiter    *tenantLimiter
	keyLimits  *keyLimiter
	httpsOnly  bool
	sender     *sender.Sender
	timeout    time.Duration
	js         jetstream.JetStream
	log        *slog.Logger
	mux        *http.ServeMux
	// bulkSlots holds a token per endpoint being created by a bulk
	// request (bulkParallel at most).
	bulkSlots chan struct{}
}

// New returns the API handler.
func New(cfg Config) (*API, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &API{store: cfg.Endpoints, topo: cfg.Topology, keys: cfg.Keys, deliveries: cfg.Deliveries, tenants: cfg.Tenants, catalog: cfg.Catalog, limiter: newTenantLimiter(), keyLimits: newKeyLimiter(cfg.KeyRateLimit), bulkSlots: make(chan struct{}, bulkParallel), httpsOnly: cfg.HTTPSOnly, sender: cfg.Sender, timeout: cfg.Timeout, js: cfg.Topology.JetStream(),
		log: cfg.Logger.With("component", "api"), mux: http.NewServeMux()}
	a.counters, a.storage = cfg.Counters, cfg.Storage
	v1mux := http.NewServeMux()
	v1 := routes{mux: v1mux}
	v1.HandleFunc("POST /v1/endpoints", a.createEndpoint)
	v1.HandleFunc("POST /v1/endpoints/bulk", a.createEndpointsBulk)
	for _, p := range methodRefusals {
		v1mux.HandleFunc(p, noRoute(v1mux, "/v1/"))
	}
	v1.HandleFunc("GET /v1/endpoints", a.listEndpoints)
	v1.HandleFunc("GET /v1/endpoints/{id}", a.getEndpoint)
	v1.HandleFunc("PATCH /v1/endpoints/{id}", a.updateEndpoint)
	v1.HandleFunc("DELETE /v1/endpoints/{id}", a.deleteEndpoint)
	v1.HandleFunc("GET /v1/endpoints/{id}/secret", a.getSecret)
	v1.HandleFunc("POST /v1/endpoints/{id}/enable", a.enableEndpoint)
	v1.HandleFunc("POST /v1/endpoints/{id}/disable", a.disableEndpoint)
	v1.HandleFunc("POST /v1/endpoints/{id}/rotate-secret", a.rotateSecret)
	v1.HandleFunc("GET /v1/endpoints/{id}/public-keys", a.getPublicKeys)
	v1.HandleFunc("POST /v1/endpoints/{id}/test", a.testSend)
	v1.HandleFunc("POST /v1/endpoints/{id}/test-filter", a.testEndpointFilter)
	v1.HandleFunc("POST /v1/rules/test", a.testRule)
	v1.HandleFunc("POST /v1/endpoints/{id}/recover", a.recoverEndpoint)
	v1.HandleFunc("POST /v1/endpoints/{id}/backfill", a.backfill)
	v1.HandleFunc("GET /v1/endpoints/{id}/deliveries", a.listDeliveries)
	v1.HandleFunc("GET /v1/endpoints/{id}/stats", a.endpointStats)
	v1.HandleFunc("GET /v1/delivery-log", a.deliveryLog)
	v1.HandleFunc("GET /v1/deliveries/{id}", a.getDelivery)
	v1.HandleFunc("POST /v1/deliveries/{id}/retry", a.retryDelivery)
	v1.HandleFunc("GET /v1/events/{id}", a.getEvent)
	v1.HandleFunc("POST /v1/events", a.publishEvent)
	v1.HandleFunc("POST /v1/keys", a.createKey)
	v1.HandleFunc("GET /v1/keys", a.listKeys)
	v1.HandleFunc("DELETE /v1/keys/{id}", a.revokeKey)
	v1.HandleFunc("POST /v1/tenants", a.createTenant)
	v1.HandleFunc("GET /v1/tenants", a.listTenants)
	v1.HandleFunc("GET /v1/tenants/{id}", a.getTenant)
	v1.HandleFunc("PATCH /v1/tenants/{id}", a.updateTenant)
	v1.HandleFunc("DELETE /v1/tenants/{id}", a.deleteTenant)
	v1.HandleFunc("POST /v1/tenants/{id}/portal-tokens", a.createPortalToken)
	v1.HandleFunc("POST /v1/event-types", a.createEventType)
	v1.HandleFunc("GET /v1/event-types", a.listEventTypes)
	v1.HandleFunc("GET /v1/event-types/{name}", a.getEventType)
	v1.HandleFunc("PATCH /v1/event-types/{name}", a.updateEventType)
	v1.HandleFunc("DELETE /v1/event-types/{name}", a.deleteEventType)
	// Unknown paths are the JSON 404, known ones with another method 405.
	v1mux.HandleFunc("/v1/", noRoute(v1mux, "/v1/"))
	a.mux.Handle("/v1/", a.requireKey(v1mux))
	top := routes{mux: a.mux}
	top.HandleFunc("GET /openapi.json", serveOpenAPI)
	top.HandleFunc("GET /healthz", healthz)
	top.Handle("GET /readyz", readyz(cfg.Ready))
	// The API may face tenants (portal tokens): metrics, which name every
	// tenant's endpoints, need an admin key here. --metrics-listen serves
	// them without one, on an address of the operator's choosing.
	metrics := cfg.Metrics
	if metrics == nil {
		metrics = http.HandlerFunc(routeNotFound)
	}
	top.Handle("GET /metrics", a.requireKey(metrics))
	// The dashboard's page and files; any other path is still the JSON 404
	// (or 405).
	a.mux.Handle("/", dashboard.Handler(noRoute(a.mux, "/")))
	return a, nil
}

func routeNotFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "no route for " + r.Method + " " + r.URL.Path})
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }
