package topology

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// Stream, bucket and consumer names. Endpoint ids are restricted to
// characters valid in stream names and subject tokens.
const (
	// EventsStream holds accepted events, on subjects "events.>".
	EventsStream = "HOOKD_EVENTS"
	// EventsSubjects is what EventsStream captures.
	EventsSubjects = "events.>"
	// DeadStream holds dead-lettered deliveries, on "hookd.dead.<endpoint>".
	DeadStream = "HOOKD_DEAD"
	// AttemptsStream is the delivery log: a record when a delivery is
	// queued and one per attempt, on "hookd.attempts.<endpoint>.<delivery>",
	// so the last message of a subject is the delivery's current state.
	AttemptsStream = "HOOKD_ATTEMPTS"
	// EndpointsBucket is the key-value bucket of endpoint configurations,
	// keyed by endpoint id.
	EndpointsBucket = "hookd_endpoints"
	// IndexStream finds events by id: one record per event, written by the
	// router, on "hookd.index.<hash of the event id>" (and ".ordered" after
	// it for the ordered lane's).
	IndexStream = "HOOKD_EVENT_INDEX"
	// HealthBucket tracks, per endpoint, since when and how often it has
	// failed without a success in between: what auto-disable decides on.
	HealthBucket = "hookd_endpoint_health"
	// StatsBucket holds per-endpoint counts of attempts and rule errors,
	// keyed "<endpoint>.<UTC hour, 2006010215>", with per-minute counts
	// (see delivery.Counters); keys expire after StatsMaxAge.
	StatsBucket = "hookd_endpoint_stats"
	// StatsConsumer is the durable consumer on AttemptsStream through
	// which the processes that count split the records.
	StatsConsumer = "hookd-stats"
	// RateBucket holds each rate-limited endpoint's token bucket, shared by
	// all workers.
	RateBucket = "hookd_rate"
	// RoutingBucket remembers, for an event whose routing failed for some
	// endpoints, the endpoints it did reach, so that its retries go only
	// to the others (endpoint streams forget message ids after their
	// duplicate window). Keyed by lane and event sequence; entries expire
	// after a day.
	RoutingBucket = "hookd_routing"
	// TenantsBucket holds tenants, keyed by tenant id.
	TenantsBucket = "hookd_tenants"
	// TenantEventsSubjects is what EventsStream captures for events
	// addressed to a tenant: "tenants.<tenant>.events.<type>".
	TenantEventsSubjects = "tenants.*.events.>"
	// KeysBucket holds API keys (hashes only), keyed by key id.
	KeysBucket = "hookd_keys"
	// EventTypesBucket is the event-type catalogue, keyed by type name.
	EventTypesBucket = "hookd_event_types"
	// RouterConsumer is the durable consumer on EventsStream shared by all
	// routers.
	RouterConsumer = "hookd-router"
	// OrderedRouterConsumer is the durable consumer on EventsStream that
	// routes to ordered endpoints. It hands out one event at a time, so
	// however many routers share it, events are routed in stream order.
	OrderedRouterConsumer = "hookd-router-ordered"
	// WorkerConsumer is the durable consumer on each endpoint stream shared
	// by all workers.
	WorkerConsumer = "hookd-worker"
)

// LaneConsumer is the durable consumer of one lane of an ordered endpoint
// with an ordering key.
func LaneConsumer(lane int) string { return WorkerConsumer + "-lane-" + strconv.Itoa(lane) }

// LaneSubject is the subject of one lane of an endpoint's deliveries;
// lane "*" gives them all.
func LaneSubject(endpointID, lane string) string { return DeliverySubject(endpointID) + "." + lane }

// EndpointStream is the name of the stream holding an endpoint's deliveries.
func EndpointStream(endpointID string) string { return "HOOKD_EP_" + endpointID }

// DeliverySubject is the subject a delivery for an endpoint is published to.
func DeliverySubject(endpointID string) string { return "hookd.deliver." + endpointID }

// WakeSubject is the core NATS subject routers ring when they queue
// deliveries for an endpoint, so that workers pull from it only while it
// has work.
func WakeSubject(endpointID string) string { return "hookd.wake." + endpointID }

// EndpointOfStream returns the endpoint id of an endpoint stream's name,
// and false for any other stream.
func EndpointOfStream(stream string) (string, bool) {
	id, ok := strings.CutPrefix(stream, "HOOKD_EP_")
	return id, ok && id != ""
}

// BatchStream is the name of the stream holding a batched endpoint's
// composed batches, each an ordinary delivery from then on. Separate from
// the endpoint stream so that a batch always has room while its members
// still hold theirs (see EnsureEndpoint).
func BatchStream(endpointID string) string { return "HOOKD_BATCH_" + endpointID }

// BatchSubject is the subject a composed batch is published to.
func BatchSubject(endpointID string) string { return "hookd.batch." + endpointID }

// EndpointOfBatchStream returns the endpoint id of a batch stream's name,
// and false for any other stream.
func EndpointOfBatchStream(stream string) (string, bool) {
	id, ok := strings.CutPrefix(stream, "HOOKD_BATCH_")
	return id, ok && id != ""
}

// DeadSubject is the subject a dead-lettered delivery is published to.
func DeadSubject(endpointID string) string { return "hookd.dead." + endpointID }

// AttemptSubject is the subject of a delivery's log records; "*" as
// deliveryID gives every delivery of the endpoint.
func AttemptSubject(endpointID, deliveryID string) string {
	return "hookd.attempts." + endpointID + "." + deliveryID
}

// IndexSubject is the subject of an event's index record. Event ids are
// chosen by producers (and two tenants may choose the same), so tenant and
// id are hashed into a subject token.
func IndexSubject(tenantID, eventID string) string {
	sum := sha256.Sum256([]byte(tenantID + "\x00" + eventID))
	return "hookd.index." + hex.EncodeToString(sum[:16])
}

// OrderedIndexSubject is the subject of the index record the ordered
// routing lane writes for an event it routed to ordered endpoints.
func OrderedIndexSubject(tenantID, eventID string) string {
	return IndexSubject(tenantID, eventID) + ".ordered"
}

// MaxEventSize is the largest event the events stream stores: the server's
// default 1 MiB payload limit less room for the envelope and headers a
// delivery adds, so every stored event can be routed.
const MaxEventSize = 1<<20 - 16<<10
