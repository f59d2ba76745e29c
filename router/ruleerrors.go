package router

import (
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/hookd/hookd/rules"
)

// Kinds of rule error, what RuleErrorRecorder is told. A rule error is its
// endpoint's problem only: the event is still routed to (and acknowledged
// for) every other endpoint, and nothing is retried for it.
const (
	// RuleErrorFilter: the endpoint's filter failed on the event (a
	// run-time error, a result that is not a boolean, a run over its
	// budget) or no longer compiles. The endpoint does not get the event.
	RuleErrorFilter = "filter"
	// RuleErrorOrderingKey: the endpoint's ordering key failed on the
	// event. The delivery is made with the empty key: such deliveries
	// share one lane and stay in order among themselves.
	RuleErrorOrderingKey = "ordering_key"
	// RuleErrorPayload: the endpoint's transform or a header template
	// failed on the event. The delivery is queued marked, and the worker
	// dead-letters it with the error (it can be retried once the
	// endpoint is fixed).
	RuleErrorPayload = "payload"
)

// RuleErrorRecorder is told of every rule error as it happens, with the
// endpoint's id and the kind (RuleErrorFilter, RuleErrorOrderingKey or
// RuleErrorPayload), from many goroutines at once. It must be fast and
// must not block: it runs on the routing path.
type RuleErrorRecorder interface {
	RecordRuleError(endpointID, kind string)
}

// RuleErrorRecorders tells each of its recorders.
type RuleErrorRecorders []RuleErrorRecorder

// RecordRuleError implements RuleErrorRecorder.
func (rs RuleErrorRecorders) RecordRuleError(endpointID, kind string) {
	for _, r := range rs {
		r.RecordRuleError(endpointID, kind)
	}
}

// ruleErrorLogEvery is how often an endpoint's rule errors of one kind are
// logged at most: a filter failing on every event must not flood the logs.
const ruleErrorLogEvery = time.Minute

// ruleErrors records rule errors: to the configured recorder, and to the
// log (ids only, never event data or expr's message, which may quote
// data; at most once a minute per endpoint and kind, with how many there
// were since).
type ruleErrors struct {
	rec RuleErrorRecorder // nil: none
	log *slog.Logger

	mu   sync.Mutex
	seen map[ruleErrorKey]*ruleErrorCount
}

type ruleErrorKey struct{ endpoint, kind string }

type ruleErrorCount struct {
	logged     time.Time
	suppressed int
}

func newRuleErrors(rec RuleErrorRecorder, log *slog.Logger) *ruleErrors {
	return &ruleErrors{rec: rec, log: log, seen: map[ruleErrorKey]*ruleErrorCount{}}
}

// record records a rule error of an endpoint on an event. A nil
// *ruleErrors (backfills, rule tests) records nothing.
func (r *ruleErrors) record(endpointID, eventID, kind string, err error) {
	if r == nil {
		return
	}
	if r.rec != nil {
		r.rec.RecordRuleError(endpointID, kind)
	}
	now := time.Now()
	r.mu.Lock()
	c := r.seen[ruleErrorKey{endpointID, kind}]
	if c == nil {
		if len(r.seen) > 10_000 {
			// Forget old entries rather than grow without bound.
			for k, v := range r.seen {
				if now.Sub(v.logged) > ruleErrorLogEvery {
					delete(r.seen, k)
				}
			}
		}
		c = &ruleErrorCount{}
		r.seen[ruleErrorKey{endpointID, kind}] = c
	}
	if now.Sub(c.logged) < ruleErrorLogEvery {
		c.suppressed++
		r.mu.Unlock()
		return
	}
	suppressed := c.suppressed
	c.logged, c.suppressed = now, 0
	r.mu.Unlock()
	reason := "run-time error"
	if errors.Is(err, rules.ErrInvalidFilter) {
		reason = "does not compile"
	} else if errors.Is(err, rules.ErrBudget) {
		reason = "over its budget"
	} else if errors.Is(err, rules.ErrNotBoolean) {
		reason = "not a boolean"
	}
	r.log.Warn("endpoint rule failed on an event: see the endpoint's stats, and POST /v1/endpoints/{id}/test-filter with the event for the error",
		"endpoint", endpointID, "event", eventID, "kind", kind, "reason", reason, "more_since_last_logged", suppressed)
}
