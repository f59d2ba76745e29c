package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/ops"
	"github.com/hookd/hookd/payload"
	"github.com/hookd/hookd/rules"
	"github.com/hookd/hookd/tenant"
	"github.com/hookd/hookd/topology"
)

// Handler routes one event message; a nil error acknowledges it, any other
// error naks it for a later retry.
type Handler func(ctx context.Context, m jetstream.Msg, ev *rules.Evaluator) error

// Middleware wraps a Handler, e.g. to observe or fault-inject routing.
type Middleware func(Handler) Handler

// PublishError lists the endpoints an event could not be published to.
type PublishError struct {
	Event  *event.Event
	Failed map[string]error // by endpoint id
}

func (e *PublishError) Error() string {
	parts := make([]string, 0, len(e.Failed))
	for id, err := range e.Failed {
		parts = append(parts, id+": "+err.Error())
	}
	return "publish to endpoint streams: " + strings.Join(parts, "; ")
}

// Decode reads an event from a message of the events stream. Its id is the
// Nats-Msg-Id header when the producer set one, else derived from the
// message's stream sequence. A CloudEvent (binary or structured) gives its
// id, time, source and data, and on "events.cloudevents" its type, as
// event.SetCloudEvent documents.
func (r *Router) Decode(m jetstream.Msg) (*event.Event, error) {
	e, _, err := decode(m, r.names, r.seed, r.log)
	return e, err
}

// decode is Decode with the deployment's names and the events stream's
// creation time, which derived event ids depend on; it also returns the
// message's metadata.
func decode(m jetstream.Msg, names topology.Names, seed time.Time, log *slog.Logger) (*event.Event, *jetstream.MsgMetadata, error) {
	meta, err := m.Metadata()
	if err != nil {
		return nil, nil, fmt.Errorf("metadata: %w", err)
	}
	tenantID, typ, _ := names.ParseEventSubject(m.Subject())
	if tenantID == "" {
		tenantID = m.Headers().Get(event.TenantHeader)
	}
	data, isJSON := event.Normalize(m.Data())
	e := &event.Event{
		ID:      m.Headers().Get(jetstream.MsgIDHeader),
		Tenant:  tenant.Normalize(tenantID),
		Type:    typ,
		Subject: names.Unprefixed(m.Subject()),
		Time:    meta.Timestamp.UTC(),
		Data:    data,
		Raw:     m.Data(),
		NotJSON: !isJSON,
		Seq:     meta.Sequence.Stream,
	}
	e.Accepted = e.Time // a CloudEvent's time may change Time, never this
	if e.ID == "" {
		e.ID = event.SequenceID(seed, meta.Sequence.Stream)
	}
	// The API scopes a tenant's event ids in Nats-Msg-Id ("<tenant>/<id>"),
	// so two tenants' equal ids are not taken for duplicates.
	e.ID = strings.TrimPrefix(e.ID, event.MsgIDScope(e.Tenant))
	if h := m.Headers(); len(h) > 0 {
		e.Headers = make(map[string]string, len(h))
		for k, v := range h {
			if len(v) > 0 {
				e.Headers[k] = v[0]
			}
		}
	}
	ce, err := event.ReadCloudEvent(m.Headers(), m.Data())
	switch {
	case err != nil:
		// Retrying cannot help: the body is routed as published.
		log.Debug("structured CloudEvent unreadable: routed as published", "event", e.ID, "err", err)
	case ce != nil:
		e.SetCloudEvent(ce)
	}
	return e, meta, nil
}

// forged reports an event of hookd's own type space ("hookd.", see package
// ops) that hookd did not raise: it came on a subject producers publish to
// ("events.hookd.endpoint.disabled"), not on names.OpsSubjects, which
// only hookd's NATS identity may publish to. Its headers prove nothing:
// the producer chose them. CloudEvents cannot reach that type space (see
// event.SetCloudEvent), but the check is on the decoded type whatever set
// it. Operational events stored on "events.hookd.*" by versions before
// OpsSubjects are forged by this rule too.
func forged(names topology.Names, subject string, e *event.Event) bool {
	if !ops.IsOps(e.Type) {
		return false
	}
	_, _, raised := names.ParseEventSubject(subject)
	return !raised
}

