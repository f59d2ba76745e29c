// Package metrics holds hookd's Prometheus metrics: one registry per
// process (never the global one, so several hookd apps in one test binary
// do not collide), the counters and histograms the router and worker
// update on their hot paths, and the per-endpoint backlog gauges read from
// JetStream when scraped. Every metric is named hookd_*, in base units
// (seconds), counters end in _total; docs/observability.md lists them.
package metrics
