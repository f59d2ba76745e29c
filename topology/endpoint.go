package topology

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// defaultMaxAckPending bounds an endpoint's unacknowledged deliveries when
// it sets no max_in_flight.
const defaultMaxAckPending = 20000

// collectMaxAckPending bounds a batched endpoint's deliveries being
// collected across all workers: five batches of the largest size
// (endpoint.MaxBatchEvents).
const collectMaxAckPending = 5000

// EndpointLayout is how an endpoint's deliveries are stored and consumed:
// a plain one (Plain) on QueueStream, through the shard consumers every
// worker shares; any other on HeldStream, through consumers of its own.
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
	// in parallel, each in order.
	Lanes int
	// RateLimited endpoints have a cap on deliveries per second.
	RateLimited bool
	// Batched endpoints have their deliveries collected into batches, which
	// are stored in BatchesStream and delivered from there. MaxInFlight then caps the batches out at once.
	Batched bool
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

// Plain reports whether deliveries of an endpoint with layout l go through
// the shard consumers: nothing in l needs a consumer of its own (a cap on
// its deliveries in flight or per second, order, batches).
func (l EndpointLayout) Plain() bool {
	return !l.Ordered && !l.Batched && !l.RateLimited && l.MaxInFlight <= 0
}