// filterEnv is what filters and keys see of e. Data that is not JSON,
// nests too deep, or that Go cannot hold (1e999) is null: the body is
// still delivered as sent, and retrying could never help.
// It fills env in place, so routing an event moves one Env to the heap, not
// two. The data is decoded only if an expression or index condition of
// an endpoint the event is matched against reads it (rules.Env.DeferData):
// an event for endpoints without data filters is never decoded.
func filterEnv(e *event.Event, log *slog.Logger, env *rules.Env) {
	*env = rules.Env{Type: e.Type, ID: e.ID, Subject: e.Subject, Time: e.Time, Headers: e.Headers, Tenant: e.Tenant, Source: e.Source}
	if e.NotJSON {
		log.Debug("event body is not JSON: routed with data null", "event", e.ID)
		return
	}
	var report rules.DataReporter
	if log != nil {
		report = (*dataLog)(log)
	}
	env.DeferData(e.Data, report)
}

// dataLog logs why an event's data reads as null, when it is decoded. It
// is a *slog.Logger: converting one to a rules.DataReporter allocates
// nothing per event.
type dataLog slog.Logger

func (l *dataLog) DataNull(env *rules.Env, err error) {
	(*slog.Logger)(l).Debug("event data null for filters: routed with data null", "event", env.ID, "err", err)
}

// route publishes the event to every matching endpoint's subject and its
// index record, all at once, and waits until every publish is
// acknowledged. The ordered lane
// routes to ordered endpoints only, the parallel lane to the others.
func (r *Router) route(ctx context.Context, m jetstream.Msg, ev *rules.Evaluator, ordered bool) (err error) {
	snap := r.reg.Snapshot()
	e, meta, err := decode(m, r.names, r.seed, r.log)
	if err != nil {
		return err
	}
	if !ordered && meta.NumDelivered == 1 {
		r.m.EventReceived() // every event passes the parallel lane once
	}
	if forged(r.names, m.Subject(), e) {
		if !ordered { // said once, not once per lane
			r.m.ForgedDropped()
			r.log.Warn("event of hookd's own type space not raised by hookd: dropped, not routed",
				"event", e.ID, "type", e.Type, "tenant", e.Tenant, "subject", m.Subject(), "seq", e.Seq)
		}
		return nil // acknowledged: retrying cannot make it genuine
	}
	var targets []target
	ctx, span := r.startRoute(ctx, m, e, ordered)
	defer func() { endRoute(span, targets, err) }()
	var env rules.Env
	filterEnv(e, r.log, &env)
	targets, pending := r.match(snap, &env, ev, ordered, e.Seq)
	if pending != nil {
		return fmt.Errorf("%w: %s", ErrEndpointCreating, pending.ID)
	}
	done := r.reached(ctx, m, e, ordered)
	if len(done) > 0 {
		kept := targets[:0]
		for _, t := range targets {
			if !done[t.ep.ID] {
				kept = append(kept, t)
			}
		}
		targets = kept
	}
	r.log.Debug("routing", "event", e.ID, "type", e.Type, "seq", e.Seq, "ordered", ordered, "endpoints", len(targets))
	ctx, cancel := context.WithTimeout(ctx, r.cfg.PublishTimeout)
	defer cancel()
	// One renderer per event: a format that depends on the event only is
	// rendered once, whatever the number of endpoints receiving it.
	rd := payload.Renderer{Event: e, Env: &env, Eval: ev}
	// The index record goes in the same flight as the deliveries: it lists
	// every target; one whose publish fails is routed again, and the
	// retry's record (the newest) lists it once it is reached.
	var index jetstream.PubAckFuture
	if !ordered || len(targets) > 0 {
		index = r.startIndex(e, targets, done, ordered)
	}
	// A first routing may deliver directly; a routing again queues every
	// delivery, marked so that its worker reads the log first.
	retry := meta.NumDelivered > 1
	r.publishAll(ctx, e, targets, &rd, deliveryHeaders(e, traceHeaders(ctx), retry), !retry)
	r.remember(context.WithoutCancel(ctx), e, ordered, done, targets)
	for i := range targets {
		// Shard consumers are always consumed: only an endpoint served by
		// a consumer of its own needs waking.
		if t := &targets[i]; t.err == nil && (!t.ep.Layout().Plain() || t.ep.Disabled || r.held.has(t.ep.ID)) {
			r.ring(t.ep.ID, t.lane)
		}
	}
	r.awaitIndex(ctx, e, index)
	return r.failures(e, targets)
}

