package metrics

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hookd/hookd/version"
)

// DefaultEndpointLabels is the default cap on per-endpoint series (see
// Options.EndpointLabels).
const DefaultEndpointLabels = 100

// Options configures a Metrics.
type Options struct {
	// EndpointLabels is the largest number of endpoints for which the
	// backlog is exported per endpoint (label endpoint); with more, only
	// the aggregate is, so a deployment with 100,000 endpoints cannot flood
	// Prometheus with series. Rule errors are counted per endpoint for
	// the first EndpointLabels endpoints that have one, the others
	// together. Optional: default DefaultEndpointLabels; negative exports
	// only the aggregate.
	EndpointLabels int
	// Logger receives scrape errors. Optional: default slog.Default().
	Logger *slog.Logger
}

// Metrics is one process's registry and the instruments of its roles.
type Metrics struct {
	reg  *prometheus.Registry
	opts Options
	// Routing is updated by routers, Delivery by workers.
	Routing  *Routing
	Delivery *Delivery
}

// New returns a registry holding the Go runtime and process collectors,
// hookd_build_info, and every routing and delivery metric (at zero until
// used, so dashboards and alerts see them from the start).
func New(opts Options) *Metrics {
	if opts.EndpointLabels == 0 {
		opts.EndpointLabels = DefaultEndpointLabels
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	info := prometheus.NewGauge(prometheus.GaugeOpts{Name: "hookd_build_info", Help: "Always 1; the label version is hookd's version.",
		ConstLabels: prometheus.Labels{"version": version.Version}})
	info.Set(1)
	reg.MustRegister(info)
	// Both roles dead-letter: one metric, told apart by stage.
	dead := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hookd_dead_letters_total",
		Help: "Deliveries dead-lettered; stage is delivery (a permanent failure or retries exhausted) or routing (the endpoint stream could not be reached)."},
		[]string{"stage"})
	reg.MustRegister(dead)
	return &Metrics{reg: reg, opts: opts, Routing: newRouting(reg, dead, opts.EndpointLabels), Delivery: newDelivery(reg, dead)}
}

// Registry is the process's registry, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format (or
// OpenMetrics when asked). A collector that fails (say, the backlog while
// JetStream is unreachable) leaves its series out; the rest is served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:          slogErrorLog{m.opts.Logger},
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	})
}

// slogErrorLog adapts promhttp's error log to slog.
type slogErrorLog struct{ log *slog.Logger }

func (l slogErrorLog) Println(v ...any) { l.log.Warn("metrics scrape", "err", v) }
