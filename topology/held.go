package topology

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/internal/natsname"
)

// Deliveries wait in streams shared by every endpoint, one subject per
// endpoint (and per lane of an ordered endpoint): an endpoint is a key in
// the endpoints bucket and nothing in the server until deliveries are
// queued for it. A plain endpoint's (EndpointLayout.Plain) wait in the
// queue (one to Shards QueueStreams, see queue.go), handed out by Shards
// shard consumers that every worker
// consumes, so any number of busy endpoints costs a fixed number of
// consumers. The others', and the deliveries workers move out of the queue
// (a retry, a throttled, disabled or busy endpoint), wait in HeldStream:
// workers create an endpoint's consumer there when it has work (on a
// doorbell or a sweep) and stop pulling when it is idle; the server then
// removes the consumer after ConsumerInactiveThreshold. Deleting a
// work-queue consumer keeps its messages (pinned in internal/serverpins),
// so a consumer may come and go at any time without losing a delivery.

// ConsumerInactiveThreshold is how long an endpoint consumer nobody pulls
// from lives on in the server: long enough that an endpoint receiving a
// trickle of deliveries keeps its consumer, short enough that thousands of
// endpoints that received one delivery each do not keep thousands.
const ConsumerInactiveThreshold = 2 * time.Minute

// Default bounds of the endpoint consumers on HeldStream (see
// Config.HeldMaxConsumers): each consumer slows every acknowledgement on
// its stream a little (internal/serverpins), and on a cluster it is a Raft
// group of its own, measured at 0.02-0.035% of a core per node even idle
// (BENCHMARKS.md): 200 stay within the 5% idle budget of an R3 node.
const (
	DefaultHeldMaxConsumers        = 1000
	DefaultClusterHeldMaxConsumers = 200
)

// deliveryStreams are HeldStream and BatchesStream (the queue streams are
// ensureQueue's).
func (t *Topology) deliveryStreams() []jetstream.StreamConfig {
	n := t.names
	held := jetstream.StreamConfig{
		Name:      n.HeldStream(),
		Subjects:  []string{n.HeldSubject("*"), n.OrderedSubjects()},
		Retention: jetstream.WorkQueuePolicy,
		// The per-endpoint backlog cap: a full endpoint subject refuses the
		// router's publish (IsStreamFull), which holds the event and later
		// dead-letters it for that endpoint, while other endpoints' subjects
		// take theirs.
		MaxMsgsPerSubject: t.cfg.EndpointMaxMsgs,
		MaxBytes:          t.cfg.DeliveriesMaxBytes,
		Discard:           jetstream.DiscardNew,
		Duplicates:        t.cfg.DuplicateWindow,
		// A stream takes 1,000 consumers unless it says otherwise; -1 does
		// not lift that (internal/serverpins).
		MaxConsumers: t.cfg.HeldMaxConsumers,
		Storage:      jetstream.FileStorage,
		Replicas:     t.cfg.Replicas,
		// A work queue takes no reading consumers: a delivery waiting with
		// no log record (pending) is read by direct gets (package delivery).
		AllowDirect: true,
	}
	// The server refuses DiscardNewPerSubject without a per-subject limit.
	held.DiscardNewPerSubject = held.MaxMsgsPerSubject > 0
	batches := held
	batches.Name = n.BatchesStream()
	batches.Subjects = []string{n.BatchesSubject("*")}
	// Members re-collected after a crash into the same batch are dropped as
	// a duplicate however long the batch was open.
	batches.Duplicates = max(t.cfg.DuplicateWindow, BatchDuplicateWindow(t.cfg.DeliveryAckWait))
	return []jetstream.StreamConfig{held, batches}
}

// queueStreamConfig is the configuration of a queue stream: HeldStream's
// limits, on subjects.
func (t *Topology) queueStreamConfig(name string, subjects []string) jetstream.StreamConfig {
	queue := t.deliveryStreams()[0]
	queue.Name = name
	queue.Subjects = subjects
	queue.MaxConsumers = 0 // the shard consumers only
	return queue
}

// shardMaxAckPending bounds the deliveries of one shard out at once across
// all workers: far above what workers hold (Config.Concurrency each), so it
// never throttles them, and a bound on what a stalled worker strands until
// its ack wait.
const shardMaxAckPending = 8192

