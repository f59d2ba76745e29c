package topology

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookd/hookd/internal/natsname"
	"github.com/nats-io/nats.go/jetstream"
)

// MaxBatchWait is the longest max_wait a batch may have (package
// endpoint validates it).
const MaxBatchWait = 15 * time.Minute

// BatchDuplicateWindow is how long a batch stream remembers batch ids:
// longer than a batch can be open plus two ack waits, so members
// re-collected after a crash (they come back after their ack wait) into
// the same batch are dropped as a duplicate, whatever max_wait is.
func BatchDuplicateWindow(ackWait time.Duration) time.Duration {
	return MaxBatchWait + 2*ackWait
}

// ensureBatches creates or updates a batched endpoint's batch stream and
// its worker consumer.
//
// Batches have a stream of their own, not a subject in the endpoint
// stream: a batch is stored before its members are acknowledged, so in an
// endpoint stream filled to its limit by members (workers down while
// routers kept queueing) no batch could ever be stored and the endpoint
// would be stuck. With two streams, a full batch stream only makes the
// collector wait until the batches ahead are delivered or dead-lettered,
// which they always are.
func (t *Topology) ensureBatches(ctx context.Context, endpointID string, l EndpointLayout) error {
	err := t.ensureStream(ctx, jetstream.StreamConfig{
		Name:       t.names.BatchStream(endpointID),
		Subjects:   []string{t.names.BatchSubject(endpointID)},
		Retention:  jetstream.WorkQueuePolicy,
		MaxMsgs:    t.cfg.EndpointMaxMsgs,
		MaxBytes:   t.cfg.EndpointMaxBytes,
		Discard:    jetstream.DiscardNew,
		Duplicates: max(t.cfg.DuplicateWindow, BatchDuplicateWindow(t.cfg.DeliveryAckWait)),
		Storage:    jetstream.FileStorage,
		Replicas:   t.cfg.Replicas,
	})
	if err != nil {
		return fmt.Errorf("topology: batch stream %s: %w", endpointID, err)
	}
	s, err := t.js.Stream(ctx, t.names.BatchStream(endpointID))
	if err != nil {
		return fmt.Errorf("topology: batch stream %s: %w", endpointID, err)
	}
	cc := jetstream.ConsumerConfig{
		Durable:   WorkerConsumer,
		AckPolicy: jetstream.AckExplicitPolicy,
		AckWait:   t.cfg.DeliveryAckWait,
		// As for deliveries: workers dead-letter by attempt count.
		MaxDeliver:    -1,
		MaxAckPending: l.MaxInFlight,
	}
	if cc.MaxAckPending <= 0 {
		cc.MaxAckPending = defaultMaxAckPending
	}
	if _, err := s.CreateOrUpdateConsumer(ctx, cc); err != nil {
		return fmt.Errorf("topology: batch consumer %s: %w", endpointID, err)
	}
	return nil
}

// BatchConsumer looks up the worker consumer of an endpoint's batch stream
// without creating anything; ErrEndpointMissing when there is none.
func (t *Topology) BatchConsumer(ctx context.Context, endpointID string) (jetstream.Consumer, error) {
	if err := natsname.ValidToken(endpointID); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEndpointMissing, err)
	}
	c, err := t.js.Consumer(ctx, t.names.BatchStream(endpointID), WorkerConsumer)
	if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("%w: batches of %s", ErrEndpointMissing, endpointID)
	}
	if err != nil {
		return nil, fmt.Errorf("topology: batch consumer %s: %w", endpointID, err)
	}
	return c, nil
}
