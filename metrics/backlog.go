package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BacklogFunc returns the deliveries waiting for each endpoint, by endpoint
// id (0 for an endpoint with none).
type BacklogFunc func(ctx context.Context) (map[string]uint64, error)

// backlogTimeout bounds reading the backlog during a scrape, below
// Prometheus's default scrape timeout (10s).
const backlogTimeout = 5 * time.Second

// backlogReuse is how long a backlog read serves further scrapes: two
// Prometheus servers scraping one process cost one listing of the streams.
const backlogReuse = time.Second

var (
	backlogDesc = prometheus.NewDesc("hookd_endpoint_backlog_deliveries",
		"Deliveries waiting for an endpoint (not yet acknowledged by a worker), per endpoint while there are at most --metrics-endpoint-labels endpoints.",
		[]string{"endpoint"}, nil)
	backlogTotalDesc = prometheus.NewDesc("hookd_backlog_deliveries",
		"Deliveries waiting for all endpoints together.", nil, nil)
	endpointsDesc = prometheus.NewDesc("hookd_endpoints",
		"Endpoints, with or without deliveries waiting.", nil, nil)
)

// WatchBacklog exports the backlog that read returns, read when scraped.
// Call it once, in processes that should report the backlog (it is the
// same from every process).
func (m *Metrics) WatchBacklog(read BacklogFunc) {
	m.reg.MustRegister(&backlogCollector{read: read, cap: m.opts.EndpointLabels})
}

type backlogCollector struct {
	read BacklogFunc
	cap  int

	mu   sync.Mutex
	at   time.Time
	last map[string]uint64
}

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- backlogDesc
	ch <- backlogTotalDesc
	ch <- endpointsDesc
}

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	backlog, err := c.get()
	if err != nil {
		// Reported as a scrape error; the other metrics are still served.
		ch <- prometheus.NewInvalidMetric(backlogTotalDesc, err)
		return
	}
	var total uint64
	for _, n := range backlog {
		total += n
	}
	ch <- prometheus.MustNewConstMetric(backlogTotalDesc, prometheus.GaugeValue, float64(total))
	ch <- prometheus.MustNewConstMetric(endpointsDesc, prometheus.GaugeValue, float64(len(backlog)))
	if c.cap < 0 || len(backlog) > c.cap {
		return
	}
	for id, n := range backlog {
		ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64(n), id)
	}
}

// get reads the backlog, or reuses a read younger than backlogReuse.
func (c *backlogCollector) get() (map[string]uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last != nil && time.Since(c.at) < backlogReuse {
		return c.last, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), backlogTimeout)
	defer cancel()
	backlog, err := c.read(ctx)
	if err != nil {
		return nil, err
	}
	c.last, c.at = backlog, time.Now()
	return backlog, nil
}
