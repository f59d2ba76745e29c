package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/internal/natsname"
	"github.com/hookd/hookd/topology"
)

// ErrNotFound reports a delivery id with no log.
var ErrNotFound = errors.New("delivery not found")

// Status is a delivery's state, from its newest log record.
type Status string

// Statuses.
const (
	StatusPending   Status = "pending"   // queued, not attempted yet
	StatusFailed    Status = "failed"    // the last attempt failed; a retry is scheduled
	StatusSucceeded Status = "succeeded" // delivered
	StatusDead      Status = "dead"      // dead-lettered
	StatusBatched   Status = "batched"   // collected into a batch, delivered as part of it
)

// ParseStatus checks s.
func ParseStatus(s string) (Status, bool) {
	switch st := Status(s); st {
	case StatusPending, StatusFailed, StatusSucceeded, StatusDead, StatusBatched:
		return st, true
	}
	return "", false
}

// Summary is a delivery's current state: its newest log record.
type Summary struct {
	Last Attempt
}

// Status maps the newest record's outcome to the delivery's status.
func (s Summary) Status() Status {
	switch s.Last.Outcome {
	case OutcomeSucceeded:
		return StatusSucceeded
	case OutcomeRetrying:
		return StatusFailed
	case OutcomeDead:
		return StatusDead
	case OutcomeBatched:
		return StatusBatched
	default:
		return StatusPending
	}
}

// NextAttemptAt is when a failed delivery is tried again; zero otherwise.
func (s Summary) NextAttemptAt() time.Time {
	if s.Last.Outcome != OutcomeRetrying {
		return time.Time{}
	}
	d := time.Duration((s.Last.DurationSeconds + s.Last.NextAttemptInSeconds) * float64(time.Second))
	return s.Last.Time.Add(d)
}

// Log reads the delivery log (the attempts stream), and the deliveries
// waiting in the delivery streams, which are pending without a record.
type Log struct {
	stream jetstream.Stream
	names  topology.Names
	topo   *topology.Topology
}

// OpenLog opens the delivery log.
func OpenLog(ctx context.Context, topo *topology.Topology) (*Log, error) {
	s, err := topo.JetStream().Stream(ctx, topo.Names().AttemptsStream())
	if err != nil {
		return nil, fmt.Errorf("delivery log: %w", err)
	}
	return &Log{stream: s, names: topo.Names(), topo: topo}, nil
}

// Summaries returns the state of every delivery of an endpoint: the
// newest record of each delivery's subject, and a pending record for each
// delivery waiting in the delivery streams without any (routed, not
// attempted yet: see Queued). A delivery both waiting and logged (a retry
// waiting for its time) is what its records say. An endpoint id that is
// not a token is natsname.ErrInvalidName.
func (l *Log) Summaries(ctx context.Context, endpointID string) ([]Summary, error) {
	if err := natsname.ValidToken(endpointID); err != nil {
		return nil, fmt.Errorf("delivery log: %w", err)
	}
	var out []Summary
	logged := map[string]bool{}
	err := l.read(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{l.names.AttemptSubject(endpointID, "*")},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	}, func(a Attempt) {
		out = append(out, Summary{Last: a})
		logged[a.DeliveryID] = true
	})
	if err != nil {
		return nil, err
	}
	err = Queued(ctx, l.topo, endpointID, time.Time{}, func(a Attempt) bool {
		if !logged[a.DeliveryID] {
			out = append(out, Summary{Last: a})
		}
		return true
	})
	return out, err
}

// History returns every record of a delivery, oldest first, or ErrNotFound
// (also for an id that cannot be one, see natsname.ValidToken).
func (l *Log) History(ctx context.Context, deliveryID string) ([]Attempt, error) {
	if err := natsname.ValidToken(deliveryID); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	var out []Attempt
	err := l.read(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{l.names.AttemptSubject("*", deliveryID)},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	}, func(a Attempt) {
		out = append(out, a)
	})
	if err == nil && len(out) == 0 {
		// Routed and not attempted yet: waiting, with no record.
		var a *Attempt
		if a, err = l.findQueued(ctx, deliveryID); err == nil && a != nil {
			out = append(out, *a)
		}
	}
	if err == nil && len(out) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, deliveryID)
	}
	return out, err
}

// findQueued looks for a delivery among those waiting in the delivery
// streams, endpoint by endpoint with a backlog; nil if it is not there.
func (l *Log) findQueued(ctx context.Context, deliveryID string) (*Attempt, error) {
	backlogs, err := l.topo.Backlogs(ctx)
	if err != nil {
		return nil, fmt.Errorf("delivery backlog: %w", err)
	}
	var found *Attempt
	for endpointID := range backlogs {
		err := Queued(ctx, l.topo, endpointID, time.Time{}, func(a Attempt) bool {
			if a.DeliveryID == deliveryID {
				found = &a
			}
			return found == nil
		})
		if err != nil || found != nil {
			return found, err
		}
	}
	return nil, nil
}

// checkFilter refuses a delivery-log filter subject with an id that is
// not a token (natsname.ValidToken) or a whole-token wildcard: the ids
// come from requests, and one too long would close the connection the
// consumer is created on. Errors wrap natsname.ErrInvalidName. (Callers
// that must not widen the read check their id is no wildcard, as
// Summaries and History do.)
func (l *Log) checkFilter(subject string) error {
	toks := strings.Split(subject, ".")
	if len(toks) != len(strings.Split(l.names.AttemptSubject("e", "d"), ".")) {
		return fmt.Errorf("delivery log: %w: %s: an id has a dot", natsname.ErrInvalidName, natsname.Truncate(subject))
	}
	for _, tok := range toks {
		if tok == "*" {
			continue
		}
		if err := natsname.ValidToken(tok); err != nil {
			return fmt.Errorf("delivery log: %w", err)
		}
	}
	return nil
}

// orderedConsumerIdle is how soon the server drops an ordered consumer
// left behind (nats.go keeps its last one): reads and tails are short and
// frequent, so hundreds would otherwise linger for nats.go's 5 minutes.
const orderedConsumerIdle = 5 * time.Second

// read passes every record that cfg selects to each, with an ordered
// consumer that is gone once read returns.
func (l *Log) read(ctx context.Context, cfg jetstream.OrderedConsumerConfig, each func(Attempt)) error {
	for _, f := range cfg.FilterSubjects {
		if err := l.checkFilter(f); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if cfg.InactiveThreshold == 0 {
		cfg.InactiveThreshold = orderedConsumerIdle
	}
	cons, err := l.stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("delivery log: %w", err)
	}
	left := cons.CachedInfo().NumPending
	for left > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("delivery log: %w", err)
		}
		// Asking for no more than is left returns as soon as it arrived,
		// instead of waiting out the fetch's expiry for more.
		batch, err := cons.Fetch(int(min(left, 1000)), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return fmt.Errorf("delivery log: %w", err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			var a Attempt
			if err := json.Unmarshal(m.Data(), &a); err == nil {
				each(a)
			}
			if meta, err := m.Metadata(); err == nil {
				left = meta.NumPending
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("delivery log: %w", err)
		}
		if n == 0 {
			// Nothing came: ask the server what is really left rather than
			// return a partial answer.
			info, err := cons.Info(ctx)
			if err != nil {
				return fmt.Errorf("delivery log: %w", err)
			}
			left = info.NumPending
		}
	}
	return nil
}

// WrongLastSequence reports a conditional append refused because the
// delivery's log had moved on (Nats-Expected-Last-Subject-Sequence).
func WrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
