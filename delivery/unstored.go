package delivery

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// What a Committer could not store is kept in memory, in the order it
// failed, and sent again until stored:
//
//   - the same message (bytes, subject, Nats-Msg-Id), so a first send
//     that was stored after all (its acknowledgement lost or late) is
//     dropped by the log stream as a duplicate within its duplicate
//     window (topology.Config.DuplicateWindow, 2 minutes by default);
//     one sent again later than that after such a first send is stored
//     twice, and readers see the same record twice (fold keeps one);
//   - while storage refuses writes, one message per round is tried (the
//     oldest, then the next: one refused for good holds no other back),
//     the others only once it is stored; rounds are LaterWait apart,
//     doubling to LaterMaxWait, give or take a fifth;
//   - bounded by LaterMaxRecords and LaterMaxBytes: a message beyond
//     them is dropped, logged at ERROR with its first delivery id;
//   - at Close, tried until Close's ctx ends; what is left is logged at
//     ERROR and lost.
//
// A record lost so (dropped, or kept by a process that dies) cannot be
// rebuilt from the delivery afterwards: a delivery that succeeded was
// acknowledged and is gone from its stream (only the receiver knows of
// it); a dead one's dead letter (HOOKD_DEAD) still holds its last error
// and attempt count; a retrying one is attempted again, and that
// attempt's record is the delivery's state.

// laterParallel bounds the sends of one round once storage takes them.
const laterParallel = 32

// unstoredMsg is a log message not stored yet, with its records.
type unstoredMsg struct {
	endpointID string
	msg        *nats.Msg
	recs       []Attempt
	first      time.Time // when its first send failed
	err        error     // why the last send failed
	tries      int
}

func (u *unstoredMsg) bytes() int { return len(u.msg.Data) }

// unstored is a Committer's list of messages to write later.
type unstored struct {
	c *Committer

	mu      sync.Mutex
	list    []*unstoredMsg
	records int
	bytes   int
	// running is set while a writer goroutine runs (at most one); stop
	// ends it (Close), stopped is closed when it has returned.
	running bool
	stop    chan struct{}
	stopped chan struct{}
	closed  bool
}

// keep adds a message whose send failed, within the bounds, and makes
// sure a writer runs.
func (l *unstored) keep(u *unstoredMsg) {
	cfg := l.c.cfg
	l.mu.Lock()
	if l.closed {
		// A send that failed after Close gave up waiting for it.
		l.mu.Unlock()
		l.c.log.Error("delivery log records not stored after shutdown, these are lost", "endpoint", u.endpointID,
			"records", len(u.recs), "delivery", u.recs[0].DeliveryID, "err", u.err)
		return
	}
	if len(u.recs) > cfg.LaterMaxRecords-l.records || u.bytes() > cfg.LaterMaxBytes-l.bytes {
		records, bytes := l.records, l.bytes
		l.mu.Unlock()
		l.c.log.Error("delivery log records dropped: too many kept to be written later, these are lost",
			"endpoint", u.endpointID, "records", len(u.recs), "delivery", u.recs[0].DeliveryID,
			"kept_records", records, "kept_bytes", bytes, "max_records", cfg.LaterMaxRecords, "max_bytes", cfg.LaterMaxBytes, "err", u.err)
		return
	}
	l.list = append(l.list, u)
	l.records += len(u.recs)
	l.bytes += u.bytes()
	start := !l.running && !l.closed
	if start {
		l.running = true
		l.stop, l.stopped = make(chan struct{}), make(chan struct{})
	}
	stop, stopped := l.stop, l.stopped
	l.mu.Unlock()
	l.c.log.Warn("delivery log records not stored, kept to be written later", "endpoint", u.endpointID,
		"records", len(u.recs), "delivery", u.recs[0].DeliveryID, "err", u.err)
	if start {
		go l.run(stop, stopped)
	}
}

func (l *unstored) size() (records, bytes int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.records, l.bytes
}

// run writes the list out, round after round, until it is empty or stop
// is closed.
func (l *unstored) run(stop, stopped chan struct{}) {
	defer close(stopped)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-stopped:
		}
	}()
	wait := l.c.cfg.LaterWait
	for {
		select {
		case <-stop:
			return
		case <-time.After(jitter(wait)):
		}
		if l.round(ctx) {
			wait = l.c.cfg.LaterWait
		} else {
			wait = min(2*wait, l.c.cfg.LaterMaxWait)
		}
		l.mu.Lock()
		if len(l.list) == 0 || l.closed {
			l.running = false
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
	}
}

