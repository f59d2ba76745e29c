package delivery

import (
	"bytes"
	"context"
	cryptorand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/topology"
)

// Committer group-commits delivery log records: records added within
// CommitWait of the first one waiting, or CommitMax of them, are written
// together, each endpoint's as one message of JSON lines on its log
// subject (topology.Names.LogSubject) of the log stream, all published
// asynchronously. With --sync always, that is one fsync per endpoint and
// window instead of one per record. The caller settles a delivery only
// once its record's commit is done (Commit.Wait), so the log is complete
// before the delivery leaves its stream. Safe for concurrent use.
//
// A message that is not stored (refused, or no acknowledgement within
// Timeout: it may be stored or not) fails its records' commits at once,
// as a caller must not hold a delivery for its history, and is kept to
// be written later: it is sent again, the same bytes under the same
// Nats-Msg-Id (so that the log stream drops it if the first send was
// stored after all, within the stream's duplicate window), with backoff,
// until stored or Close (see unstored). Each record is told to Stored
// once, when it is stored, however many sends that took.
type Committer struct {
	cfg CommitterConfig
	log *slog.Logger

	mu      sync.Mutex
	pending []pendingRecord
	timer   *time.Timer
	closed  bool
	flights sync.WaitGroup

	// msgIDs names the log messages: a prefix of this committer's own
	// and a count.
	msgIDPrefix string
	msgIDs      atomic.Uint64

	later unstored
}

// CommitterConfig configures a Committer.
type CommitterConfig struct {
	// JetStream publishes the records. Required.
	JetStream jetstream.JetStream
	// Names spells the log's subjects. Optional: the zero Names.
	Names topology.Names
	// Wait is the longest a record waits for others. Optional: default
	// DefaultCommitWait.
	Wait time.Duration
	// Max is how many records are written at once at most. Optional:
	// default DefaultCommitMax.
	Max int
	// Timeout bounds the wait for a message's acknowledgement. Optional:
	// default 10s.
	Timeout time.Duration
	// Logger is optional: default slog.Default().
	Logger *slog.Logger
	// Stored is told of every record once it is stored (the endpoint
	// stats counters: each record is counted by the process that wrote
	// it, with no consumer reading the log back), a record written late
	// when it is. Optional: default none.
	Stored AttemptRecorder
	// LaterMaxRecords and LaterMaxBytes bound what is kept to be written
	// later (records, and bytes of their messages). A message that would
	// pass either is dropped, logged at ERROR with its records' count and
	// first delivery: delivery never waits for its history, and memory
	// stays bounded while storage refuses writes. Optional: defaults
	// DefaultLaterMaxRecords and DefaultLaterMaxBytes.
	LaterMaxRecords int
	LaterMaxBytes   int
	// LaterWait is the first wait before a message not stored is sent
	// again; it doubles at each failure up to LaterMaxWait, give or take
	// a fifth. Optional: defaults DefaultLaterWait and DefaultLaterMaxWait.
	LaterWait, LaterMaxWait time.Duration
}

// AttemptRecorder is told of delivery log records as they are stored
// (Counters implements it). It must be safe for concurrent use and quick.
type AttemptRecorder interface {
	RecordAttempt(Attempt)
}

// Defaults of CommitterConfig.
const (
	DefaultCommitWait = time.Millisecond
	DefaultCommitMax  = 256
	// A record is a few hundred bytes (at most a few KiB): 100,000 of them
	// are about 8 minutes of a 200 deliveries/s workload, 64 MiB at most.
	DefaultLaterMaxRecords = 100_000
	DefaultLaterMaxBytes   = 64 << 20
	// Sent again after 250ms, then at most every 5 s: many times within
	// the log stream's duplicate window (2 minutes by default).
	DefaultLaterWait    = 250 * time.Millisecond
	DefaultLaterMaxWait = 5 * time.Second
)

// maxCommitBytes bounds one message's records: well within the server's
// default 1 MiB payload limit (a record is at most a few KiB: its
// response snippet and error are bounded).
const maxCommitBytes = 512 << 10

