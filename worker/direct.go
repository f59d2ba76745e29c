package worker

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/internal/sender"
)

// The fast path (docs/engine.md §4.11): a router in the same process
// hands a delivery to Direct before queueing it. Direct makes its first
// attempt at once and settles it like any other: a success is recorded
// and never queued, a failure is recorded and the delivery moved to its
// endpoint's held subject, where it waits for its retry as if it had come
// from the queue. A delivery costs one stored message fewer, and one hop.
// Direct declines (ErrDeclined) whatever it cannot finish quickly or
// whatever needs the queue's guarantees: the caller then queues it.

// ErrDeclined is returned by Direct for a delivery it did not attempt:
// the caller queues it as usual. It is delivery.ErrDirectDeclined, which
// routers test for.
var ErrDeclined = delivery.ErrDirectDeclined

// ErrDirectUnsettled is returned by Direct for a delivery attempted but
// neither delivered nor stored for its retry (the held subject refused
// it): its event must be routed again, which queues it.
var ErrDirectUnsettled = errors.New("worker: direct delivery failed and could not be queued")

// DefaultDirectTimeout bounds a direct attempt (Config.DirectTimeout).
const DefaultDirectTimeout = time.Second

// DefaultDirectMaxLatency is Config.DirectMaxLatency's default.
const DefaultDirectMaxLatency = 100 * time.Millisecond

// Direct makes the first attempt of a delivery (msg, as a router would
// queue it: on the endpoint's queue subject, or its held subject while
// the endpoint is marked held) now, in the caller's goroutine,
// within Config.DirectTimeout. It returns nil once the delivery is
// settled: delivered and recorded, or its failed attempt recorded and the
// delivery stored for its retry (or dead-lettered). It returns
// ErrDeclined, having done nothing, when the worker is not running or
// stopping, when the endpoint is unknown, disabled, paused, not plain
// (ordered, batched, rate limited, max_in_flight), not known to answer
// fast, not known healthy (its last attempt here failed, or none
// succeeded yet), or busy (its or the worker's slots taken), or when the
// delivery was not rendered; ErrDirectUnsettled when the attempt failed and the
// delivery could not be stored for its retry.
func (w *Worker) Direct(ctx context.Context, endpointID string, msg *nats.Msg) error {
	if w.cfg.DirectTimeout < 0 || !w.ready.Load() || !w.latency.fast(endpointID, w.cfg.DirectMaxLatency) {
		return ErrDeclined
	}
	if _, ok := w.healthy.Load(endpointID); !ok {
		// Its last attempt here failed (or none succeeded yet): its
		// deliveries take the queue's path, with its retries and holds.
		return ErrDeclined
	}
	if !w.begin() {
		return ErrDeclined
	}
	defer w.inflight.Done()
	if !w.directFlight.take(endpointID) {
		return ErrDeclined
	}
	defer w.directFlight.give(endpointID)
	sem := w.endpointSem(endpointID)
	select {
	case sem <- struct{}{}:
		defer func() { <-sem }()
	default:
		return ErrDeclined
	}
	select {
	case w.global <- struct{}{}:
		defer func() { <-w.global }()
	default:
		return ErrDeclined
	}
	ep := w.reg.Snapshot().Get(endpointID)
	if ep == nil || ep.Broken != nil || ep.Disabled || !ep.Layout().Plain() || w.pausedFor(endpointID, time.Now()) > 0 {
		return ErrDeclined
	}
	a := &attempt{ep: ep}
	var err error
	if a.pl, err = delivery.ReadPayload(msg.Header, w.reg.Sealer()); err != nil || a.pl.RenderError != "" {
		return ErrDeclined // the queue's path holds or dead-letters it
	}
	a.rec = newRecord(endpointID, msg.Header)
	a.rec.Number = 1
	req, err := w.request(a, msg.Data)
	if err != nil {
		return ErrDeclined
	}
	req.Timeout = min(req.Timeout, w.cfg.DirectTimeout)
	dm := &directMsg{msg: msg}
	ctx, span := w.startDeliver(ctx, msg.Header, ep.Endpoint, &a.rec)
	defer func() { endDeliver(span, &a.rec, err) }()
	var resp sender.Response
	resp, err = w.sender.Send(ctx, req)
	ctx, settled := w.settleContext(ctx)
	defer settled()
	a.took = resp.Duration
	a.rec.Time = time.Now().UTC().Add(-resp.Duration)
	a.rec.StatusCode, a.rec.DurationSeconds, a.rec.Response = resp.StatusCode, resp.Duration.Seconds(), sender.Snippet(resp.Body)
	if err != nil {
		a.rec.Error = err.Error()
	}
	w.m.Direct()
	w.commit(ctx, dm, a, decide(err, w.retryPolicy(ep.Endpoint), history{Attempt: 1}))
	if !dm.settled() {
		return ErrDirectUnsettled
	}
	return nil
}

