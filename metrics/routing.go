package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Routing holds the router's instruments. Its methods only add to
// counters resolved once, at creation: nothing is looked up per event
// (except for rule errors, which are rare: see RecordRuleError).
type Routing struct {
	received    prometheus.Counter
	evaluations prometheus.Counter
	matches     prometheus.Counter
	errors      prometheus.Counter
	deadLetters prometheus.Counter
	forged      prometheus.Counter

	// ruleErrors counts rule errors by endpoint and kind, labelled with
	// at most cap endpoints (later ones as OtherEndpoint).
	ruleErrors *prometheus.CounterVec
	cap        int
	mu         sync.Mutex
	labelled   map[string]bool
}

// OtherEndpoint is the endpoint label of the rule errors of endpoints past
// the cap on per-endpoint series (Options.EndpointLabels).
const OtherEndpoint = "_other"

const ruleErrorsHelp = "Rule errors by endpoint and kind: filter (the endpoint did not get the event), ordering_key (delivered with the empty key) or payload (dead-lettered). Per endpoint for the first --metrics-endpoint-labels endpoints with one, the others as endpoint " + OtherEndpoint + "."

func newRouting(reg prometheus.Registerer, dead *prometheus.CounterVec, endpointLabels int) *Routing {
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
		reg.MustRegister(c)
		return c
	}
	return &Routing{
		received:    counter("hookd_events_received_total", "Events routers took from the events stream (each counted once, on its first routing)."),
		evaluations: counter("hookd_rule_evaluations_total", "Endpoint rules evaluated against events (candidates the index did not rule out)."),
		matches:     counter("hookd_rule_matches_total", "Rule evaluations that matched: deliveries routed."),
		errors:      counter("hookd_rule_errors_total", "Rule evaluations that failed (a filter error counts as no match)."),
		deadLetters: dead.WithLabelValues("routing"),
		forged: counter("hookd_events_forged_total", "Events of hookd's own type space (hookd.*) that hookd did not raise "+
			"(published to events.hookd.* or tenants.<t>.events.hookd.*): acknowledged and never routed."),
		ruleErrors: func() *prometheus.CounterVec {
			c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hookd_endpoint_rule_errors_total",
				Help: ruleErrorsHelp},
				[]string{"endpoint", "kind"})
			reg.MustRegister(c)
			return c
		}(),
		cap:      endpointLabels,
		labelled: map[string]bool{},
	}
}

// RecordRuleError counts a rule error of an endpoint: kind is filter,
// ordering_key or payload (see router.RuleErrorFilter). It implements
// router.RuleErrorRecorder.
func (r *Routing) RecordRuleError(endpointID, kind string) {
	r.mu.Lock()
	if !r.labelled[endpointID] {
		if r.cap < 0 || len(r.labelled) >= r.cap {
			endpointID = OtherEndpoint
		} else {
			r.labelled[endpointID] = true
		}
	}
	r.mu.Unlock()
	r.ruleErrors.WithLabelValues(endpointID, kind).Inc()
}

// EventReceived counts an event taken from the events stream for the first
// time.
func (r *Routing) EventReceived() { r.received.Inc() }

// Evaluated counts the rule evaluations of one event: n evaluated, of
// which matched matched and failed failed.
func (r *Routing) Evaluated(n, matched, failed int) {
	if n > 0 {
		r.evaluations.Add(float64(n))
	}
	if matched > 0 {
		r.matches.Add(float64(matched))
	}
	if failed > 0 {
		r.errors.Add(float64(failed))
	}
}

// DeadLettered counts n deliveries a router dead-lettered.
func (r *Routing) DeadLettered(n int) { r.deadLetters.Add(float64(n)) }

// ForgedDropped counts an event of hookd's own type space that hookd did
// not raise, dropped unrouted.
func (r *Routing) ForgedDropped() { r.forged.Inc() }
