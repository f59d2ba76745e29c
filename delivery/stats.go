package delivery

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/internal/natsname"
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
	count := func(a Attempt, _ uint64) bool {
		if endpointID != "*" && a.EndpointID != "" && a.EndpointID != endpointID {
			return true // another endpoint with the same fingerprint
		}
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
			return true // a queueing, not an attempt
		}
		st.Attempts++
		return true
	}
	subject := l.names.LogFingerprintSubject("*")
	if endpointID != "*" {
		subject = l.names.LogSubject(endpointID)
	}
	if err := natsname.ValidToken(endpointID); endpointID != "*" && err != nil {
		return st, fmt.Errorf("delivery log: %w", err)
	}
	err := l.readLog(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &since,
	}, count)
	if err != nil {
		return st, err
	}
	// Records of an earlier release, until they age out.
	err = l.read(ctx, l.stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{l.names.AttemptSubject(endpointID, "*")},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &since,
	}, count)
	return st, err
}
