// Package transient tells JetStream being unavailable for now (a cluster
// without quorum, a leader being elected, a request that timed out) from
// errors that retrying cannot mend (bad credentials, a refused
// permission, an invalid configuration), and gives the parts of a hookd
// process one way to wait it out: capped exponential backoff with jitter,
// logged at a bounded rate, with the current failure at hand for
// readiness probes. It imports nothing of hookd's.
package transient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// JetStream API error codes (nats-server's errors.json) of a cluster that
// cannot answer for now: it has no meta or stream leader, or is electing
// one. Both client packages (nats and nats/jetstream) report them, each
// with an APIError type of its own.
const (
	codeClusterIncomplete  = 10004 // JSClusterIncompleteErr: "incomplete results"
	codeClusterNotAssigned = 10007 // JSClusterNotAssignedErr: an asset moving between servers
	codeClusterNotAvail    = 10008 // JSClusterNotAvailErr: "JetStream system temporarily unavailable"
	codeClusterNotLeader   = 10009 // JSClusterNotLeaderErr: "JetStream cluster can not handle request"
	codeLastSeqNotReady    = 10163 // JSStreamExpectedLastSeqPerSubjectNotReady
	codeClusterNoPeers     = 10005 // JSClusterNoPeersErrF, temporary for noPeersOffline only
)

// noPeersOffline is JSClusterNoPeersErrF's description when the only
// reason no peers can be placed on is that they are offline.
const noPeersOffline = "no suitable peers for placement, peer offline"

// temporarySentinels are the client errors of a request or a publish
// that nothing answered in time, or answered "not now".
var temporarySentinels = []error{
	context.DeadlineExceeded,
	nats.ErrTimeout,
	nats.ErrNoResponders,
	nats.ErrConnectionReconnecting,
	nats.ErrDisconnected,
	nats.ErrNoStreamResponse,
	nats.ErrConsumerLeadershipChanged,
	nats.ErrNoHeartbeat,
	jetstream.ErrNoStreamResponse,
	jetstream.ErrConsumerLeadershipChanged,
	jetstream.ErrNoHeartbeat,
	jetstream.ErrServerShutdown,
	jetstream.ErrAsyncPublishTimeout,
}

// Temporary reports whether err is JetStream or the NATS connection being
// unavailable for now, which retrying later mends: no quorum or no leader
// (the API's "JetStream system temporarily unavailable" and its kin), no
// responders, a request or an acknowledgement that timed out, a leader
// change, a connection being re-established. It is false for nil, for a
// cancelled context (the caller is stopping), and for everything else:
// a refused permission, bad credentials, JetStream not enabled, a missing
// or misconfigured stream.
//
// A timeout can hide a permission the server refused (a request whose
// subject the user may not publish on is dropped, and the refusal arrives
// apart, on the connection): callers that can tell check the
// connection's last error too.
func Temporary(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	for _, s := range temporarySentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	var code int
	var description string
	var jsErr *jetstream.APIError
	var natsErr *nats.APIError
	switch {
	case errors.As(err, &jsErr):
		code, description = int(jsErr.ErrorCode), jsErr.Description
	case errors.As(err, &natsErr):
		code, description = int(natsErr.ErrorCode), natsErr.Description
	default:
		return false
	}
	switch code {
	case codeClusterIncomplete, codeClusterNotAssigned, codeClusterNotAvail, codeClusterNotLeader, codeLastSeqNotReady:
		return true
	case codeClusterNoPeers:
		// Placing a stream on peers that are offline (no quorum) passes
		// with them; any other reason (tags, storage) does not.
		return description == noPeersOffline
	}
	return false
}

// ErrWatchClosed reports a key-value watch whose updates ended while its
// context had not: Follow watches again.
var ErrWatchClosed = errors.New("watch closed")

// Backoff is capped exponential backoff with jitter. The zero value waits
// between DefaultMin and DefaultMax.
type Backoff struct {
	// Min is the first wait. Optional: default DefaultMin.
	Min time.Duration
	// Max caps the waits. Optional: default DefaultMax.
	Max time.Duration
	n   int
}

// Default bounds of a Backoff: the cap is short, so a part resumes within
// seconds of the cluster's return.
const (
	DefaultMin = 200 * time.Millisecond
	DefaultMax = 5 * time.Second
)

// Next returns the next wait: Min doubled for each earlier call, capped
// at Max, each drawn at random from its upper half so that processes
// started together do not retry in step.
func (b *Backoff) Next() time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = DefaultMin
	}
	if hi <= 0 {
		hi = DefaultMax
	}
	d := lo
	for i := 0; i < b.n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	b.n++
	return d/2 + rand.N(d/2+1)
}

// Reset starts the waits again from Min.
func (b *Backoff) Reset() { b.n = 0 }

// Sleep waits d, or less if ctx ends first: false then.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// ReportEvery is how often a Reporter repeats a failure that goes on.
const ReportEvery = 30 * time.Second

