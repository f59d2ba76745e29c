package router

import (
	"context"

	"github.com/nats-io/nats.go"
)

// DirectDeliverer attempts a delivery at once instead of queueing it (the
// fast path; worker.Worker.Direct does). A router acknowledges an event
// only once each of its deliveries is settled: queued, or taken by the
// deliverer.
type DirectDeliverer interface {
	// Direct attempts msg, the delivery to endpointID as the router would
	// queue it. nil: the delivery is settled (delivered and recorded, or
	// stored for its retry, or dead-lettered).
	// delivery.ErrDirectDeclined: nothing was done, the router queues it.
	// Any other error: it was attempted but not settled; the event is
	// routed again, and the deliveries of a routing again are queued
	// marked delivery.HeaderRouteRetry, so a worker reads what the first
	// attempt recorded before sending it again.
	Direct(ctx context.Context, endpointID string, msg *nats.Msg) error
}
