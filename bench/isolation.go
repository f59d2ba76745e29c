package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/internal/bulkcreate"
	"github.com/hookd/hookd/topology"
)

// FailingEventType is the type of the failing endpoint's backlog events
// (--failing-backlog): outside the measured endpoints' "bench.*", so only
// the failing endpoint matches them.
const FailingEventType = "benchfail.event"

// failingRetry is the failing endpoint's retry policy: a retry every
// second, 50 attempts in all, so that whatever it attempted keeps failing
// and coming back for as long as a run lasts (about 100 s before a
// delivery is dead) instead of waiting minutes as the default schedule's
// second step does. It is harsher than most receivers' policies: the worst
// case for the other endpoints, not the usual one.
const failingRetry = `{"schedule":["1s"],"max_attempts":50}`

// Isolation is what --failing-backlog measured: the measured endpoints
// driven alike without (Baseline), then with (WithBacklog), an extra
// endpoint that answers 503 after FailingDelay and has a backlog of
// FailingBacklog deliveries.
type Isolation struct {
	// FailingBacklog is the backlog asked for; FailingEndpoint its
	// endpoint's id.
	FailingBacklog  int    `json:"failing_backlog"`
	FailingEndpoint string `json:"failing_endpoint"`
	// BacklogPublished and BacklogRejected count the backlog's events
	// JetStream acknowledged and refused.
	BacklogPublished int64 `json:"backlog_published"`
	BacklogRejected  int64 `json:"backlog_rejected"`
	// RoutedSeconds is from the backlog's first publish until routing had
	// acknowledged its last event; SettledSeconds from then until none of
	// the backlog waited in the queue stream the endpoints share any more
	// (the worker moved it to the failing endpoint's held subject), which
	// is when WithBacklog starts.
	RoutedSeconds  float64 `json:"backlog_routed_seconds"`
	SettledSeconds float64 `json:"backlog_settled_seconds"`
	// IdleCPU is the cores this process used in a second with nothing
	// flowing, before Baseline. QuietSeconds is from the settling until a
	// second in which it used at most quietMargin more (the backlog's
	// arrival has after-effects: the server writing it out, the garbage
	// collector), or quietWait if that never came; StartCPU is the cores
	// used in the last of those seconds. Then WithBacklog starts.
	IdleCPU      float64 `json:"idle_cpu"`
	QuietSeconds float64 `json:"quiet_seconds"`
	StartCPU     float64 `json:"start_cpu"`
	// WaitedSeconds is Config.FailingWait: how long the run then waited.
	WaitedSeconds float64 `json:"waited_seconds,omitempty"`
	// BacklogAtStart and BacklogAtEnd are the failing endpoint's
	// deliveries waiting in the delivery streams (topology.Backlog) as
	// WithBacklog starts and once its deliveries are in.
	BacklogAtStart uint64 `json:"backlog_at_start"`
	BacklogAtEnd   uint64 `json:"backlog_at_end"`
	// FailingAttempts is the attempts the failing endpoint received during
	// WithBacklog (each answered 503 after FailingDelay); they count in no
	// ledger.
	FailingAttempts int64 `json:"failing_attempts"`

	Baseline    Phase `json:"baseline"`
	WithBacklog Phase `json:"with_backlog"`
	// P99Ratio is WithBacklog's p99 latency over Baseline's.
	P99Ratio float64 `json:"p99_ratio"`
}

// Phase is one drive of the measured endpoints and its deliveries.
type Phase struct {
	Ledger              Ledger  `json:"ledger"`
	AcceptedPerSecond   float64 `json:"accepted_per_second"`
	DeliveriesPerSecond float64 `json:"deliveries_per_second"`
	Latency             Latency `json:"latency_seconds"`
	// CPUSecondsPer1000 is this process's CPU time per 1,000 deliveries
	// of the measured endpoints (the failing endpoint's work included).
	CPUSecondsPer1000 float64 `json:"cpu_seconds_per_1000_deliveries"`
}

// phase is a Phase with what the run needs to go on.
type phase struct {
	Phase
	// next is the first seq free for a later drive.
	next int64
	// failing is the failing endpoint's attempts during the phase.
	failing int64
}

