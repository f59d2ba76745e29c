package delivery

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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

// Log reads the delivery log: the log stream (topology.Names.LogStream,
// records group-committed by a Committer), the attempts stream of earlier
// releases until its records age out, and the deliveries waiting in the
// delivery streams, which are pending without a record.
type Log struct {
	stream jetstream.Stream // the legacy attempts stream
	log    jetstream.Stream
	names  topology.Names
	topo   *topology.Topology
	// requeued is the bucket of manual queueings; nil when it cannot be
	// opened (History then reads to the end of the log).
	requeued jetstream.KeyValue
	// legacyEmpty: the legacy attempts stream held nothing when the log
	// was opened.
	legacyEmpty bool
	// byFingerprint finds the endpoints a delivery id's fingerprint may
	// name (WithEndpoints); nil: every backlog is read.
	byFingerprint func(fp string) []string
}

// LogOption configures a Log.
type LogOption func(*Log)

// WithEndpoints tells the log how to find the ids of the endpoints whose
// id has a fingerprint (topology.Fingerprint, which delivery ids hold),
// such as endpoint.Snapshot.WithFingerprint over the process's registry.
// History then looks for a waiting delivery only on those endpoints'
// subjects: the id of no known endpoint costs no request, however many
// endpoints there are. Without it, History reads the backlogs of every
// endpoint (topology.Topology.Backlogs) to find them.
func WithEndpoints(byFingerprint func(fp string) []string) LogOption {
	return func(l *Log) { l.byFingerprint = byFingerprint }
}

// OpenLog opens the delivery log.
func OpenLog(ctx context.Context, topo *topology.Topology, opts ...LogOption) (*Log, error) {
	s, err := topo.JetStream().Stream(ctx, topo.Names().AttemptsStream())
	if err != nil {
		return nil, fmt.Errorf("delivery log: %w", err)
	}
	ls, err := topo.JetStream().Stream(ctx, topo.Names().LogStream())
	if err != nil {
		return nil, fmt.Errorf("delivery log: %w", err)
	}
	// Nothing is written to the legacy stream any more: empty now, it
	// stays empty, and Legacy need not ask it.
	l := &Log{stream: s, log: ls, names: topo.Names(), topo: topo, legacyEmpty: s.CachedInfo().State.Msgs == 0}
	l.requeued, _ = topo.Requeued(ctx)
	for _, o := range opts {
		o(l)
	}
	return l, nil
}

// clockMargin is how far before a delivery's acceptance second (or a
// message's store time) its records are looked for: records are stamped
// by the server storing them, whose clock may trail the events stream
// leader's by this much on a cluster.
const clockMargin = time.Minute

// fold reports whether record a replaces cur as its delivery's state, as
// the log's records are read in the order they were stored: a record of
// an older queueing than one already seen is superseded (a late attempt
// of a queueing a manual retry replaced), and a queueing's "pending"
// record never replaces an attempt of the same queueing (it may be stored
// after a fast worker's first attempt). Within a queueing, records are
// stored in the order they were made, except one whose first write
// failed and that the Committer wrote later: an earlier attempt's record
// (a lower number), or a retrying record of the attempt a final record
// (succeeded, dead, batched) closed, never replaces what followed it.
func fold(cur *Attempt, a Attempt) bool {
	switch {
	case cur == nil || a.Queue > cur.Queue:
		return true
	case a.Queue < cur.Queue:
		return false
	case a.Outcome == OutcomePending || cur.Outcome == OutcomePending:
		return cur.Outcome == OutcomePending
	case a.Number != cur.Number:
		return a.Number > cur.Number
	}
	return final(a.Outcome) || !final(cur.Outcome)
}

// final reports an outcome after which a queueing makes no more attempts.
func final(o Outcome) bool {
	return o == OutcomeSucceeded || o == OutcomeDead || o == OutcomeBatched
}

// folder folds records into the state of each delivery, in the order
// they are first seen.
type folder struct {
	state map[string]*Attempt
	order []string
}

