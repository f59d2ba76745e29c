package router

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/payload"
	"github.com/hookd/hookd/rules"
	"github.com/hookd/hookd/topology"
)

// records keeps the messages of the log records it handles.
type records struct {
	mu   sync.Mutex
	msgs []string
}

func (h *records) Enabled(context.Context, slog.Level) bool { return true }
func (h *records) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, r.Message)
	return nil
}
func (h *records) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *records) WithGroup(string) slog.Handler      { return h }

func (h *records) count(substr string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range h.msgs {
		if strings.Contains(m, substr) {
			n++
		}
	}
	return n
}

// routeInMemory is routing's own work for e without JetStream, as route
// does it: the filters' view, the match, each target's delivery message.
func routeInMemory(t testing.TB, r *Router, snap *endpoint.Snapshot, e *event.Event, ev *rules.Evaluator) []target {
	t.Helper()
	names, err := topology.NewNames("")
	if err != nil {
		t.Fatal(err)
	}
	pub := publisher{names: names, log: r.log, sealer: endpoint.PlainSealer()}
	var env rules.Env
	filterEnv(e, r.log, &env)
	targets, _ := r.match(snap, &env, ev, false, e.Seq)
	rd := payload.Renderer{Event: e, Env: &env, Eval: ev}
	shared := deliveryHeaders(e, nil, false)
	for i := range targets {
		if m := pub.deliveryMsg(e, &targets[i], &rd, shared); len(m.Data) == 0 {
			t.Fatal("empty delivery")
		}
	}
	return targets
}

func lazyEvent(body string) *event.Event {
	data, _ := event.Normalize([]byte(body))
	return &event.Event{ID: "evt_1", Type: "order.paid", Subject: "events.order.paid", Time: time.Now(),
		Data: data, Raw: []byte(body), Seq: 7, Tenant: "default"}
}

// An event's data is decoded for routing only when an endpoint it is
// matched against reads it: not for endpoints without a filter, or
// filtering, rendering or keying on anything else. Seen two ways: the
// data null log line an undecodable body (1e999) makes when decoded, and
// the allocations of routing a real event.
func TestRoutingDecodesDataOnlyForRulesReadingIt(t *testing.T) {
	compile := func(e *endpoint.Endpoint) *endpoint.Compiled {
		e.Events = []string{"order.*"}
		c := endpoint.Compile(e)
		if c.Broken != nil || c.PayloadErr != nil {
			t.Fatal(c.Broken, c.PayloadErr)
		}
		return c
	}
	noData := []*endpoint.Compiled{
		compile(&endpoint.Endpoint{ID: "ep_1"}),
		compile(&endpoint.Endpoint{ID: "ep_2", Filter: `type == "order.paid" && tenant == "default"`}),
		compile(&endpoint.Endpoint{ID: "ep_3", Format: "transform", Transform: `{"event": type, "id": id}`}),
		compile(&endpoint.Endpoint{ID: "ep_4", Format: "raw"}),
	}
	withData := compile(&endpoint.Endpoint{ID: "ep_9", Filter: `data.status == "paid"`})
	const decodedNull = "routed with data null"

	h := &records{}
	r := quietRouter()
	r.log = slog.New(h)
	ev := &rules.Evaluator{}
	undecodable := lazyEvent(`{"status":"paid","n":1e999}`)
	if got := routeInMemory(t, r, endpoint.NewSnapshot(noData), undecodable, ev); len(got) != len(noData) {
		t.Fatalf("%d targets, want %d", len(got), len(noData))
	}
	if n := h.count(decodedNull); n != 0 {
		t.Fatalf("data decoded for endpoints that do not read it (%d log lines)", n)
	}
	// Undecodable data is null, so the data filter does not match, but
	// the data was decoded for it: once, whatever else is matched.
	if got := routeInMemory(t, r, endpoint.NewSnapshot(append(noData, withData)), undecodable, ev); len(got) != len(noData) {
		t.Fatalf("%d targets, want %d", len(got), len(noData))
	}
	if n := h.count(decodedNull); n != 1 {
		t.Fatalf("%d data null log lines, want 1", n)
	}
	paid := lazyEvent(string(benchEvent))
	if got := routeInMemory(t, r, endpoint.NewSnapshot([]*endpoint.Compiled{withData}), paid, ev); len(got) != 1 {
		t.Fatalf("the data filter matched %d endpoints, want 1", len(got))
	}

	r = quietRouter()
	allocs := func(list []*endpoint.Compiled) float64 {
		snap := endpoint.NewSnapshot(list)
		return testing.AllocsPerRun(200, func() { routeInMemory(t, r, snap, paid, ev) })
	}
	without, with := allocs(noData[1:2]), allocs([]*endpoint.Compiled{withData})
	// Decoding the event's data is 20 allocations or so.
	if without > with-10 {
		t.Fatalf("routing to an endpoint filtering on the type: %.0f allocations; on data: %.0f. Want the decoding's fewer", without, with)
	}
	t.Logf("allocations per event: %.0f filtering on the type, %.0f on data", without, with)
}
