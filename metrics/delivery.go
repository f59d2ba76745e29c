package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes and status classes of an attempt, as label values. Attempt
// indexes its pre-resolved counters with them, so an attempt costs no
// label lookup.
var (
	outcomes      = [...]string{"succeeded", "retrying", "dead"}
	statusClasses = [...]string{"none", "1xx", "2xx", "3xx", "4xx", "5xx", "other"}
)

// Buckets, in seconds. An attempt is bounded by its timeout (15s by
// default, at most minutes); a delivery's latency includes its retries,
// which by default stretch over a day.
var (
	attemptBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60}
	latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 7200, 21600, 86400}
)

// Delivery holds the worker's instruments, every label combination
// resolved once at creation.
type Delivery struct {
	attempts    [len(outcomes)][len(statusClasses)]prometheus.Counter
	retries     prometheus.Counter
	direct      prometheus.Counter
	deadLetters prometheus.Counter
	duration    prometheus.Histogram
	latency     prometheus.Histogram
}

func newDelivery(reg prometheus.Registerer, dead *prometheus.CounterVec) *Delivery {
	attempts := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hookd_delivery_attempts_total",
		Help: "HTTP delivery attempts by outcome (succeeded, retrying: another attempt is scheduled, dead: dead-lettered) and status_class of the answer (2xx...5xx, none when no answer came)."},
		[]string{"outcome", "status_class"})
	d := &Delivery{
		retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "hookd_delivery_retries_total",
			Help: "Failed attempts after which another attempt was scheduled."}),
		direct: prometheus.NewCounter(prometheus.CounterOpts{Name: "hookd_delivery_direct_attempts_total",
			Help: "First attempts made directly by the router's process, without queueing the delivery (the fast path); they are counted in hookd_delivery_attempts_total too."}),
		deadLetters: dead.WithLabelValues("delivery"),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hookd_delivery_attempt_duration_seconds",
			Help: "Duration of one HTTP delivery attempt, from sending to the end of the answer.", Buckets: attemptBuckets}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hookd_delivery_latency_seconds",
			Help: "End-to-end latency of successful deliveries: from the event's acceptance into the events stream to its receiver's 2xx, retries included.", Buckets: latencyBuckets}),
	}
	for i, o := range outcomes {
		for j, c := range statusClasses {
			d.attempts[i][j] = attempts.WithLabelValues(o, c)
		}
	}
	reg.MustRegister(attempts, d.retries, d.direct, d.duration, d.latency)
	return d
}

// Attempt counts one HTTP attempt: its outcome ("succeeded", "retrying" or
// "dead"), the HTTP status (0 when no answer came) and how long it took.
func (d *Delivery) Attempt(outcome string, status int, took time.Duration) {
	o := 0
	switch outcome {
	case "retrying":
		o = 1
		d.retries.Inc()
	case "dead":
		o = 2
	}
	d.attempts[o][statusClass(status)].Inc()
	d.duration.Observe(took.Seconds())
}

// statusClass is the index in statusClasses of an HTTP status.
func statusClass(status int) int {
	switch {
	case status == 0:
		return 0
	case status >= 100 && status < 600:
		return status / 100
	default:
		return len(statusClasses) - 1
	}
}

// Delivered records the end-to-end latency of a successful delivery.
func (d *Delivery) Delivered(latency time.Duration) { d.latency.Observe(max(latency, 0).Seconds()) }

// Direct counts an attempt made on the fast path (worker.Worker.Direct).
func (d *Delivery) Direct() { d.direct.Inc() }

// DeadLettered counts a delivery a worker dead-lettered.
func (d *Delivery) DeadLettered() { d.deadLetters.Inc() }
