package topology

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hookd/hookd/internal/natsname"
	"github.com/nats-io/nats.go/jetstream"
)

// defaultMaxAckPending bounds an endpoint's unacknowledged deliveries when
// it sets no max_in_flight.
const defaultMaxAckPending = 20000

// collectMaxAckPending bounds a batched endpoint's deliveries being
// collected across all workers: five batches of the largest size
// (endpoint.MaxBatchEvents).
const collectMaxAckPending = 5000

// EndpointLayout is how an endpoint's deliveries are stored and consumed.
type EndpointLayout struct {
	// MaxInFlight, when positive, caps an unordered endpoint's deliveries
	// out at once across all workers (its consumer's MaxAckPending).
	// Optional: default 20000.
	MaxInFlight int
	// Ordered endpoints have one delivery out at a time per lane, so
	// JetStream hands them out in stream order and a delivery waiting for
	// its retry holds back the ones after it.
	Ordered bool
	// Lanes, when positive (with Ordered), spreads deliveries over that
	// many lane subjects, each with its own consumer: lanes are delivered
	// in parallel, each in order. Fixed when the stream is created.
	Lanes int
	// Batched endpoints have their deliveries collected into batches, which
	// are stored in a batch stream of their own (see BatchStream) and
	// delivered from there. MaxInFlight then caps the batches out at once.
	Batched bool
}

// EnsureEndpoint creates or updates an endpoint's delivery stream and its
// worker consumers. The stream is a work queue: a delivery is removed once a
// worker acknowledged it. Once it holds Config.EndpointMaxMsgs (or
// EndpointMaxBytes) it refuses new deliveries until workers drain it. An
// endpoint id that is not a valid token (natsname.ValidToken) fails with
// natsname.ErrInvalidName before anything reaches JetStream.
func (t *Topology) EnsureEndpoint(ctx context.Context, endpointID string, l EndpointLayout) error {
	if err := natsname.ValidToken(endpointID); err != nil {
		return fmt.Errorf("topology: endpoint stream: %w", err)
	}
	subjects := []string{t.names.DeliverySubject(endpointID)}
	if l.Lanes > 0 {
		subjects = append(subjects, t.names.LaneSubject(endpointID, "*"))
	}
	err := t.ensureStream(ctx, jetstream.StreamConfig{
		Name:       t.names.EndpointStream(endpointID),
		Subjects:   subjects,
		Retention:  jetstream.WorkQueuePolicy,
		MaxMsgs:    t.cfg.EndpointMaxMsgs,
		MaxBytes:   t.cfg.EndpointMaxBytes,
		Discard:    jetstream.DiscardNew,
		Duplicates: t.cfg.DuplicateWindow,
		Storage:    jetstream.FileStorage,
		Replicas:   t.cfg.Replicas,
	})
	if err != nil {
		return fmt.Errorf("topology: endpoint stream %s: %w", endpointID, err)
	}
	s, err := t.js.Stream(ctx, t.names.EndpointStream(endpointID))
	if err != nil {
		return fmt.Errorf("topology: endpoint stream %s: %w", endpointID, err)
	}
	for _, cc := range t.endpointConsumers(endpointID, l) {
		if _, err := s.CreateOrUpdateConsumer(ctx, cc); err != nil {
			return fmt.Errorf("topology: endpoint consumer %s/%s: %w", endpointID, cc.Durable, err)
		}
	}
	if l.Batched {
		return t.ensureBatches(ctx, endpointID, l)
	}
	// A batch stream left from when batching was on stays: batches may
	// still wait in it, and workers drain it (see worker.sweep).
	return nil
}

