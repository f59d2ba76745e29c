package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/payload"
	"github.com/hookd/hookd/rules"
	"github.com/hookd/hookd/tenant"
	"github.com/hookd/hookd/topology"
	"github.com/hookd/hookd/tracing"
)

// BackfillOptions tune Backfill and RuleHistory.
type BackfillOptions struct {
	// DryRun counts and samples the matches without queueing anything.
	// Optional: default false.
	DryRun bool
	// SampleSize is how many matching events the result shows. Optional:
	// default 5, at most MaxSample.
	SampleSize int
	// Logger is optional: default slog.Default().
	Logger *slog.Logger
	// Sealer seals templated header values in queued deliveries, as
	// routers do. Optional: default none (values stored in the clear).
	Sealer endpoint.Sealer
}

// MaxSample bounds BackfillOptions.SampleSize.
const MaxSample = 100

func (o *BackfillOptions) setDefaults() {
	if o.SampleSize <= 0 {
		o.SampleSize = 5
	}
	o.SampleSize = min(o.SampleSize, MaxSample)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Sealer == nil {
		o.Sealer = endpoint.PlainSealer()
	}
}

// SampledEvent is a matching event as a backfill or rule test shows it.
type SampledEvent struct {
	ID     string          `json:"id"`
	Type   string          `json:"type"`
	Tenant string          `json:"tenant"`
	Time   time.Time       `json:"time"`
	Data   json.RawMessage `json:"data"`
}

// HistoryResult counts what a scan of history found.
type HistoryResult struct {
	// Scanned is how many stored events of the tenant, within the window,
	// were read. Other tenants' events are skipped uncounted: a tenant key
	// must not learn how busy other tenants are.
	Scanned int `json:"scanned"`
	// Matched is how many of them the rule matched.
	Matched int `json:"matched"`
	// Sample shows the first matches, oldest first.
	Sample []SampledEvent `json:"sample"`
}

func (h *HistoryResult) add(e *event.Event, size int) {
	h.Matched++
	if len(h.Sample) < size {
		h.Sample = append(h.Sample, SampledEvent{ID: e.ID, Type: e.Type, Tenant: e.Tenant, Time: e.Time, Data: e.Data})
	}
}

// BackfillResult is what Backfill did.
type BackfillResult struct {
	HistoryResult
	// AlreadyQueued counts matches the endpoint already has a delivery
	// for (routed when they were accepted, or by an earlier backfill), and
	// those accepted after its creation that routing has yet to route
	// (routing queues them): they are not queued again.
	AlreadyQueued int `json:"already_queued"`
	// Queued counts deliveries queued now (0 for a dry run).
	Queued int `json:"queued"`
}

// RuleHistory counts the stored events of tenantID accepted within w that
// rule matches, with a sample: what a rule would have matched.
func RuleHistory(ctx context.Context, topo *topology.Topology, tenantID string, rule *rules.Rule, w Window, opt BackfillOptions) (HistoryResult, error) {
	opt.setDefaults()
	var out HistoryResult
	var ev rules.Evaluator
	tenantID = tenant.Normalize(tenantID)
	err := Scan(ctx, topo, w, opt.Logger, func(e *event.Event, env *rules.Env) error {
		if e.Tenant != tenantID {
			return nil
		}
		out.Scanned++
		if ok, _ := rule.Match(&ev, env); ok {
			out.add(e, opt.SampleSize)
		}
		return nil
	})
	if out.Sample == nil {
		out.Sample = []SampledEvent{}
	}
	return out, err
}

