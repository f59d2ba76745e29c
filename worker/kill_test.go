package worker_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/embedded"
	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/topology"
	"github.com/hookd/hookd/worker"
)

// The kill tests stop a worker between the two steps of a delivery's
// transition (worker.FaultPoint) and let another worker take the delivery
// over, then check what the receiver got and what the delivery log and the
// dead-letter stream hold (docs/engine.md §6).

// killAckWait is the delivery ack wait of the kill tests: a delivery the
// killed worker held is handed out again this long after it took it.
const killAckWait = 2 * time.Second

func killConfig() app.Config {
	return app.Config{
		Topology: topology.Config{DeliveryAckWait: killAckWait},
		Worker: worker.Config{RetrySchedule: []time.Duration{100 * time.Millisecond, 100 * time.Millisecond},
			Jitter: -1, Timeout: 5 * time.Second},
	}
}

// killRig is a NATS server, a hookd running the API and the router (no
// worker), one endpoint and its receiver.
type killRig struct {
	ns  *hookdtest.NATS
	cfg app.Config
	h   *hookdtest.Hookd
	rc  *hookdtest.Receiver
	ep  hookdtest.Endpoint
}

func newKillRig(t *testing.T, cfg app.Config, respond func(n int, r hookdtest.Request) int) *killRig {
	t.Helper()
	r := &killRig{ns: hookdtest.StartNATS(t, embedded.Config{}), cfg: cfg, rc: hookdtest.NewReceiver(t)}
	r.rc.SetRespond(respond)
	api := r.ns.Config(cfg)
	api.NoWorker = true
	r.h = hookdtest.Start(t, api)
	r.ep = r.h.CreateEndpoint(t, map[string]any{"url": r.rc.URL, "events": []string{"order.*"}})
	return r
}