// measure drives the measured endpoints, events numbered from first, waits
// for their deliveries and returns what that took.
func measure(ctx context.Context, js jetstream.JetStream, rcv receiverClient, names topology.Names, cfg Config, first int64) (*phase, error) {
	if err := rcv.reset(ctx); err != nil {
		return nil, err
	}
	cpu0 := cpuTime()
	d, err := driveEvents(ctx, js, names, cfg, first, func() int64 {
		st, err := rcv.stats(ctx)
		if err != nil {
			return 0 // the drive then waits, and ends with its duration
		}
		return st.Distinct
	})
	if err != nil {
		return nil, err
	}
	stats, err := waitDelivered(ctx, rcv, d.published, cfg.Drain)
	if err != nil {
		return nil, err
	}
	cpu := cpuTime() - cpu0
	ph := &phase{next: d.next, failing: stats.FailingAttempts}
	ph.Ledger = ledgerOf(d, stats, rcv)
	ph.AcceptedPerSecond = float64(d.published) / d.end.Sub(d.start).Seconds()
	if stats.Distinct > 0 {
		ph.DeliveriesPerSecond = float64(stats.Distinct) / stats.Last.Sub(d.start).Seconds()
		ph.CPUSecondsPer1000 = cpu.Seconds() / float64(stats.Distinct) * 1000
	}
	ph.Latency = stats.Latency
	return ph, nil
}

// settleWait bounds a wait of queueFailingBacklog that makes no progress.
const settleWait = time.Minute

// queueFailingBacklog creates the failing endpoint, publishes its backlog
// and waits until routing queued all of it and the worker moved it out of
// the queue stream the endpoints share to the endpoint's held subject:
// the steady state of an endpoint that has been failing for a while.
func (p *pipeline) queueFailingBacklog(ctx context.Context, js jetstream.JetStream, cfg Config, receiverURL string, iso *Isolation) error {
	id, err := p.createFailingEndpoint(ctx, receiverURL)
	if err != nil {
		return err
	}
	iso.FailingEndpoint = id
	names, topo := p.app.Names(), p.app.Topology()
	start := time.Now()
	lastSeq, err := publishBacklog(ctx, js, names, cfg.FailingBacklog, iso)
	if err != nil {
		return err
	}
	// Routed: the router acknowledged every event up to the backlog's last.
	err = waitProgress(ctx, "route the failing endpoint's backlog", func() (uint64, bool, error) {
		c, err := js.Consumer(ctx, names.EventsStream(), topology.RouterConsumer)
		if err != nil {
			return 0, false, err
		}
		floor := c.CachedInfo().AckFloor.Stream
		return floor, floor >= lastSeq, nil
	})
	if err != nil {
		return err
	}
	iso.RoutedSeconds = time.Since(start).Seconds()
	// Settled: nothing of it left in the shared queue.
	settling := time.Now()
	err = waitProgress(ctx, "move the failing endpoint's backlog to its held subject", func() (uint64, bool, error) {
		queue, err := topo.ShardStream(ctx, topology.Shard(id))
		if err != nil {
			return 0, false, err
		}
		counts, err := topo.SubjectCounts(ctx, queue, names.QueueSubject(id))
		if err != nil {
			return 0, false, err
		}
		left := counts[names.QueueSubject(id)]
		return uint64(cfg.FailingBacklog) - min(left, uint64(cfg.FailingBacklog)), left == 0, nil
	})
	if err != nil {
		return err
	}
	iso.SettledSeconds = time.Since(settling).Seconds()
	quieting := time.Now()
	for {
		iso.StartCPU = cpuUse(ctx, time.Second)
		if iso.StartCPU <= iso.IdleCPU+quietMargin || time.Since(quieting) >= quietWait || ctx.Err() != nil {
			break
		}
	}
	iso.QuietSeconds = time.Since(quieting).Seconds()
	if cfg.FailingWait > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(cfg.FailingWait): // the backlog's age, not a synchronisation
		}
		iso.WaitedSeconds = cfg.FailingWait.Seconds()
	}
	b, err := topo.Backlog(ctx, id)
	if err != nil {
		return fmt.Errorf("failing endpoint's backlog: %w", err)
	}
	iso.BacklogAtStart = b.Messages
	return nil
}