// Backfill re-evaluates ep's current rule against the stored events of
// its tenant accepted within w, and queues a delivery to ep for every
// match it has none for yet (no log record, not waiting in its backlog),
// exactly as routing would have (same delivery id, body and lane). Events accepted after ep's
// creation (ep.Routes) that routing has yet to route (past its
// consumer's ack floor) are routing's: counted as already queued, never
// queued by both. A dry run only counts. An error (a full endpoint
// stream, say) ends the backfill; the result counts what was queued
// before it.
func Backfill(ctx context.Context, topo *topology.Topology, ep *endpoint.Compiled, w Window, opt BackfillOptions) (BackfillResult, error) {
	opt.setDefaults()
	js, names := topo.JetStream(), topo.Names()
	if ep.Broken != nil {
		return BackfillResult{}, fmt.Errorf("endpoint rule does not compile: %w", ep.Broken)
	}
	routed, err := routedThrough(ctx, js, names, ep, !opt.DryRun)
	if err != nil {
		return BackfillResult{}, err
	}
	// What the endpoint has a delivery for: logged (by this release or an
	// earlier one, under its id then), or waiting with no record yet.
	dlog, err := delivery.OpenLog(ctx, topo)
	if err != nil {
		return BackfillResult{}, err
	}
	summaries, err := dlog.Summaries(ctx, ep.ID)
	if err != nil {
		return BackfillResult{}, err
	}
	known := make(map[string]bool, len(summaries))
	for _, s := range summaries {
		known[s.Last.DeliveryID] = true
	}
	index, err := js.Stream(ctx, names.IndexStream())
	if err != nil {
		return BackfillResult{}, fmt.Errorf("event index: %w", err)
	}
	var out BackfillResult
	var ev rules.Evaluator
	owner := tenant.Normalize(ep.Tenant)
	lastRing := time.Time{}
	pub := publisher{js: js, names: names, log: opt.Logger, sealer: opt.Sealer}
	err = Scan(ctx, topo, w, opt.Logger, func(e *event.Event, env *rules.Env) error {
		if e.Tenant != owner {
			return nil
		}
		out.Scanned++
		if ok, _ := ep.Rule.Match(&ev, env); !ok {
			return nil
		}
		out.add(e, opt.SampleSize)
		if ep.Routes(e.Seq) && e.Seq > routed {
			out.AlreadyQueued++ // routing's
			return nil
		}
		if known[delivery.ID(e, ep.ID)] || known[delivery.LegacyID(e.ID, ep.ID)] {
			out.AlreadyQueued++
			return nil
		}
		if opt.DryRun {
			return nil
		}
		t := []target{{ep: ep, lane: laneOf(ep, env, &ev, nil)}}
		pub.publishAll(ctx, e, t, &payload.Renderer{Event: e, Env: env, Eval: &ev}, deliveryHeaders(e, eventTrace(ctx, e), false))
		if t[0].err != nil {
			return fmt.Errorf("queue the delivery of event %s: %w", e.ID, t[0].err)
		}
		out.Queued++
		if err := addToIndex(ctx, js, names, index, e, ep.ID); err != nil {
			opt.Logger.Warn("event index not updated by backfill", "event", e.ID, "endpoint", ep.ID, "err", err)
		}
		// Workers stop pulling from an endpoint that looked idle: wake
		// them as deliveries arrive, at most every wakeEvery.
		if time.Since(lastRing) > wakeEvery {
			lastRing = time.Now()
			_ = js.Conn().Publish(names.WakeSubject(ep.ID), nil)
		}
		return nil
	})
	if out.Queued > 0 {
		_ = js.Conn().Publish(names.WakeSubject(ep.ID), nil)
	}
	if out.Sample == nil {
		out.Sample = []SampledEvent{}
	}
	return out, err
}

// routedWait bounds how long a backfill waits for routing to finish with
// the events it may queue (routedThrough).
const routedWait = 10 * time.Second

// routedThrough is the events stream sequence up to which routing has
// finished with every event for ep's lane (its consumer's ack floor; 0
// when no router ever ran): a match there without a delivery did not
// match when routed (the rule changed since), and is backfill's to queue.
// With wait, it first waits, for routedWait at most, until routing has
// finished with every stored event accepted before ep's creation: a
// lagging router would otherwise write such an event's index record
// after the backfill added its delivery there, and GET /v1/events/{id}
// would not list it.
func routedThrough(ctx context.Context, js jetstream.JetStream, names topology.Names, ep *endpoint.Compiled, wait bool) (uint64, error) {
	name := topology.RouterConsumer
	if ep.Ordered() {
		name = topology.OrderedRouterConsumer
	}
	c, err := js.Consumer(ctx, names.EventsStream(), name)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("routing progress: %w", err)
	}
	floor := c.CachedInfo().AckFloor.Stream
	if !wait {
		return floor, nil
	}
	s, err := js.Stream(ctx, names.EventsStream())
	if err != nil {
		return 0, fmt.Errorf("events stream: %w", err)
	}
	upTo := s.CachedInfo().State.LastSeq
	if ep.RoutedFromSeq > 0 {
		upTo = min(upTo, ep.RoutedFromSeq-1)
	}
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(routedWait)
	for floor < upTo && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
		}
		info, err := c.Info(ctx)
		if err != nil {
			return 0, fmt.Errorf("routing progress: %w", err)
		}
		floor = info.AckFloor.Stream
	}
	return floor, nil
}

// eventTrace is the producer's trace context of a stored event, which its
// backfilled deliveries carry on as routed ones do.
func eventTrace(ctx context.Context, e *event.Event) nats.Header {
	h := nats.Header{}
	for k, v := range e.Headers {
		h.Set(k, v)
	}
	return traceHeaders(tracing.Extract(ctx, h))
}