func (f *folder) add(a Attempt) {
	if f.state == nil {
		f.state = map[string]*Attempt{}
	}
	cur, seen := f.state[a.DeliveryID]
	if !seen {
		f.order = append(f.order, a.DeliveryID)
	}
	if fold(cur, a) {
		f.state[a.DeliveryID] = &a
	}
}

// Summaries returns the state of every delivery of an endpoint: its
// records folded (see fold) from the log stream, then those of the legacy
// attempts stream for deliveries without records in the log stream, then
// a pending record for each delivery waiting in the delivery streams
// without any (routed, not attempted yet: see Queued). A delivery both
// waiting and logged (a retry waiting for its time) is what its records
// say. An endpoint id that is not a token is natsname.ErrInvalidName.
func (l *Log) Summaries(ctx context.Context, endpointID string) ([]Summary, error) {
	if err := natsname.ValidToken(endpointID); err != nil {
		return nil, fmt.Errorf("delivery log: %w", err)
	}
	// The backlog first: a delivery attempted (and so leaving it) while
	// this reads was logged before it left, so it is in one or the other.
	var waiting []Attempt
	err := Queued(ctx, l.topo, endpointID, time.Time{}, func(a Attempt) bool {
		waiting = append(waiting, a)
		return true
	})
	if err != nil {
		return nil, err
	}
	var f folder
	err = l.readLog(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{l.names.LogSubject(endpointID)},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	}, func(a Attempt, _ uint64) bool {
		if a.EndpointID == endpointID { // a fingerprint may be shared
			f.add(a)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	out := make([]Summary, 0, len(f.order))
	for _, id := range f.order {
		out = append(out, Summary{Last: *f.state[id]})
	}
	err = l.read(ctx, l.stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{l.names.AttemptSubject(endpointID, "*")},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	}, func(a Attempt, _ uint64) bool {
		if _, ok := f.state[a.DeliveryID]; !ok {
			out = append(out, Summary{Last: a})
			f.add(a)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	for _, a := range waiting {
		if _, ok := f.state[a.DeliveryID]; !ok {
			out = append(out, Summary{Last: a})
		}
	}
	return out, nil
}

// Requeued is the newest manual queueing of a delivery, as kept in the
// requeued bucket (topology.Names.RequeuedBucket).
type Requeued struct {
	Queue int       `json:"queue"`
	Time  time.Time `json:"time"`
}

// History returns every record of a delivery, oldest first, the last one
// its current state, or ErrNotFound (also for an id that cannot be one,
// see natsname.ValidToken). Records of a queueing that a newer one
// replaced, stored after the newer one's, are left out. It reads the
// delivery's endpoint's log subject from the second its id holds
// (ParseID), and stops at a final record (succeeded, dead, batched)
// unless the delivery was queued again by hand later; then the legacy
// attempts stream; and a delivery with no records at all is looked for
// among those waiting for its endpoint.
func (l *Log) History(ctx context.Context, deliveryID string) ([]Attempt, error) {
	if err := natsname.ValidToken(deliveryID); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	var out []Attempt
	fp, accepted, ok := ParseID(deliveryID)
	if ok {
		var err error
		if out, err = l.history(ctx, deliveryID, fp, accepted); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		err := l.read(ctx, l.stream, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{l.names.AttemptSubject("*", deliveryID)},
			DeliverPolicy:  jetstream.DeliverAllPolicy,
		}, func(a Attempt, _ uint64) bool {
			out = append(out, a)
			return true
		})
		if err != nil {
			return nil, err
		}
		if n := len(out); n > 0 {
			// A delivery of an earlier release attempted since (under its
			// old id): its newer records are on its endpoint's log subject.
			last := out[n-1]
			more, err := l.history(ctx, deliveryID, topology.Fingerprint(last.EndpointID), last.Time)
			if err != nil {
				return nil, err
			}
			for _, a := range more {
				if a.Queue >= last.Queue {
					out = append(out, a)
				}
			}
		}
	}
	if len(out) == 0 && ok {
		// Routed and not attempted yet: waiting, with no record.
		a, err := l.findQueued(ctx, deliveryID, fp, accepted)
		if err != nil {
			return nil, err
		}
		if a != nil {
			out = append(out, *a)
		} else if out, err = l.history(ctx, deliveryID, fp, accepted); err != nil {
			// Attempted meanwhile: its record is stored before it leaves
			// the backlog.
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, deliveryID)
	}
	return out, nil
}

// history reads a delivery's records from the log stream.
func (l *Log) history(ctx context.Context, deliveryID, fp string, accepted time.Time) ([]Attempt, error) {
	again := l.requeue(ctx, deliveryID)
	from := accepted.Add(-clockMargin)
	var out []Attempt
	maxQueue := 0
	err := l.readLog(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{l.names.LogFingerprintSubject(fp)},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &from,
	}, func(a Attempt, _ uint64) bool {
		if a.DeliveryID != deliveryID {
			return true
		}
		if a.Queue < maxQueue {
			return true // a late record of a replaced queueing
		}
		maxQueue = a.Queue
		out = append(out, a)
		switch a.Outcome {
		case OutcomeSucceeded, OutcomeDead, OutcomeBatched:
			return again != nil && a.Queue < again.Queue
		}
		return true
	})
	// A queueing's pending record may follow its first attempt's, and a
	// record written late (Committer) the records of later attempts: the
	// order they were made in is queueing, pending, attempt number, a
	// final record last (see fold).
	slices.SortStableFunc(out, func(a, b Attempt) int {
		if c := cmp.Compare(a.Queue, b.Queue); c != 0 {
			return c
		}
		if c := cmp.Compare(pendingFirst(a), pendingFirst(b)); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Number, b.Number); c != 0 {
			return c
		}
		return cmp.Compare(finalLast(a), finalLast(b))
	})
	return out, err
}

func pendingFirst(a Attempt) int {
	if a.Outcome == OutcomePending {
		return 0
	}
	return 1
}

func finalLast(a Attempt) int {
	if final(a.Outcome) {
		return 1
	}
	return 0
}

// requeue reads a delivery's newest manual queueing; nil if none (or the
// bucket cannot be read: the caller then reads on).
func (l *Log) requeue(ctx context.Context, deliveryID string) *Requeued {
	if l.requeued == nil {
		return &Requeued{Queue: 1 << 30}
	}
	e, err := l.requeued.Get(ctx, deliveryID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	var r Requeued
	if err != nil || json.Unmarshal(e.Value(), &r) != nil {
		return &Requeued{Queue: 1 << 30}
	}
	return &r
}

// findQueued looks for a delivery among those waiting for the endpoints
// whose fingerprint its id holds, stored from its acceptance second on;
// nil if it is not there.
func (l *Log) findQueued(ctx context.Context, deliveryID, fp string, accepted time.Time) (*Attempt, error) {
	endpoints, err := l.endpointsOf(ctx, fp)
	if err != nil {
		return nil, err
	}
	var found *Attempt
	for _, endpointID := range endpoints {
		err := Queued(ctx, l.topo, endpointID, accepted.Add(-clockMargin), func(a Attempt) bool {
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

// endpointsOf returns the ids of the endpoints whose fingerprint is fp:
// from WithEndpoints' lookup, else those of every endpoint with a backlog.
func (l *Log) endpointsOf(ctx context.Context, fp string) ([]string, error) {
	if l.byFingerprint != nil {
		return l.byFingerprint(fp), nil
	}
	backlogs, err := l.topo.Backlogs(ctx)
	if err != nil {
		return nil, fmt.Errorf("delivery backlog: %w", err)
	}
	var out []string
	for endpointID := range backlogs {
		if topology.Fingerprint(endpointID) == fp {
			out = append(out, endpointID)
		}
	}
	return out, nil
}

// checkFilter refuses a delivery-log filter subject with a token that is
// not a valid one (natsname.ValidToken) or a whole-token wildcard, or
// with more tokens than the log's subjects have (an id with a dot): the
// ids come from requests, and one too long would close the connection
// the consumer is created on. Errors wrap natsname.ErrInvalidName.
// (Callers that must not widen the read check their id is no wildcard, as
// Summaries and History do.)
func (l *Log) checkFilter(subject string) error {
	toks := strings.Split(subject, ".")
	if len(toks) != len(strings.Split(l.names.AttemptSubject("e", "d"), ".")) &&
		len(toks) != len(strings.Split(l.names.LogFingerprintSubject("f"), ".")) {
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

// readLog passes every record of the log stream's messages that cfg
// selects to each, with its message's sequence, until each returns false.
func (l *Log) readLog(ctx context.Context, cfg jetstream.OrderedConsumerConfig, each func(Attempt, uint64) bool) error {
	return l.readMsgs(ctx, l.log, cfg, func(m jetstream.Msg, seq uint64) bool {
		more := true
		DecodeRecords(m.Data(), func(a Attempt) {
			if more {
				more = each(a, seq)
			}
		})
		return more
	})
}

// read passes every record of stream (one per message: the legacy
// attempts stream) that cfg selects to each, until each returns false.
func (l *Log) read(ctx context.Context, stream jetstream.Stream, cfg jetstream.OrderedConsumerConfig, each func(Attempt, uint64) bool) error {
	return l.readMsgs(ctx, stream, cfg, func(m jetstream.Msg, seq uint64) bool {
		var a Attempt
		if err := json.Unmarshal(m.Data(), &a); err == nil {
			return each(a, seq)
		}
		return true
	})
}

// readMsgs passes every message that cfg selects to each, with its
// stream sequence, until each returns false (readStream: a consumer made
// for the read and gone once it returns).
func (l *Log) readMsgs(ctx context.Context, stream jetstream.Stream, cfg jetstream.OrderedConsumerConfig, each func(jetstream.Msg, uint64) bool) error {
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
	if err := readStream(ctx, stream, cfg, each); err != nil {
		return fmt.Errorf("delivery log: %w", err)
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

// ClockMargin is how far before a message's store time a reader of the
// log looks for records about it (see Last).
const ClockMargin = clockMargin

// Follow passes to each, with its message's sequence, every record on an
// endpoint's log subject (those of endpoints sharing its fingerprint
// too) stored after sequence after, or when after is 0 from time from
// on, until each returns false: for readers that keep their own view of
// an endpoint's log up to date.
func (l *Log) Follow(ctx context.Context, endpointID string, from time.Time, after uint64, each func(Attempt, uint64) bool) error {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{l.names.LogSubject(endpointID)}}
	if after > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, after+1
	} else {
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &from
	}
	return l.readLog(ctx, cfg, each)
}

// LastSeq returns the sequence of the newest message on an endpoint's log
// subject (0: none): one direct get, so a reader keeping its own view
// (Follow) knows without a consumer whether anything was stored since.
func (l *Log) LastSeq(ctx context.Context, endpointID string) (uint64, error) {
	m, err := l.log.GetLastMsgForSubject(ctx, l.names.LogSubject(endpointID))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("delivery log: %w", err)
	}
	return m.Sequence, nil
}

// Legacy returns a delivery's newest record in the legacy attempts
// stream, nil if none.
func (l *Log) Legacy(ctx context.Context, endpointID, deliveryID string) (*Attempt, error) {
	if l.legacyEmpty {
		return nil, nil
	}
	m, err := l.stream.GetLastMsgForSubject(ctx, l.names.AttemptSubject(endpointID, deliveryID))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("delivery log: %w", err)
	}
	var a Attempt
	if err := json.Unmarshal(m.Data, &a); err != nil {
		return nil, fmt.Errorf("delivery log: %w", err)
	}
	return &a, nil
}

// Fold reports whether record a replaces cur as its delivery's state
// (cur nil: none yet); see fold.
func Fold(cur *Attempt, a Attempt) bool { return fold(cur, a) }