// ShardConsumerConfig is the consumer of one shard, on the queue stream
// holding it (ShardStream).
func (t *Topology) ShardConsumerConfig(shard int) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       ShardConsumer(shard),
		FilterSubject: t.names.ShardSubjects(shard),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       t.cfg.DeliveryAckWait,
		MaxDeliver:    -1,
		MaxAckPending: shardMaxAckPending,
	}
}

// ConsumerSpec is one consumer of an endpoint's deliveries: which stream,
// which subject, how many deliveries out at once.
type ConsumerSpec struct {
	Stream     string
	Config     jetstream.ConsumerConfig
	endpointID string
	lane       int
}

// Lane returns the lane an ordered spec serves (0 for the endpoint's one
// lane or an unordered spec).
func (c ConsumerSpec) Lane() int { return c.lane }

// EndpointConsumerSpecs lists the consumers an endpoint with layout l is
// served by: its held subject's, or for an ordered endpoint the lanes in
// lanes (0 being the lane of an endpoint without an ordering key), and its
// batches' when batched. Lanes of an ordered endpoint get a consumer only
// while they hold deliveries (workers learn of them from doorbells and
// sweeps), so an ordered endpoint with 16 lanes and one busy lane costs
// one consumer.
func (t *Topology) EndpointConsumerSpecs(endpointID string, l EndpointLayout, lanes []int) []ConsumerSpec {
	n := t.names
	base := jetstream.ConsumerConfig{
		AckPolicy: jetstream.AckExplicitPolicy,
		AckWait:   t.cfg.DeliveryAckWait,
		// Workers dead-letter by attempt count themselves, so JetStream must
		// never stop redelivering on its own.
		MaxDeliver:        -1,
		MaxAckPending:     l.MaxInFlight,
		InactiveThreshold: ConsumerInactiveThreshold,
		// No replica count: a work-queue consumer follows its stream's.
	}
	if base.MaxAckPending <= 0 {
		base.MaxAckPending = defaultMaxAckPending
	}
	var out []ConsumerSpec
	if l.Ordered {
		for _, lane := range lanes {
			c := base
			c.Durable = OrderedConsumer(endpointID, lane)
			c.FilterSubject = n.OrderedSubject(endpointID, lane)
			c.MaxAckPending = 1 // one out at a time: stream order
			out = append(out, ConsumerSpec{Stream: n.HeldStream(), Config: c, endpointID: endpointID, lane: lane})
		}
	} else {
		c := base
		c.Durable = HeldConsumer(endpointID)
		c.FilterSubject = n.HeldSubject(endpointID)
		if l.Batched {
			// A batched endpoint's max_in_flight caps its batches. Its
			// collectors hold deliveries unacknowledged until their batch is
			// stored: this bounds what they hold while storing stalls.
			c.MaxAckPending = collectMaxAckPending
		}
		out = append(out, ConsumerSpec{Stream: n.HeldStream(), Config: c, endpointID: endpointID})
	}
	return out
}

// BatchesConsumerSpec is the consumer of an endpoint's composed batches.
func (t *Topology) BatchesConsumerSpec(endpointID string, l EndpointLayout) ConsumerSpec {
	c := jetstream.ConsumerConfig{
		Durable:           BatchesConsumer(endpointID),
		FilterSubject:     t.names.BatchesSubject(endpointID),
		AckPolicy:         jetstream.AckExplicitPolicy,
		AckWait:           t.cfg.DeliveryAckWait,
		MaxDeliver:        -1,
		MaxAckPending:     l.MaxInFlight,
		InactiveThreshold: ConsumerInactiveThreshold,
	}
	if c.MaxAckPending <= 0 {
		c.MaxAckPending = defaultMaxAckPending
	}
	return ConsumerSpec{Stream: t.names.BatchesStream(), Config: c, endpointID: endpointID}
}

// Consumer creates the consumer of spec, or updates it to spec (a new
// max_in_flight), and returns it. Workers call it when an endpoint has
// work; every worker asks for the same configuration, so they share the
// consumer.
// A spec of an endpoint id that is not a valid token
// (natsname.ValidToken) fails with natsname.ErrInvalidName before anything
// reaches JetStream.
func (t *Topology) Consumer(ctx context.Context, spec ConsumerSpec) (jetstream.Consumer, error) {
	if err := natsname.ValidToken(spec.endpointID); err != nil {
		return nil, fmt.Errorf("topology: consumer: %w", err)
	}
	c, err := t.js.CreateOrUpdateConsumer(ctx, spec.Stream, spec.Config)
	if err != nil {
		return nil, fmt.Errorf("topology: consumer %s/%s: %w", spec.Stream, spec.Config.Durable, err)
	}
	return c, nil
}