// killAt runs a worker on a NATS connection of its own, publishes an
// event and waits until the worker reaches point with its delivery: there
// the worker's connection is closed, so nothing the worker does after the
// point reaches the server, as when its process dies there. It returns
// the event's id.
func (r *killRig) killAt(t *testing.T, point worker.FaultPoint) string {
	t.Helper()
	nc, err := r.ns.Connect(nats.Name("doomed-worker"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	topo, err := topology.New(js, r.cfg.Topology)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kv, err := topo.Endpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reg := endpoint.NewRegistry(kv, hookdtest.Logger())
	killed := make(chan struct{})
	var once sync.Once
	wcfg := r.cfg.Worker
	wcfg.AllowNets, wcfg.Logger = hookdtest.Loopback, hookdtest.Logger()
	wcfg.FaultHook = func(p worker.FaultPoint, _ string) {
		if p == point {
			once.Do(func() {
				nc.Close()
				close(killed)
			})
		}
	}
	w, err := worker.New(topo, reg, wcfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = reg.Run(ctx) })
	wg.Go(func() { _ = w.Run(ctx) })
	hookdtest.WaitFor(t, 10*time.Second, "doomed worker ready", w.Ready)
	eventID := r.h.PublishEvent(t, "order.paid", map[string]any{"n": 1})
	select {
	case <-killed:
	case <-time.After(20 * time.Second):
		t.Fatalf("the worker never reached %s", point)
	}
	cancel()
	wg.Wait()
	return eventID
}

// takeOver starts a hookd running a worker (and no router), which takes
// over what the killed worker left.
func (r *killRig) takeOver(t *testing.T) {
	t.Helper()
	cfg := r.ns.Config(r.cfg)
	cfg.NoRouter = true
	hookdtest.Start(t, cfg)
}

// settled waits until nothing waits for the endpoint any more: what the
// receiver got and what the log holds are then final.
func (r *killRig) settled(t *testing.T) {
	t.Helper()
	r.h.WaitIdle(t, r.ep.ID)
}

// inQueue returns how many deliveries wait for the endpoint in its
// queue stream (acknowledged ones leave it).
func (r *killRig) inQueue(t *testing.T) int {
	t.Helper()
	stream, err := r.h.App.Topology().ShardStream(context.Background(), topology.Shard(r.ep.ID))
	if err != nil {
		t.Fatal(err)
	}
	return len(hookdtest.Messages(t, r.h.App.JetStream(), stream, r.h.App.Names().QueueSubject(r.ep.ID)))
}

// heldStored returns how many messages the held stream ever stored: the
// test's endpoint is the only one.
func (r *killRig) heldStored(t *testing.T) uint64 {
	t.Helper()
	s, err := r.h.App.JetStream().Stream(context.Background(), r.h.App.Names().HeldStream())
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.LastSeq
}

// sent returns how many times the receiver got the event, and fails the
// test if it got any other.
func (r *killRig) sent(t *testing.T, eventID string) int {
	t.Helper()
	byID := r.rc.CountByID()
	for id := range byID {
		if id != eventID {
			t.Errorf("receiver got %s, not the test's event %s", id, eventID)
		}
	}
	return byID[eventID]
}

// records returns the attempt records of the endpoint's log as
// "number outcome", oldest first.
func (r *killRig) records(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, a := range r.h.Attempts(t, r.ep.ID) {
		out = append(out, itoa(a.Number)+" "+string(a.Outcome))
	}
	return out
}

func itoa(n int) string {
	if n < 0 || n > 9 {
		return "?"
	}
	return string(rune('0' + n))
}

func sameList(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A worker killed after storing a success's record, before acknowledging
// the delivery: the worker taking it over finds the record and
// acknowledges it without sending it again.
func TestKillAfterSuccessRecordSendsNothingAgain(t *testing.T) {
	r := newKillRig(t, killConfig(), func(int, hookdtest.Request) int { return http.StatusOK })
	eventID := r.killAt(t, worker.FaultRecorded)
	if n := r.sent(t, eventID); n != 1 {
		t.Fatalf("before the take-over the receiver got the event %d times, want 1", n)
	}
	r.takeOver(t)
	r.settled(t)
	if n := r.sent(t, eventID); n != 1 {
		t.Errorf("receiver got the event %d times, want 1: the stored success was not honoured", n)
	}
	if got, want := r.records(t), []string{"1 " + string(delivery.OutcomeSucceeded)}; !sameList(got, want) {
		t.Errorf("log records %v, want %v", got, want)
	}
}

// A worker killed after storing a failed attempt's retrying record, before
// moving the delivery to its retry: the worker taking it over counts on
// from that record (attempt 2), and the delivery is sent once more only.
func TestKillAfterRetryRecordKeepsTheCount(t *testing.T) {
	r := newKillRig(t, killConfig(), func(n int, _ hookdtest.Request) int {
		if n == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	eventID := r.killAt(t, worker.FaultRecorded)
	r.takeOver(t)
	r.settled(t)
	if n := r.sent(t, eventID); n != 2 {
		t.Errorf("receiver got the event %d times, want 2 (the failure, then one retry)", n)
	}
	want := []string{"1 " + string(delivery.OutcomeRetrying), "2 " + string(delivery.OutcomeSucceeded)}
	if got := r.records(t); !sameList(got, want) {
		t.Errorf("log records %v, want %v", got, want)
	}
}

// A worker killed after storing the copy of a failed delivery in its
// endpoint's held subject, before acknowledging the original in the queue:
// the original, handed out again while its copy waits in the held subject,
// is moved again, and the copy's Nats-Msg-Id drops the second copy, so one
// copy is stored and retried, and the original is not sent itself.
func TestKillAfterMoveRetriesOneCopy(t *testing.T) {
	cfg := killConfig()
	// The copy's attempt waits for the original to leave the queue.
	cfg.Worker.Timeout = 30 * time.Second
	release := make(chan struct{})
	r := newKillRig(t, cfg, func(n int, _ hookdtest.Request) int {
		if n == 1 {
			return http.StatusInternalServerError
		}
		// Answered once the original has left the queue: until then the
		// copy is in the held subject, in flight or waiting, whenever the
		// original is handed out again.
		select {
		case <-release:
		case <-time.After(20 * time.Second):
		}
		return http.StatusOK
	})
	eventID := r.killAt(t, worker.FaultMoved)
	r.takeOver(t)
	// (or the receiver got it a third time: the original attempted beside
	// its copy).
	hookdtest.WaitFor(t, 20*time.Second, "the original settled in the queue", func() bool { return r.inQueue(t) == 0 || r.rc.Count() > 2 })
	close(release)
	r.settled(t)
	if n := r.sent(t, eventID); n != 2 {
		t.Errorf("receiver got the event %d times, want 2 (the failure, then one retry)", n)
	}
	want := []string{"1 " + string(delivery.OutcomeRetrying), "2 " + string(delivery.OutcomeSucceeded)}
	if got := r.records(t); !sameList(got, want) {
		t.Errorf("log records %v, want %v", got, want)
	}
	if n := r.heldStored(t); n != 1 {
		t.Errorf("%d copies stored in the held stream, want 1", n)
	}
}

// A worker killed after storing a dead letter, before acknowledging the
// delivery: the worker taking it over neither sends it again nor stores a
// second dead letter.
func TestKillAfterDeadLetterStoresOne(t *testing.T) {
	r := newKillRig(t, killConfig(), func(int, hookdtest.Request) int { return http.StatusBadRequest })
	eventID := r.killAt(t, worker.FaultDeadLettered)
	r.takeOver(t)
	r.settled(t)
	if n := r.sent(t, eventID); n != 1 {
		t.Errorf("receiver got the event %d times, want 1", n)
	}
	if n := len(r.h.DeadLetters(t, r.ep.ID)); n != 1 {
		t.Errorf("%d dead letters, want 1", n)
	}
	if got, want := r.records(t), []string{"1 " + string(delivery.OutcomeDead)}; !sameList(got, want) {
		t.Errorf("log records %v, want %v", got, want)
	}
}

// A worker killed after storing a delivery's dead record, before storing
// its dead letter: the worker taking it over stores the dead letter from
// the record, and does not send the delivery again.
func TestKillAfterDeadRecordStoresTheDeadLetter(t *testing.T) {
	r := newKillRig(t, killConfig(), func(int, hookdtest.Request) int { return http.StatusBadRequest })
	eventID := r.killAt(t, worker.FaultRecorded)
	if n := len(r.h.DeadLetters(t, r.ep.ID)); n != 0 {
		t.Fatalf("%d dead letters before the take-over, want 0", n)
	}
	r.takeOver(t)
	r.settled(t)
	if n := r.sent(t, eventID); n != 1 {
		t.Errorf("receiver got the event %d times, want 1", n)
	}
	dead := r.h.DeadLetters(t, r.ep.ID)
	if len(dead) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dead))
	}
	if got := dead[0].Header.Get(delivery.HeaderAttempts); got != "1" {
		t.Errorf("dead letter says %q attempts, want 1", got)
	}
	if got := dead[0].Header.Get(delivery.HeaderStatusCode); got != "400" {
		t.Errorf("dead letter says status %q, want 400", got)
	}
	if got, want := r.records(t), []string{"1 " + string(delivery.OutcomeDead)}; !sameList(got, want) {
		t.Errorf("log records %v, want %v", got, want)
	}
}
