package topology

// Stream, bucket and consumer names. Endpoint ids are restricted to
// characters valid in stream names and subject tokens.
const (
	// EventsStream holds accepted events, on subjects "events.>".
	EventsStream = "HOOKD_EVENTS"
	// EventsSubjects is what EventsStream captures.
	EventsSubjects = "events.>"
	// DeadStream holds dead-lettered deliveries, on "hookd.dead.<endpoint>".
	DeadStream = "HOOKD_DEAD"
	// AttemptsStream records every delivery attempt, on
	// "hookd.attempts.<endpoint>".
	AttemptsStream = "HOOKD_ATTEMPTS"
	// EndpointsBucket is the key-value bucket of endpoint configurations,
	// keyed by endpoint id.
	EndpointsBucket = "hookd_endpoints"
	// RouterConsumer is the durable consumer on EventsStream shared by all
	// routers.
	RouterConsumer = "hookd-router"
	// WorkerConsumer is the durable consumer on each endpoint stream shared
	// by all workers.
	WorkerConsumer = "hookd-worker"
)

// EndpointStream is the name of the stream holding an endpoint's deliveries.
func EndpointStream(endpointID string) string { return "HOOKD_EP_" + endpointID }

// DeliverySubject is the subject a delivery for an endpoint is published to.
func DeliverySubject(endpointID string) string { return "hookd.deliver." + endpointID }

// DeadSubject is the subject a dead-lettered delivery is published to.
func DeadSubject(endpointID string) string { return "hookd.dead." + endpointID }

// AttemptSubject is the subject an attempt record is published to.
func AttemptSubject(endpointID string) string { return "hookd.attempts." + endpointID }