// endpointSubjects are the subjects an endpoint's deliveries and batches
// may wait on, whatever its layout now: its queue subject (in the queue
// stream holding its shard), its held subject, its ordered lanes, its
// batches.
func (t *Topology) endpointSubjects(ctx context.Context, endpointID string) ([]StreamSubject, error) {
	n := t.names
	out := []StreamSubject{
		{n.HeldStream(), n.HeldSubject(endpointID)},
		{n.HeldStream(), n.OrderedSubject(endpointID, 0)},
		{n.HeldStream(), n.OrderedSubject(endpointID, 0) + ".*"},
		{n.BatchesStream(), n.BatchesSubject(endpointID)},
	}
	queue, err := t.ShardStream(ctx, Shard(endpointID))
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		// No stream captures the shard (its layout is being replaced, or
		// an operator narrowed it): nothing can wait there.
		return out, nil
	case err != nil:
		return nil, err
	}
	return append([]StreamSubject{{queue, n.QueueSubject(endpointID)}}, out...), nil
}

// StreamSubject is a subject (possibly with a wildcard) of one stream.
type StreamSubject struct{ Stream, Subject string }

// EndpointSubjects are the subjects an endpoint's deliveries may wait on,
// whatever its layout now: its queue, held and ordered subjects and its
// batches. It fails only when the server cannot say which queue stream
// holds the endpoint's shard.
func (t *Topology) EndpointSubjects(ctx context.Context, endpointID string) ([]StreamSubject, error) {
	return t.endpointSubjects(ctx, endpointID)
}

// DeleteEndpoint removes whatever an endpoint left in the delivery streams:
// its waiting deliveries and batches, and its consumers (and, for an
// endpoint of an earlier release not yet migrated, its own streams).
// Deleting what does not exist is not an error; an id that is not a valid
// token is natsname.ErrInvalidName.
func (t *Topology) DeleteEndpoint(ctx context.Context, endpointID string) error {
	if err := natsname.ValidToken(endpointID); err != nil {
		return fmt.Errorf("topology: delete endpoint: %w", err)
	}
	// Consumers first, so no worker takes a delivery being purged.
	for _, stream := range []string{t.names.HeldStream(), t.names.BatchesStream()} {
		s, err := t.js.Stream(ctx, stream)
		if err != nil {
			return fmt.Errorf("topology: delete endpoint %s: %w", endpointID, err)
		}
		names := s.ConsumerNames(ctx)
		for name := range names.Name() {
			if ownedBy(name, endpointID) {
				if err := s.DeleteConsumer(ctx, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
					return fmt.Errorf("topology: delete endpoint %s: consumer %s: %w", endpointID, name, err)
				}
			}
		}
		if err := names.Err(); err != nil {
			return fmt.Errorf("topology: delete endpoint %s: list consumers: %w", endpointID, err)
		}
	}
	subjects, err := t.endpointSubjects(ctx, endpointID)
	if err != nil {
		return fmt.Errorf("topology: delete endpoint %s: %w", endpointID, err)
	}
	for _, es := range subjects {
		s, err := t.js.Stream(ctx, es.Stream)
		if err != nil {
			return fmt.Errorf("topology: delete endpoint %s: %w", endpointID, err)
		}
		if err := s.Purge(ctx, jetstream.WithPurgeSubject(es.Subject)); err != nil {
			return fmt.Errorf("topology: delete endpoint %s: purge %s: %w", endpointID, es.Subject, err)
		}
	}
	for _, name := range []string{t.names.EndpointStream(endpointID), t.names.BatchStream(endpointID)} {
		err := t.js.DeleteStream(ctx, name)
		if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("topology: delete endpoint stream %s: %w", name, err)
		}
	}
	return nil
}

// ownedBy reports whether a consumer name is one of an endpoint's.
func ownedBy(consumer, endpointID string) bool {
	if consumer == HeldConsumer(endpointID) || consumer == OrderedConsumer(endpointID, 0) || consumer == BatchesConsumer(endpointID) {
		return true
	}
	for lane := 1; lane <= maxLanes; lane++ {
		if consumer == OrderedConsumer(endpointID, lane) {
			return true
		}
	}
	return false
}

// maxLanes is the most lanes an ordered endpoint may have (package
// endpoint's limit; names of more would not be found on deletion).
const maxLanes = 64