func (c *CommitterConfig) setDefaults() {
	if c.Wait == 0 {
		c.Wait = DefaultCommitWait
	}
	if c.Max == 0 {
		c.Max = DefaultCommitMax
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.LaterMaxRecords == 0 {
		c.LaterMaxRecords = DefaultLaterMaxRecords
	}
	if c.LaterMaxBytes == 0 {
		c.LaterMaxBytes = DefaultLaterMaxBytes
	}
	if c.LaterWait == 0 {
		c.LaterWait = DefaultLaterWait
	}
	if c.LaterMaxWait == 0 {
		c.LaterMaxWait = max(DefaultLaterMaxWait, c.LaterWait)
	}
}

// Validate reports a configuration a Committer cannot run with.
func (c CommitterConfig) Validate() error {
	switch {
	case c.JetStream == nil:
		return errors.New("delivery: a committer needs JetStream")
	case c.Wait < 0 || c.Max < 0 || c.Timeout < 0:
		return fmt.Errorf("delivery: committer wait %s, max %d and timeout %s must not be negative", c.Wait, c.Max, c.Timeout)
	case c.LaterMaxRecords < 0 || c.LaterMaxBytes < 0 || c.LaterWait < 0 || c.LaterMaxWait < 0:
		return fmt.Errorf("delivery: committer later max records %d, max bytes %d, wait %s and max wait %s must not be negative",
			c.LaterMaxRecords, c.LaterMaxBytes, c.LaterWait, c.LaterMaxWait)
	case c.LaterMaxWait < c.LaterWait:
		return fmt.Errorf("delivery: committer later max wait %s is below its wait %s", c.LaterMaxWait, c.LaterWait)
	}
	return nil
}

// NewCommitter returns a Committer; Close flushes it.
func NewCommitter(cfg CommitterConfig) (*Committer, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Committer{cfg: cfg, log: cfg.Logger.With("component", "committer"), msgIDPrefix: newMsgIDPrefix()}
	c.later.c = c
	return c, nil
}

// ErrCommitterClosed reports a record added after Close.
var ErrCommitterClosed = errors.New("delivery: committer closed")

// Commit is the fate of one added record.
type Commit struct {
	done chan struct{}
	err  error
	seq  uint64
}

// Done is closed once the record is stored or failed.
func (c *Commit) Done() <-chan struct{} { return c.done }

// Wait waits until the record is stored and returns its message's
// sequence in the log stream, or why it was not stored (ctx ending
// first: ctx's error, the record may still be stored).
func (c *Commit) Wait(ctx context.Context) (uint64, error) {
	select {
	case <-c.done:
		return c.seq, c.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

type pendingRecord struct {
	a Attempt
	c *Commit
}

// Add queues a record for the next commit and returns what to wait on.
func (c *Committer) Add(a Attempt) *Commit {
	cm := &Commit{done: make(chan struct{})}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		cm.err = ErrCommitterClosed
		close(cm.done)
		return cm
	}
	c.pending = append(c.pending, pendingRecord{a: a, c: cm})
	var batch []pendingRecord
	switch {
	case len(c.pending) >= c.cfg.Max:
		batch = c.take()
		c.flights.Add(1)
	case len(c.pending) == 1:
		if c.timer == nil {
			c.timer = time.AfterFunc(c.cfg.Wait, c.flushTimer)
		} else {
			c.timer.Reset(c.cfg.Wait)
		}
	}
	c.mu.Unlock()
	if batch != nil {
		c.write(batch)
		c.flights.Done()
	}
	return cm
}

// take returns the pending records; c.mu is held.
func (c *Committer) take() []pendingRecord {
	batch := c.pending
	c.pending = nil
	if c.timer != nil {
		c.timer.Stop()
	}
	return batch
}

func (c *Committer) flushTimer() {
	c.mu.Lock()
	batch := c.take()
	if len(batch) > 0 {
		c.flights.Add(1) // under c.mu: Close waits for it
	}
	c.mu.Unlock()
	if len(batch) > 0 {
		c.write(batch)
		c.flights.Done()
	}
}

// Close writes what is pending, waits for every commit in flight, tries
// once more to write what could not be stored, all until ctx ends
// (storage that never acknowledges must not hold a shutdown), logs at
// ERROR how many records are left unwritten (they are lost: see
// unstored), and refuses records from then on (ErrCommitterClosed).
func (c *Committer) Close(ctx context.Context) {
	c.mu.Lock()
	c.closed = true
	batch := c.take()
	if len(batch) > 0 {
		c.flights.Add(1)
	}
	c.mu.Unlock()
	if len(batch) > 0 {
		c.write(batch)
		c.flights.Done()
	}
	done := make(chan struct{})
	go func() {
		c.flights.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	c.later.close(ctx)
}

// Unwritten returns how many records and bytes are kept to be written
// later (see CommitterConfig.LaterMaxRecords).
func (c *Committer) Unwritten() (records, bytes int) { return c.later.size() }

// write publishes batch, one message per endpoint (more when one would be
// too large), and resolves each record's commit with its message's fate.
func (c *Committer) write(batch []pendingRecord) {
	byEndpoint := map[string][]pendingRecord{}
	var order []string
	for _, p := range batch {
		id := p.a.EndpointID
		if _, ok := byEndpoint[id]; !ok {
			order = append(order, id)
		}
		byEndpoint[id] = append(byEndpoint[id], p)
	}
	for _, id := range order {
		recs := byEndpoint[id]
		for len(recs) > 0 {
			var body []byte
			n := 0
			for n < len(recs) {
				b, err := json.Marshal(recs[n].a)
				if err != nil {
					b = []byte("{}") // never happens: an Attempt always encodes
				}
				if n > 0 && len(body)+len(b)+1 > maxCommitBytes {
					break
				}
				body = append(append(body, b...), '\n')
				n++
			}
			c.publish(id, body, recs[:n])
			recs = recs[n:]
		}
	}
}

func (c *Committer) publish(endpointID string, body []byte, recs []pendingRecord) {
	m := nats.NewMsg(c.cfg.Names.LogSubject(endpointID))
	m.Data = body
	// An id of its own, kept by a send again: the log stream stores the
	// message once if the first send was stored after all.
	m.Header.Set(jetstream.MsgIDHeader, c.msgIDPrefix+strconv.FormatUint(c.msgIDs.Add(1), 36))
	resolve := func(seq uint64, err error) {
		if err != nil {
			// The callers are told at once; the records are written later.
			attempts := make([]Attempt, len(recs))
			for i, p := range recs {
				attempts[i] = p.a
			}
			c.later.keep(&unstoredMsg{endpointID: endpointID, msg: m, recs: attempts, first: time.Now(), err: err})
		}
		for _, p := range recs {
			if err == nil && c.cfg.Stored != nil {
				c.cfg.Stored.RecordAttempt(p.a)
			}
			p.c.seq, p.c.err = seq, err
			close(p.c.done)
		}
	}
	f, err := c.cfg.JetStream.PublishMsgAsync(m)
	if err != nil {
		resolve(0, err)
		return
	}
	c.flights.Add(1)
	go func() {
		defer c.flights.Done()
		resolve(c.awaitAck(f))
	}()
}

// awaitAck waits for a publish's acknowledgement, Timeout at most.
func (c *Committer) awaitAck(f jetstream.PubAckFuture) (uint64, error) {
	t := time.NewTimer(c.cfg.Timeout)
	defer t.Stop()
	select {
	case ack := <-f.Ok():
		return ack.Sequence, nil
	case err := <-f.Err():
		return 0, err
	case <-t.C:
		return 0, fmt.Errorf("delivery log: %w within %s", errNoAck, c.cfg.Timeout)
	}
}

// errNoAck reports a log message whose acknowledgement did not come in
// time: it may be stored or not.
var errNoAck = errors.New("no acknowledgement")

// newMsgIDPrefix returns a prefix no other committer's log messages share:
// "hookd-log-" and 64 random bits.
func newMsgIDPrefix() string {
	var b [8]byte
	_, _ = cryptorand.Read(b[:])
	return "hookd-log-" + hex.EncodeToString(b[:]) + "-"
}

// DecodeRecords reads the records of one log message (JSON lines); lines
// that are not records are skipped.
func DecodeRecords(data []byte, each func(Attempt)) {
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(line) == 0 {
			continue
		}
		var a Attempt
		if json.Unmarshal(line, &a) == nil {
			each(a)
		}
	}
}