// match returns the endpoints the event at events stream sequence seq
// goes to. Only the addressed tenant's endpoints are considered (for a
// tenant-less event, the default tenant's), found by lookup: the cost does
// not grow with the number of tenants. An endpoint gets the events stored
// after its creation only (endpoint.Endpoint.Routes); while one whose
// rule matches is still being created, match returns it instead, and no
// target: the event waits until it is known whether it is the endpoint's
// (membership.go).
func (r *Router) match(snap *endpoint.Snapshot, env *rules.Env, ev *rules.Evaluator, ordered bool, seq uint64) ([]target, *endpoint.Compiled) {
	var targets []target
	evaluated, failed := 0, 0
	candidates := snap.Candidates(env, make([]*endpoint.Compiled, 0, 16))
	for _, ep := range candidates {
		if ep.RoutedFromSeq == endpoint.RoutedFromPending && ep.Ordered() == ordered && ep.Broken == nil && r.creating.holds(ep, snap) {
			if ok, err := ep.Rule.Match(ev, env); ok && err == nil {
				return nil, ep
			}
		}
	}
	for _, ep := range candidates {
		if ep.Ordered() != ordered || !ep.Routes(seq) {
			continue // not this lane's, or stored before the endpoint was created: backfill's
		}
		if ep.Broken != nil {
			r.errs.record(ep.ID, env.ID, RuleErrorFilter, ep.Broken)
			continue
		}
		evaluated++
		ok, err := ep.Rule.Match(ev, env)
		if err != nil {
			// The endpoint's problem: it does not get the event, every
			// other endpoint does, and the event is not retried for it.
			failed++
			r.errs.record(ep.ID, env.ID, RuleErrorFilter, err)
			continue
		}
		if ok {
			targets = append(targets, target{ep: ep, lane: r.lane(ep, env, ev)})
		}
	}
	// Counted once per event, not per evaluation: a few atomic adds.
	r.m.Evaluated(evaluated, len(targets), failed)
	return targets, nil
}

// target is one matching endpoint and how publishing to it went.
type target struct {
	ep   *endpoint.Compiled
	err  error
	lane int // 1..n for an endpoint with an ordering key, else 0
}

// lane picks the delivery's lane at an endpoint with an ordering key. A key
// that fails to evaluate is "": those deliveries share a lane (a rule
// error, RuleErrorOrderingKey).
func (r *Router) lane(ep *endpoint.Compiled, env *rules.Env, ev *rules.Evaluator) int {
	return laneOf(ep, env, ev, r.errs)
}

// laneOf is lane for routers and backfills; errs may be nil.
func laneOf(ep *endpoint.Compiled, env *rules.Env, ev *rules.Evaluator, errs *ruleErrors) int {
	n := ep.Layout().Lanes
	if n == 0 {
		return 0
	}
	key, err := ev.Key(ep.Key, env)
	if err != nil {
		errs.record(ep.ID, env.ID, RuleErrorOrderingKey, err)
	}
	return rules.Lane(key, n)
}

// publishAll publishes every target's delivery at once and waits for
// every acknowledgement; a target's err is its failure.
func (r *Router) publishAll(ctx context.Context, e *event.Event, targets []target, rd *payload.Renderer, trace nats.Header, direct bool) {
	p := publisher{js: r.js, names: r.names, log: r.log, sealer: r.reg.Sealer(), errs: r.errs, held: &r.held}
	if direct && r.cfg.Direct != nil {
		select {
		case r.directSlots <- struct{}{}:
			defer func() { <-r.directSlots }()
			p.direct = r.cfg.Direct
		default: // half the routes wait on direct attempts: queue this event's
		}
	}
	p.publishAll(ctx, e, targets, rd, trace)
}