func (t *Topology) endpointConsumers(endpointID string, l EndpointLayout) []jetstream.ConsumerConfig {
	base := jetstream.ConsumerConfig{
		Durable:   WorkerConsumer,
		AckPolicy: jetstream.AckExplicitPolicy,
		AckWait:   t.cfg.DeliveryAckWait,
		// Workers dead-letter by attempt count themselves, so JetStream must
		// never stop redelivering on its own.
		MaxDeliver:    -1,
		MaxAckPending: l.MaxInFlight,
		// No replica count: a consumer follows its stream's.
	}
	if base.MaxAckPending <= 0 {
		base.MaxAckPending = defaultMaxAckPending
	}
	if l.Batched {
		// A batched endpoint's max_in_flight caps its batches. Its
		// collectors hold deliveries unacknowledged until their batch is
		// stored: this bounds what they hold while storing stalls.
		base.MaxAckPending = collectMaxAckPending
	}
	if l.Ordered {
		base.MaxAckPending = 1
	}
	if l.Lanes <= 0 {
		return []jetstream.ConsumerConfig{base}
	}
	// A work-queue stream's consumers must not overlap: the main consumer
	// takes the unlaned subject only.
	base.FilterSubject = t.names.DeliverySubject(endpointID)
	out := []jetstream.ConsumerConfig{base}
	for lane := 1; lane <= l.Lanes; lane++ {
		c := base
		c.Durable = LaneConsumer(lane)
		c.FilterSubject = t.names.LaneSubject(endpointID, strconv.Itoa(lane))
		out = append(out, c)
	}
	return out
}

// DeleteEndpoint removes an endpoint's delivery stream, and its batch
// stream if it has one. Deleting a stream that does not exist is not an
// error; an id that is not a valid token is natsname.ErrInvalidName.
func (t *Topology) DeleteEndpoint(ctx context.Context, endpointID string) error {
	if err := natsname.ValidToken(endpointID); err != nil {
		return fmt.Errorf("topology: delete endpoint stream: %w", err)
	}
	for _, name := range []string{t.names.EndpointStream(endpointID), t.names.BatchStream(endpointID)} {
		err := t.js.DeleteStream(ctx, name)
		if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("topology: delete endpoint stream %s: %w", name, err)
		}
	}
	return nil
}

// ErrEndpointMissing reports an endpoint whose stream or consumer does not
// exist (yet, or any more).
var ErrEndpointMissing = errors.New("endpoint stream missing")

// EndpointConsumers looks up an endpoint's worker consumers without
// creating anything: only endpoint creation makes streams, so a worker with
// a stale view cannot resurrect a deleted endpoint's stream.
func (t *Topology) EndpointConsumers(ctx context.Context, endpointID string, l EndpointLayout) ([]jetstream.Consumer, error) {
	if err := natsname.ValidToken(endpointID); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEndpointMissing, err)
	}
	names := []string{WorkerConsumer}
	for lane := 1; lane <= l.Lanes; lane++ {
		names = append(names, LaneConsumer(lane))
	}
	out := make([]jetstream.Consumer, 0, len(names))
	for _, name := range names {
		c, err := t.js.Consumer(ctx, t.names.EndpointStream(endpointID), name)
		if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil, fmt.Errorf("%w: %s", ErrEndpointMissing, endpointID)
		}
		if err != nil {
			return nil, fmt.Errorf("topology: endpoint consumer %s/%s: %w", endpointID, name, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// RouterConsumerConfig is the durable consumer of a routing lane. The
// parallel lane starts at the first stored event; the ordered lane at the
// first event after its creation, so that a deployment that never had an
// ordered endpoint does not walk its whole backlog one event at a time when
// it gets its first. ackWait is how long a router may hold an event.
func RouterConsumerConfig(ordered bool, ackWait time.Duration) jetstream.ConsumerConfig {
	c := jetstream.ConsumerConfig{
		Durable:       RouterConsumer,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1,
		MaxAckPending: 10000,
	}
	if ordered {
		// One event out at a time, whichever router holds it: ordered
		// endpoints get their deliveries in the events stream's order.
		c.Durable, c.MaxAckPending, c.DeliverPolicy = OrderedRouterConsumer, 1, jetstream.DeliverNewPolicy
	}
	return c
}

// DefaultRouterAckWait is the routers' default ack wait.
const DefaultRouterAckWait = 30 * time.Second

// EnsureOrderedRouting creates the ordered routing lane's consumer if no
// router did yet, so that an ordered endpoint created before any router
// runs still gets every event accepted after it.
func (t *Topology) EnsureOrderedRouting(ctx context.Context) error {
	_, err := t.js.CreateConsumer(ctx, t.names.EventsStream(), RouterConsumerConfig(true, DefaultRouterAckWait))
	if err != nil && !errors.Is(err, jetstream.ErrConsumerExists) {
		return fmt.Errorf("topology: ordered routing consumer: %w", err)
	}
	return nil
}