// Reporter logs a failure that repeats, such as one retried with backoff:
// the first one at WARN, then at most once per Every while it goes on
// (with the number of failures and for how long), and at INFO once it is
// over. It keeps the current failure for readiness probes. Its methods
// are safe for concurrent use.
type Reporter struct {
	// Log receives the reports. Required.
	Log *slog.Logger
	// Msg says what fails, e.g. "endpoints not followed".
	Msg string
	// Every is how often a failure that goes on is logged again.
	// Optional: default ReportEvery.
	Every time.Duration
	// Expected is how long a failure is expected to last (a cluster's
	// nodes starting together wait a few seconds for each other): it is
	// logged at INFO until it lasted this long. Optional: default 0,
	// WARN from the first.
	Expected time.Duration

	mu       sync.Mutex
	err      error
	since    time.Time
	reported time.Time
	warned   bool // this failure was logged at WARN
	failures int
}

// Failed records a failure and logs it, unless one was logged less than
// Every ago (the first one past Expected is logged whenever it comes).
// args are added to the log record.
func (r *Reporter) Failed(err error, args ...any) {
	r.mu.Lock()
	now := time.Now()
	if r.err == nil {
		r.since = now
	}
	r.err = err
	r.failures++
	every := r.Every
	if every <= 0 {
		every = ReportEvery
	}
	failures, since := r.failures, now.Sub(r.since)
	level := slog.LevelInfo
	if since >= r.Expected {
		level = slog.LevelWarn
	}
	due := r.reported.IsZero() || now.Sub(r.reported) >= every || (level == slog.LevelWarn && !r.warned)
	if !due {
		r.mu.Unlock()
		return
	}
	r.reported = now
	r.warned = r.warned || level == slog.LevelWarn
	r.mu.Unlock()
	attrs := []any{"err", err}
	if failures > 1 {
		attrs = append(attrs, "failures", failures, "for", since.Round(time.Millisecond))
	}
	r.Log.Log(context.Background(), level, r.Msg, append(attrs, args...)...)
}

// Recovered ends a failure: logged at INFO if there was one.
func (r *Reporter) Recovered(args ...any) {
	r.mu.Lock()
	if r.err == nil {
		r.mu.Unlock()
		return
	}
	failures, since := r.failures, time.Since(r.since).Round(time.Millisecond)
	r.err, r.failures, r.reported, r.warned = nil, 0, time.Time{}, false
	r.mu.Unlock()
	r.Log.Info("recovered: "+r.Msg, append([]any{"failures", failures, "after", since}, args...)...)
}

// Err is the failure going on, nil when there is none: Msg and the last
// error.
func (r *Reporter) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", r.Msg, r.err)
}

// Limit allows something (a log line) at most once per Every, counting
// what it refused in between. The zero value allows once per LimitEvery.
// Its methods are safe for concurrent use.
type Limit struct {
	// Every is the least time between two allowed. Optional: default
	// LimitEvery.
	Every time.Duration

	mu      sync.Mutex
	last    time.Time
	skipped int
}

// LimitEvery is a Limit's default Every.
const LimitEvery = 10 * time.Second

// Allow reports whether to go ahead now, and how many times it said no
// since it last said yes.
func (l *Limit) Allow() (ok bool, skipped int) {
	every := l.Every
	if every <= 0 {
		every = LimitEvery
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if !l.last.IsZero() && now.Sub(l.last) < every {
		l.skipped++
		return false, 0
	}
	skipped, l.skipped, l.last = l.skipped, 0, now
	return true, skipped
}

// Retry calls f until it returns nil, an error that is not Temporary, or
// ctx ends (ctx's error then), waiting with backoff between the calls;
// rep reports the failures and the recovery.
func Retry(ctx context.Context, rep *Reporter, f func(context.Context) error) error {
	var b Backoff
	for {
		err := f(ctx)
		if err == nil {
			rep.Recovered()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !Temporary(err) {
			return err
		}
		rep.Failed(err)
		if !Sleep(ctx, b.Next()) {
			return ctx.Err()
		}
	}
}

// Follow runs watch until ctx ends, and again after each failure that is
// Temporary or ErrWatchClosed, with backoff; it returns nil once ctx
// ends, or the first other error. watch calls following once it follows
// (its initial values are in), which resets the backoff and ends the
// failure rep reports. A watch that begins again receives every current
// value (and delete marker) afresh, so whatever changed meanwhile is
// applied.
func Follow(ctx context.Context, rep *Reporter, watch func(ctx context.Context, following func()) error) error {
	var b Backoff
	following := func() {
		b.Reset()
		rep.Recovered()
	}
	for {
		err := watch(ctx, following)
		if ctx.Err() != nil {
			return nil
		}
		if !errors.Is(err, ErrWatchClosed) && !Temporary(err) {
			return err
		}
		rep.Failed(err)
		if !Sleep(ctx, b.Next()) {
			return nil
		}
	}
}