// publisher renders deliveries and publishes them: routing and backfill
// share it. It writes no log record: a delivery waiting with none is
// pending (delivery.Queued), so a routed delivery costs one stored
// message until its first attempt.
type publisher struct {
	js     jetstream.JetStream
	names  topology.Names
	log    *slog.Logger
	sealer endpoint.Sealer
	errs   *ruleErrors     // nil: rule errors are not recorded
	held   *heldMarks      // nil: no endpoint is marked held
	direct DirectDeliverer // nil: every delivery is queued
}

// publishAll publishes; trace is the trace context every delivery carries
// (nil: none).
func (r publisher) publishAll(ctx context.Context, e *event.Event, targets []target, rd *payload.Renderer, trace nats.Header) {
	futures := make([]jetstream.PubAckFuture, len(targets))
	var direct []int // targets offered to r.direct, their messages in msgs
	var msgs []*nats.Msg
	for i := range targets {
		t := &targets[i]
		m := r.deliveryMsg(e, t, rd, trace)
		if r.directs(t) {
			direct, msgs = append(direct, i), append(msgs, m)
			continue
		}
		futures[i], t.err = r.js.PublishMsgAsync(m)
	}
	offer := func(j int) {
		i := direct[j]
		t := &targets[i]
		err := r.direct.Direct(ctx, t.ep.ID, msgs[j])
		if errors.Is(err, delivery.ErrDirectDeclined) {
			futures[i], err = r.js.PublishMsgAsync(msgs[j])
		}
		t.err = err
	}
	if len(direct) == 1 {
		offer(0) // the common case: no goroutine
	} else if len(direct) > 1 {
		var wg sync.WaitGroup
		for j := range direct {
			wg.Go(func() { offer(j) })
		}
		wg.Wait()
	}
	for i, f := range futures {
		if f != nil {
			targets[i].err = awaitPubAck(ctx, f)
		}
	}
}

// directs reports whether t's delivery is offered to r.direct: a plain,
// enabled endpoint's. One marked held (busy, or failing) is offered too:
// the worker declines it unless the endpoint's last attempt succeeded, so
// a busy endpoint that answers well keeps the fast path while its backlog
// drains from its held subject.
func (r publisher) directs(t *target) bool {
	return r.direct != nil && t.lane == 0 && t.ep.Layout().Plain() && !t.ep.Disabled && t.ep.PayloadErr == nil
}