// quietMargin is how many more cores than idle the pipeline may use once
// the failing backlog is in place for the with-backlog phase to start: a
// failing endpoint costs some (its attempts, their records), the
// aftermath of its backlog's arrival should be over.
const quietMargin = 0.25

// quietWait bounds the wait for quiet.
const quietWait = 2 * time.Minute

// cpuUse is the cores this process uses over d.
func cpuUse(ctx context.Context, d time.Duration) float64 {
	c0, t0 := cpuTime(), time.Now()
	select {
	case <-ctx.Done():
	case <-time.After(d): // the measurement window
	}
	return (cpuTime() - c0).Seconds() / time.Since(t0).Seconds()
}

// waitProgress polls check until it is done, for as long as its progress
// figure grows at least once every settleWait.
func waitProgress(ctx context.Context, what string, check func() (progress uint64, done bool, err error)) error {
	best, since := uint64(0), time.Now()
	for {
		got, done, err := check()
		switch {
		case err != nil:
			return fmt.Errorf("%s: %w", what, err)
		case done:
			return nil
		case got > best:
			best, since = got, time.Now()
		case time.Since(since) > settleWait:
			return fmt.Errorf("%s: stuck at %d for %s", what, best, settleWait)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(50 * time.Millisecond): // polling the streams
		}
	}
}

// createFailingEndpoint creates the endpoint that takes FailingEventType
// and answers 503 slowly, waits until the router sees it, and returns its
// id.
func (p *pipeline) createFailingEndpoint(ctx context.Context, receiverURL string) (string, error) {
	item := json.RawMessage(fmt.Sprintf(`{"url":%q,"events":[%q],"name":"bench failing","retry":%s}`,
		receiverURL+FailingPath, FailingEventType, failingRetry))
	send := bulkcreate.HTTPSend(http.DefaultClient, "http://"+p.app.HTTPAddr(), http.Header{"Authorization": {"Bearer " + p.key}})
	res, err := bulkcreate.Create(ctx, []json.RawMessage{item}, send, bulkcreate.Options{})
	if err != nil {
		return "", fmt.Errorf("create the failing endpoint: %w", err)
	}
	if r := res[0]; !r.Created() {
		return "", fmt.Errorf("create the failing endpoint: %d %s %s: %s", r.Status, r.Error.Code, r.Error.Field, r.Error.Message)
	}
	var ep struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(res[0].Endpoint, &ep); err != nil || ep.ID == "" {
		return "", fmt.Errorf("create the failing endpoint: no id in %s", res[0].Endpoint)
	}
	err = waitProgress(ctx, "the router to see the failing endpoint", func() (uint64, bool, error) {
		return 0, p.app.Registry().Snapshot().Get(ep.ID) != nil, nil
	})
	return ep.ID, err
}

// publishBacklog publishes n events of FailingEventType as fast as
// JetStream takes them, counts them into iso and returns the events
// stream's sequence of the last one acknowledged.
func publishBacklog(ctx context.Context, js jetstream.JetStream, names topology.Names, n int, iso *Isolation) (uint64, error) {
	subject := names.EventSubject(FailingEventType)
	futures := make(chan jetstream.PubAckFuture, 1<<14)
	var lastSeq uint64
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for f := range futures {
			select {
			case ack := <-f.Ok():
				iso.BacklogPublished++
				lastSeq = max(lastSeq, ack.Sequence)
			case <-f.Err():
				iso.BacklogRejected++
			}
		}
	}()
	var err error
	for i := 0; i < n && err == nil && ctx.Err() == nil; i++ {
		data := strconv.AppendInt([]byte(`{"tenant":"failing","seq":`), int64(i), 10)
		var f jetstream.PubAckFuture
		if f, err = js.PublishAsync(subject, append(data, '}'), jetstream.WithStallWait(time.Minute)); err == nil {
			futures <- f
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		err = errors.Join(err, errors.New("failing backlog: publishes still unacknowledged after 30s"))
	}
	close(futures)
	<-collected
	if err == nil && iso.BacklogPublished == 0 {
		err = errors.New("failing backlog: JetStream acknowledged none of it")
	}
	if err != nil {
		return 0, fmt.Errorf("failing backlog: %w", err)
	}
	return lastSeq, nil
}