// directMsg is a delivery Direct attempts, seen by commit as a message
// handed out by the queue for the first time: acknowledging it settles
// it; a nak (a move to the held subject that failed) leaves it unsettled.
// Its metadata name no stream: moveToHeld keeps its own Nats-Msg-Id (the
// one the router gives the delivery), so an event routed again after a
// crash stores no second copy.
type directMsg struct {
	msg   *nats.Msg
	meta  jetstream.MsgMetadata
	once  sync.Once
	acked atomic.Bool
}

func (d *directMsg) settled() bool { return d.acked.Load() }

func (d *directMsg) Metadata() (*jetstream.MsgMetadata, error) {
	d.once.Do(func() {
		d.meta = jetstream.MsgMetadata{NumDelivered: 1, Stream: directStream, Timestamp: time.Now()}
	})
	return &d.meta, nil
}
func (d *directMsg) Data() []byte                     { return d.msg.Data }
func (d *directMsg) Headers() nats.Header             { return d.msg.Header }
func (d *directMsg) Subject() string                  { return d.msg.Subject }
func (d *directMsg) Reply() string                    { return "" }
func (d *directMsg) Ack() error                       { d.acked.Store(true); return nil }
func (d *directMsg) DoubleAck(context.Context) error  { return d.Ack() }
func (d *directMsg) Nak() error                       { return nil }
func (d *directMsg) NakWithDelay(time.Duration) error { return nil }
func (d *directMsg) InProgress() error                { return nil }
func (d *directMsg) Term() error                      { return d.Ack() }
func (d *directMsg) TermWithReason(string) error      { return d.Ack() }

// directPerEndpoint bounds the direct attempts in flight to one endpoint
// from this process: each holds a router's route, so an endpoint that
// turns slow holds a few of them, never all.
const directPerEndpoint = 16

// flights counts direct attempts in flight per endpoint.
type flights struct {
	m sync.Map // endpoint id -> *atomic.Int32
}

// take counts one more attempt to the endpoint, false (and not counted)
// when directPerEndpoint are in flight.
func (f *flights) take(endpointID string) bool {
	v, ok := f.m.Load(endpointID)
	if !ok {
		v, _ = f.m.LoadOrStore(endpointID, new(atomic.Int32))
	}
	n := v.(*atomic.Int32)
	if n.Add(1) > directPerEndpoint {
		n.Add(-1)
		return false
	}
	return true
}

func (f *flights) give(endpointID string) {
	if v, ok := f.m.Load(endpointID); ok {
		v.(*atomic.Int32).Add(-1)
	}
}

// directStream stands for the stream in a direct delivery's metadata: it
// was never stored.
const directStream = ""

// latencies holds each endpoint's typical attempt duration (a moving
// average of its attempts', in nanoseconds), for the fast path.
type latencies struct {
	m sync.Map // endpoint id -> *atomic.Int64
}

// observe adds an attempt's duration to the endpoint's average (weight
// 1/8: one slow attempt in a fast run takes the endpoint off the fast
// path at once when it is 8 times Config.DirectMaxLatency or more).
func (l *latencies) observe(endpointID string, took time.Duration) {
	v, ok := l.m.Load(endpointID)
	if !ok {
		n := new(atomic.Int64)
		n.Store(int64(took))
		l.m.Store(endpointID, n)
		return
	}
	n := v.(*atomic.Int64)
	old := n.Load()
	n.Store(old + (int64(took)-old)/8) // a lost update costs one sample
}

// fast reports whether the endpoint's attempts are known to take less
// than limit.
func (l *latencies) fast(endpointID string, limit time.Duration) bool {
	v, ok := l.m.Load(endpointID)
	return ok && time.Duration(v.(*atomic.Int64).Load()) < limit
}