// awaitPubAck waits for a publish's acknowledgement: nil, its refusal, or
// ctx's error.
func awaitPubAck(ctx context.Context, f jetstream.PubAckFuture) error {
	select {
	case <-f.Ok():
		return nil
	case err := <-f.Err():
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// failures is nil when every target got its delivery; a publish to an
// endpoint deleted meanwhile is not a failure.
func (r *Router) failures(e *event.Event, targets []target) error {
	failed := map[string]error{}
	for _, t := range targets {
		if t.err == nil {
			continue
		}
		if r.reg.Snapshot().Get(t.ep.ID) == nil &&
			(errors.Is(t.err, jetstream.ErrNoStreamResponse) || errors.Is(t.err, nats.ErrNoResponders)) {
			continue // deleted while routing
		}
		failed[t.ep.ID] = t.err
	}
	if len(failed) > 0 {
		return &PublishError{Event: e, Failed: failed}
	}
	return nil
}

// startIndex publishes where the event goes, for GET /v1/events/{id};
// nil if the publish could not begin (logged). The index never holds
// delivery back: awaitIndex only logs a failure.
func (r *Router) startIndex(e *event.Event, targets []target, reached map[string]bool, ordered bool) jetstream.PubAckFuture {
	f, err := r.js.PublishMsgAsync(indexRecord(r.names, e, targets, reached, ordered))
	if err != nil {
		r.log.Warn("event index not written", "event", e.ID, "err", err)
		return nil
	}
	return f
}

// Bounds on awaitIndex's wait. The record was published in the same
// flight as the deliveries, whose acknowledgements came first: a working
// index stream has answered by now or within milliseconds. One that does
// not answer (its leader cut off, and NATS not yet aware) must not hold
// routing: each route waits for its record at most indexWait, and once a
// wait ran out, only indexWaitDegraded, until a record is acknowledged in
// time again. The event's acknowledgement waits for its deliveries only;
// a record left behind is still written if its publish gets through (the
// index is best effort: GET /v1/events/{id} says "not routed yet" without
// one).
const (
	indexWait         = 2 * time.Second
	indexWaitDegraded = 50 * time.Millisecond
)

// awaitIndex waits for startIndex's publish (nil: none), until ctx ends
// and for at most indexWait (see there).
func (r *Router) awaitIndex(ctx context.Context, e *event.Event, f jetstream.PubAckFuture) {
	if f == nil {
		return
	}
	wait := indexWait
	if r.indexSlow.Load() {
		wait = indexWaitDegraded
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	err := awaitPubAck(ctx, f)
	if err == nil {
		r.indexSlow.Store(false)
		r.indexLeft.Recovered()
		return
	}
	if errors.Is(err, context.DeadlineExceeded) {
		r.indexSlow.Store(true)
	}
	r.indexLeft.Failed(err, "event", e.ID, "waited", wait)
}

// deliveryHeaders are the headers every delivery of e carries, made once
// per event: trace's (the route span's context, so the worker's deliver
// span joins the trace) and the event's own (delivery.SetEventHeaders).
func deliveryHeaders(e *event.Event, trace nats.Header, retry bool) nats.Header {
	h := make(nats.Header, len(trace)+5)
	for k, v := range trace {
		h[k] = v
	}
	delivery.SetEventHeaders(h, e)
	if retry {
		h[delivery.HeaderRouteRetry] = []string{"1"}
	}
	return h
}

// deliveryMsg is the delivery of e to t's endpoint, rendered in the
// endpoint's format. A rendering that fails (a transform erring on this
// event) still goes to the endpoint's stream, marked, and the worker
// dead-letters it: the event is not lost, and a retry renders it again.
// It carries shared, the headers every delivery of e carries
// (deliveryHeaders; the event's are set here when shared lacks them).
func (r publisher) deliveryMsg(e *event.Event, t *target, rd *payload.Renderer, shared nats.Header) *nats.Msg {
	m := &nats.Msg{
		Subject: delivery.Subject(r.names, t.ep.Layout(), t.ep.ID, t.lane, t.ep.Disabled || r.held != nil && r.held.has(t.ep.ID)),
		// Room for shared's, the endpoint's two and Nats-Msg-Id: with the
		// event's four, a map's smallest table (a payload's or a lane's
		// header grows it).
		Header: make(nats.Header, len(shared)+3),
	}
	for k, v := range shared {
		m.Header[k] = v // shared, never modified: each message only encodes it
	}
	if _, ok := shared[delivery.HeaderEventID]; !ok {
		delivery.SetEventHeaders(m.Header, e)
	}
	p, err := rd.Render(t.ep.Payload)
	if t.ep.PayloadErr != nil {
		err = t.ep.PayloadErr
	}
	if n := renderedSize(p); err == nil && n > topology.MaxEventSize {
		// No endpoint stream would take it: publishing it would fail
		// and retry for every event. The event itself always fits.
		err = fmt.Errorf("the rendered delivery is %d bytes, more than the %d a delivery may have", n, topology.MaxEventSize)
	}
	switch {
	case err != nil && r.errs != nil:
		// The worker dead-letters it with the error.
		r.errs.record(t.ep.ID, e.ID, RuleErrorPayload, err)
	case err != nil:
		r.log.Warn("delivery not rendered in the endpoint's format: it will be dead-lettered", "endpoint", t.ep.ID, "event", e.ID, "err", err)
	}
	delivery.SetPayload(m, e, p, err, r.sealer)
	m.Header.Set(jetstream.MsgIDHeader, delivery.MsgID(e.ID, t.ep.ID))
	delivery.SetEndpointHeaders(m.Header, e, t.ep.ID)
	if t.lane > 0 {
		m.Header.Set(delivery.HeaderLane, strconv.Itoa(t.lane))
	}
	return m
}

// renderedSize is a rendered delivery's body and header values together.
func renderedSize(p payload.Rendered) int {
	n := len(p.Body)
	for k, v := range p.Headers {
		n += len(k) + len(v)
	}
	return n
}