// round sends the oldest message again; once it is stored, every other
// one. It reports whether storage took the first.
func (l *unstored) round(ctx context.Context) bool {
	l.mu.Lock()
	if len(l.list) == 0 {
		l.mu.Unlock()
		return true
	}
	head := l.list[0]
	l.mu.Unlock()
	if !l.send(ctx, head) {
		// Refused still: the next round tries the next one first, so
		// a message refused for good holds no other back.
		l.mu.Lock()
		if i := l.index(head); i >= 0 {
			l.list = append(append(l.list[:i:i], l.list[i+1:]...), head)
		}
		l.mu.Unlock()
		return false
	}
	l.mu.Lock()
	rest := append([]*unstoredMsg(nil), l.list...)
	l.mu.Unlock()
	sem := make(chan struct{}, laterParallel)
	var wg sync.WaitGroup
	for _, u := range rest {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			l.send(ctx, u)
		}()
	}
	wg.Wait()
	return true
}

// index is the place of u in the list, -1 if not there; l.mu is held.
func (l *unstored) index(u *unstoredMsg) int {
	for i, v := range l.list {
		if v == u {
			return i
		}
	}
	return -1
}

// send sends u again, Timeout at most, and when it is stored takes it off
// the list and tells Stored of its records.
func (l *unstored) send(ctx context.Context, u *unstoredMsg) bool {
	c := l.c
	sctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	ack, err := c.cfg.JetStream.PublishMsg(sctx, u.msg)
	cancel()
	l.mu.Lock()
	u.tries++
	if err != nil {
		u.err = err
		tries := u.tries
		l.mu.Unlock()
		c.log.Debug("delivery log records still not stored", "endpoint", u.endpointID, "records", len(u.recs),
			"delivery", u.recs[0].DeliveryID, "tries", tries+1, "err", err)
		return false
	}
	i := l.index(u)
	if i < 0 {
		// Stored by another send meanwhile (Close's, racing the writer):
		// told to Stored once, by that one.
		l.mu.Unlock()
		return true
	}
	l.list = append(l.list[:i:i], l.list[i+1:]...)
	tries := u.tries
	l.mu.Unlock()
	if c.cfg.Stored != nil {
		for _, a := range u.recs {
			c.cfg.Stored.RecordAttempt(a)
		}
	}
	// Counted out only once told: Unwritten says 0 when every record kept
	// is stored and counted.
	l.mu.Lock()
	l.records -= len(u.recs)
	l.bytes -= u.bytes()
	l.mu.Unlock()
	c.log.Info("delivery log records written late", "endpoint", u.endpointID, "records", len(u.recs),
		"delivery", u.recs[0].DeliveryID, "seq", ack.Sequence, "duplicate", ack.Duplicate, "tries", tries+1,
		"late", time.Since(u.first).Round(time.Millisecond))
	return true
}

// close stops the writer, then tries the list until ctx ends and logs
// what is left at ERROR.
func (l *unstored) close(ctx context.Context) {
	l.mu.Lock()
	l.closed = true
	stop, stopped := l.stop, l.stopped
	running := l.running
	l.running = false
	l.mu.Unlock()
	if running {
		close(stop)
		select {
		case <-stopped:
		case <-ctx.Done():
		}
	}
	wait := l.c.cfg.LaterWait
	for {
		l.mu.Lock()
		empty := len(l.list) == 0
		l.mu.Unlock()
		if empty || ctx.Err() != nil {
			break
		}
		if l.round(ctx) {
			continue
		}
		if sleepCtx(ctx, jitter(wait)) != nil {
			break
		}
		wait = min(2*wait, l.c.cfg.LaterMaxWait)
	}
	l.mu.Lock()
	records, bytes, msgs := l.records, l.bytes, len(l.list)
	var lastErr error
	if msgs > 0 {
		lastErr = l.list[0].err
	}
	l.mu.Unlock()
	if records > 0 {
		l.c.log.Error("delivery log records left unwritten at shutdown, these are lost", "records", records,
			"messages", msgs, "bytes", bytes, "err", lastErr)
	}
}
