package delivery

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stats sums up an endpoint's attempts over a window of the log.
type Stats struct {
	// Attempts counts HTTP attempts made in the window; Succeeded, Failed
	// (retrying or dead) and Dead split them by outcome.
	Attempts, Succeeded, Failed, Dead int
	// LastFailure is the newest failed attempt in the window, nil if none.
	LastFailure *Attempt
	// LastSuccess is when the newest successful attempt was made, zero if
	// none in the window.
	LastSuccess time.Time
	// RuleErrors counts the endpoint's rules that failed at run time
	// (Counters.RecordRuleError); the log scan does not see them.
	RuleErrors int
}

// SuccessRate is Succeeded/Attempts, and false when nothing was attempted:
// no traffic is not a 0% endpoint.
func (s Stats) SuccessRate() (float64, bool) {
	if s.Attempts == 0 {
		return 0, false
	}
	return float64(s.Succeeded) / float64(s.Attempts), true
}

// Stats reads every record of an endpoint's deliveries written since the
// given time. Attempts are counted, not deliveries: a delivery that failed
// twice then succeeded is a 33% success, which is what the receiver's
// health looks like from here. Its cost grows with the attempts in the
// window (about 6 CPU-seconds for 100,000): the API reads Counters, kept
// from the same records; this scan is the reference they are checked
// against.
func (l *Log) Stats(ctx context.Context, endpointID string, since time.Time) (Stats, error) {
	var st Stats
	err := l.read(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{l.names.AttemptSubject(endpointID, "*")},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &since,
	}, func(a Attempt) {
		switch a.Outcome {
		case OutcomeSucceeded:
			st.Succeeded++
			if a.Time.After(st.LastSuccess) {
				st.LastSuccess = a.Time
			}
		case OutcomeRetrying, OutcomeDead:
			st.Failed++
			if a.Outcome == OutcomeDead {
				st.Dead++
			}
			if st.LastFailure == nil || !a.Time.Before(st.LastFailure.Time) {
				st.LastFailure = &a
			}
		default:
			return // a queueing, not an attempt
		}
		st.Attempts++
	})
	return st, err
}
