package topology

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd/event"
)

// Names are the names of every stream, key-value bucket and subject of one
// hookd deployment: the one place they are spelled. A Topology carries its
// deployment's (Topology.Names); whoever reads or writes hookd's streams
// takes its names from there.
//
// Without a prefix (the zero value) the names are hookd's historical ones:
// streams HOOKD_EVENTS, HOOKD_EP_<endpoint>, ..., buckets hookd_endpoints,
// ..., subjects "events.>", "tenants.*.events.>", "hookd.deliver.<endpoint>",
// ..., so existing data keeps working. With a prefix P (Config.Prefix), so
// that hookd can share a NATS account with other applications:
//
//   - every subject is "P." followed by the unprefixed one: producers
//     publish to "P.events.<type>" and "P.tenants.<tenant>.events.<type>",
//     deliveries go to "P.hookd.deliver.<endpoint>", operational events to
//     "P.hookd.ops.<name>";
//   - every stream name is "P_" followed by the unprefixed one:
//     "P_HOOKD_EVENTS", "P_HOOKD_EP_<endpoint>";
//   - every bucket name is "P_" followed by the unprefixed one:
//     "P_hookd_endpoints" (whose stream is "KV_P_hookd_endpoints").
//
// Consumer names are not prefixed: they live inside hookd's streams.
// Distinct prefixes never give equal names: a prefix is lower case and
// unprefixed stream names continue in upper case after it ("P_HOOKD_"),
// and subjects differ in their first token.
type Names struct {
	prefix string
}

// MaxPrefixLen is the longest prefix NewNames accepts.
const MaxPrefixLen = 32

// ErrInvalidPrefix reports a prefix that NewNames refuses.
var ErrInvalidPrefix = errors.New("invalid prefix")

// NewNames returns the names of a deployment with the given prefix; ""
// gives the unprefixed names (the zero Names). A prefix is one subject
// token of 1 to MaxPrefixLen lower-case letters, digits, '-' and '_', so
// it is valid in subjects, stream and bucket names alike. "events",
// "tenants" and "hookd" are refused (ErrInvalidPrefix): their subjects
// would fall inside an unprefixed deployment's ("events.>",
// "tenants.*.events.>", "hookd.>"), and so inside its streams and
// permissions.
func NewNames(prefix string) (Names, error) {
	if err := ValidatePrefix(prefix); err != nil {
		return Names{}, err
	}
	return Names{prefix: prefix}, nil
}

// ValidatePrefix reports whether NewNames accepts prefix; errors wrap
// ErrInvalidPrefix.
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if len(prefix) > MaxPrefixLen {
		return fmt.Errorf("%w: %q is longer than %d characters", ErrInvalidPrefix, prefix, MaxPrefixLen)
	}
	for _, c := range prefix {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w: %q may hold only lower-case letters, digits, '-' and '_'", ErrInvalidPrefix, prefix)
		}
	}
	if prefix == "events" || prefix == "tenants" || prefix == "hookd" {
		return fmt.Errorf("%w: %q would put hookd's subjects inside the unprefixed %q", ErrInvalidPrefix, prefix, prefix+".>")
	}
	return nil
}

// Prefix is the deployment's prefix, "" for none.
func (n Names) Prefix() string { return n.prefix }

// subject prefixes an unprefixed subject.
func (n Names) subject(s string) string {
	if n.prefix == "" {
		return s
	}
	return n.prefix + "." + s
}

// name prefixes an unprefixed stream or bucket name.
func (n Names) name(s string) string {
	if n.prefix == "" {
		return s
	}
	return n.prefix + "_" + s
}

// Streams.

// EventsStream holds accepted events, on EventsSubjects and
// TenantEventsSubjects.
func (n Names) EventsStream() string { return n.name("HOOKD_EVENTS") }

// DeadStream holds dead-lettered deliveries, on DeadSubject.
func (n Names) DeadStream() string { return n.name("HOOKD_DEAD") }

// AttemptsStream is the delivery log: a record when a delivery is queued
// and one per attempt, on AttemptSubject, so the last message of a subject
// is the delivery's current state.
func (n Names) AttemptsStream() string { return n.name("HOOKD_ATTEMPTS") }

// LogStream is the delivery log: attempt records group-committed (see
// delivery.Committer), one message holding an endpoint's records of a
// short window as JSON lines, on LogSubject. It replaces AttemptsStream,
// which is only read until its records age out.
func (n Names) LogStream() string { return n.name("HOOKD_LOG") }

// IndexStream finds events by id: one record per event, written by the
// router, on IndexSubject (and OrderedIndexSubject for the ordered lane's).
func (n Names) IndexStream() string { return n.name("HOOKD_EVENT_INDEX") }

// EndpointStream is the name of the stream holding an endpoint's
// deliveries. Endpoint ids are restricted to characters valid in stream
// names and subject tokens.
func (n Names) EndpointStream(endpointID string) string { return n.endpointStreamPrefix() + endpointID }

func (n Names) endpointStreamPrefix() string { return n.name("HOOKD_EP_") }

// EndpointOfStream returns the endpoint id of an endpoint stream's name,
// and false for any other stream.
func (n Names) EndpointOfStream(stream string) (string, bool) {
	id, ok := strings.CutPrefix(stream, n.endpointStreamPrefix())
	return id, ok && id != ""
}

// BatchStream is the name of the stream holding a batched endpoint's
// composed batches, each an ordinary delivery from then on. Separate from
// the endpoint stream so that a batch always has room while its members
// still hold theirs (see EnsureEndpoint).
func (n Names) BatchStream(endpointID string) string { return n.batchStreamPrefix() + endpointID }

func (n Names) batchStreamPrefix() string { return n.name("HOOKD_BATCH_") }

// EndpointOfBatchStream returns the endpoint id of a batch stream's name,
// and false for any other stream.
func (n Names) EndpointOfBatchStream(stream string) (string, bool) {
	id, ok := strings.CutPrefix(stream, n.batchStreamPrefix())
	return id, ok && id != ""
}

// HeldStream holds the deliveries of endpoints served by a consumer of
// their own (see EndpointConsumerSpecs): on HeldSubject and OrderedSubject,
// one subject per endpoint (and lane), never a stream per endpoint, so an
// endpoint costs the server nothing while it has nothing queued.
func (n Names) HeldStream() string { return n.name("HOOKD_HELD") }

// QueueStream is the name of stream k of a queue split into streams
// streams (Config.QueueStreams): the queue holds the deliveries of
// endpoints served by the shard consumers every worker shares
// (EndpointLayout.Plain), on QueueSubject, one subject per endpoint under
// one of Shards shard subjects; stream k captures QueueStreamSubjects(k,
// streams). One stream (streams <= 1) is "HOOKD_QUEUE", its name before
// the queue could be split; stream k of K is "HOOKD_QUEUE_<k>_OF_<K>", so
// that no two layouts share a name and a layout can be replaced by another
// without a name being reused while the old stream still exists.
func (n Names) QueueStream(k, streams int) string {
	if streams <= 1 {
		return n.name("HOOKD_QUEUE")
	}
	return n.name("HOOKD_QUEUE_" + strconv.Itoa(k) + "_OF_" + strconv.Itoa(streams))
}

// QueueStreamSubjects are the subjects stream k of streams captures: the
// shards s with s % streams == k ("hookd.q.*.*" for a single stream).
func (n Names) QueueStreamSubjects(k, streams int) []string {
	if streams <= 1 {
		return []string{n.ShardSubjects(-1)}
	}
	var out []string
	for s := k; s < Shards; s += streams {
		out = append(out, n.ShardSubjects(s))
	}
	return out
}

// RetiredQueueSubject is the one subject of a queue stream being removed
// (its shard subjects replaced, so that nothing is published to it any
// more; see Topology.EnsureCore); "*" gives every retired stream's.
func (n Names) RetiredQueueSubject(stream string) string {
	return n.subject("hookd.qretired." + stream)
}

// QueueMoveID is the Nats-Msg-Id of the copy of a queue stream's message
// (sequence seq of stream, stored at stored) moved to its endpoint's held
// subject: whoever moves it (a worker, or a queue stream being removed), a
// second copy within the duplicate window is dropped. The stream and the
// time are part of it because each queue stream numbers its messages from
// 1, and a layout replaced twice within the window has a stream of the
// same name twice.
func QueueMoveID(stream string, seq uint64, stored time.Time) string {
	return "q." + stream + "." + strconv.FormatUint(seq, 10) + "." + strconv.FormatInt(stored.UnixNano(), 36)
}

// BatchesStream holds composed batches of every batched endpoint, on
// BatchesSubject. Separate from HeldStream so that a batch always has room
// while its members still hold theirs, and so batch ids have a duplicate
// window of their own.
func (n Names) BatchesStream() string { return n.name("HOOKD_BATCHES") }

// BenchStream is the scratch stream of `hookd bench`'s raw JetStream
// baseline, on BenchSubject; deleted after the run.
func (n Names) BenchStream() string { return n.name("HOOKD_BENCH_RAW") }

// Buckets.

// EndpointsBucket is the key-value bucket of endpoint configurations,
// keyed by endpoint id.
func (n Names) EndpointsBucket() string { return n.name("hookd_endpoints") }

// HealthBucket tracks, per endpoint, since when and how often it has
// failed without a success in between: what auto-disable decides on.
func (n Names) HealthBucket() string { return n.name("hookd_endpoint_health") }

// StatsBucket holds per-endpoint counts of attempts and rule errors, keyed
// "<endpoint>.<UTC hour, 2006010215>", with per-minute counts (see
// delivery.Counters); keys expire after StatsMaxAge.
func (n Names) StatsBucket() string { return n.name("hookd_endpoint_stats") }

// RateBucket holds each rate-limited endpoint's token bucket, shared by
// all workers.
func (n Names) RateBucket() string { return n.name("hookd_rate") }

// HeldBucket marks plain endpoints whose deliveries routers send to their
// held subject rather than the queue for a while: keyed by endpoint id,
// each key expiring unless a worker renews it (see worker/shards.go).
func (n Names) HeldBucket() string { return n.name("hookd_held") }

// RequeuedBucket holds, per delivery queued again by hand (a retry, a
// recovery), its newest queueing: keyed by delivery id, expiring with the
// delivery log's records. Workers drop an older queueing; readers of the
// log go on past a final record when a later queueing exists.
func (n Names) RequeuedBucket() string { return n.name("hookd_requeued") }

// RoutingBucket remembers, for an event whose routing failed for some
// endpoints, the endpoints it did reach, so that its retries go only to the
// others (endpoint streams forget message ids after their duplicate
// window). Keyed by lane and event sequence; entries expire after a day.
func (n Names) RoutingBucket() string { return n.name("hookd_routing") }

// TenantsBucket holds tenants, keyed by tenant id.
func (n Names) TenantsBucket() string { return n.name("hookd_tenants") }

// KeysBucket holds API keys (hashes only), keyed by key id.
func (n Names) KeysBucket() string { return n.name("hookd_keys") }

// EventTypesBucket is the event-type catalogue, keyed by type name.
func (n Names) EventTypesBucket() string { return n.name("hookd_event_types") }

// KVStream is the name of the stream JetStream keeps a key-value bucket in.
func KVStream(bucket string) string { return "KV_" + bucket }

// Event subjects: where producers publish.

// EventSubject is the subject an event of type typ is published to:
// "events.<type>" under the prefix. typ ">" gives the pattern of every
// event (EventsSubjects).
func (n Names) EventSubject(typ string) string { return n.subject(event.Subject(typ)) }

// TenantEventSubject is the subject an event of type typ addressed to a
// tenant is published to: "tenants.<tenant>.events.<type>" under the
// prefix. ">" as typ gives the pattern of a tenant's events; "*" as tenant
// and ">" as typ that of every tenant's (TenantEventsSubjects).
func (n Names) TenantEventSubject(tenant, typ string) string {
	return n.subject(event.TenantSubject(tenant, typ))
}

// EventsSubjects is what EventsStream captures for events addressed to no
// tenant in their subject: "events.>" under the prefix.
func (n Names) EventsSubjects() string { return n.EventSubject(">") }

// TenantEventsSubjects is what EventsStream captures for events addressed
// to a tenant: "tenants.*.events.>" under the prefix.
func (n Names) TenantEventsSubjects() string { return n.TenantEventSubject("*", ">") }

// Unprefixed returns a subject without the deployment's prefix: what an
// event's subject is to filters, templates and receivers (event.Event's
// Subject), the same whatever the prefix. A subject outside the prefix is
// returned as is.
func (n Names) Unprefixed(subject string) string {
	if n.prefix == "" {
		return subject
	}
	if rest, ok := strings.CutPrefix(subject, n.prefix+"."); ok {
		return rest
	}
	return subject
}

// ParseEventSubject reads the subject of a message of EventsStream, the
// prefix stripped: the tenant it addresses ("" when the subject names none:
// the Hookd-Tenant header may), the event type (see event.ParseSubject),
// and whether hookd raised it itself (an OpsSubject, whose type is
// "hookd.<name>", as ops.TypePrefix says).
func (n Names) ParseEventSubject(subject string) (tenant, typ string, raised bool) {
	if name, ok := n.OpsName(subject); ok {
		return "", "hookd." + name, true
	}
	tenant, typ = event.ParseSubject(n.Unprefixed(subject))
	return tenant, typ, false
}

// hookd's own subjects.

// HookdSubjects covers every subject hookd itself publishes to (all but
// the event subjects): "hookd.>" under the prefix.
func (n Names) HookdSubjects() string { return n.subject("hookd.>") }

// DeliverySubject is the subject a delivery for an endpoint is published to.
func (n Names) DeliverySubject(endpointID string) string {
	return n.subject("hookd.deliver." + endpointID)
}

// LaneSubject is the subject of one lane of an endpoint's deliveries;
// lane "*" gives them all.
func (n Names) LaneSubject(endpointID, lane string) string {
	return n.DeliverySubject(endpointID) + "." + lane
}

// Shards is how many shard consumers split the queue (QueueStream). Fixed:
// every process of a deployment must hash endpoints to the same shards.
const Shards = 4

// ValidQueueStreams reports whether a queue can be split into k streams:
// k must divide Shards (1, 2 or 4), so that every stream holds as many
// shards.
func ValidQueueStreams(k int) bool { return k >= 1 && k <= Shards && Shards%k == 0 }

// Shard is the shard of an endpoint (FNV-1a of its id, modulo Shards).
func Shard(endpointID string) int {
	h := uint32(2166136261)
	for i := 0; i < len(endpointID); i++ {
		h ^= uint32(endpointID[i])
		h *= 16777619
	}
	return int(h % Shards)
}

// QueueSubject is the subject of a plain endpoint's deliveries in the
// queue: "hookd.q.<shard>.<endpoint>".
func (n Names) QueueSubject(endpointID string) string {
	return n.subject("hookd.q." + strconv.Itoa(Shard(endpointID)) + "." + endpointID)
}

// ShardSubjects are the subjects of one shard of the queue; shard -1 gives
// them all.
func (n Names) ShardSubjects(shard int) string {
	if shard < 0 {
		return n.subject("hookd.q.*.*")
	}
	return n.subject("hookd.q." + strconv.Itoa(shard) + ".*")
}

// EndpointOfQueue returns the endpoint id of a QueueSubject, and false for
// any other subject.
func (n Names) EndpointOfQueue(subject string) (string, bool) {
	rest, ok := strings.CutPrefix(subject, n.subject("hookd.q."))
	if !ok {
		return "", false
	}
	_, id, ok := strings.Cut(rest, ".")
	return id, ok && id != "" && !strings.Contains(id, ".")
}

// HeldSubject is the subject of an unordered endpoint's deliveries in
// HeldStream; "*" gives every endpoint's.
func (n Names) HeldSubject(endpointID string) string { return n.subject("hookd.held." + endpointID) }

// EndpointOfHeld returns the endpoint id of a HeldSubject, and false for
// any other subject.
func (n Names) EndpointOfHeld(subject string) (string, bool) {
	id, ok := strings.CutPrefix(subject, n.HeldSubject(""))
	return id, ok && id != "" && !strings.Contains(id, ".")
}

// OrderedSubject is the subject of an ordered endpoint's deliveries in
// HeldStream: lane 0 is the endpoint's one lane when it has no ordering
// key, lanes 1..n those of its key. OrderedSubjects(endpointID) covers
// them all.
func (n Names) OrderedSubject(endpointID string, lane int) string {
	s := n.subject("hookd.ord." + endpointID)
	if lane > 0 {
		s += "." + strconv.Itoa(lane)
	}
	return s
}

// OrderedSubjects are the subjects of every ordered endpoint's lanes in
// HeldStream, for a subject filter: "hookd.ord.>".
func (n Names) OrderedSubjects() string { return n.subject("hookd.ord.>") }

// EndpointOfOrdered returns the endpoint id and lane of an
// OrderedSubject, and false for any other subject.
func (n Names) EndpointOfOrdered(subject string) (string, int, bool) {
	rest, ok := strings.CutPrefix(subject, n.subject("hookd.ord."))
	if !ok || rest == "" {
		return "", 0, false
	}
	id, laneStr, hasLane := strings.Cut(rest, ".")
	if !hasLane {
		return id, 0, id != ""
	}
	lane, err := strconv.Atoi(laneStr)
	if err != nil || lane <= 0 || id == "" {
		return "", 0, false
	}
	return id, lane, true
}

// BatchesSubject is the subject an endpoint's composed batches are
// published to, in BatchesStream; "*" gives every endpoint's.
func (n Names) BatchesSubject(endpointID string) string {
	return n.subject("hookd.batches." + endpointID)
}

// EndpointOfBatches returns the endpoint id of a BatchesSubject, and false
// for any other subject.
func (n Names) EndpointOfBatches(subject string) (string, bool) {
	id, ok := strings.CutPrefix(subject, n.BatchesSubject(""))
	return id, ok && id != "" && !strings.Contains(id, ".")
}

// WakeSubject is the core NATS subject routers ring when they queue
// deliveries for an endpoint, so that workers pull from it only while it
// has work. "*" gives every endpoint's.
func (n Names) WakeSubject(endpointID string) string { return n.subject("hookd.wake." + endpointID) }

// EndpointOfWake returns the endpoint id of a WakeSubject, and false for
// any other subject.
func (n Names) EndpointOfWake(subject string) (string, bool) {
	id, ok := strings.CutPrefix(subject, n.WakeSubject(""))
	return id, ok && id != ""
}

// BatchSubject is the subject a composed batch is published to.
func (n Names) BatchSubject(endpointID string) string { return n.subject("hookd.batch." + endpointID) }

// DeadSubject is the subject a dead-lettered delivery is published to.
func (n Names) DeadSubject(endpointID string) string { return n.subject("hookd.dead." + endpointID) }

// AttemptSubject is the subject of a delivery's log records; "*" as
// deliveryID gives every delivery of the endpoint.
func (n Names) AttemptSubject(endpointID, deliveryID string) string {
	return n.subject("hookd.attempts." + endpointID + "." + deliveryID)
}

// fingerprintEncoding spells fingerprints with the alphabet of delivery
// ids, so they can be part of one.
var fingerprintEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// FingerprintLen is the length of Fingerprint's result.
const FingerprintLen = 8

// Fingerprint is a short fixed-length hash of an endpoint id (40 bits of
// SHA-256, FingerprintLen base32 characters): the token of the
// endpoint's log subject, and the first part of its delivery ids. The
// log's subjects are as many as the endpoints, whatever the number of
// deliveries; two endpoints sharing a fingerprint share a subject, told
// apart by the records' endpoint ids.
func Fingerprint(endpointID string) string {
	sum := sha256.Sum256([]byte(endpointID))
	return fingerprintEncoding.EncodeToString(sum[:5])
}

// LogSubject is the subject of an endpoint's records in LogStream:
// "hookd.log.<fingerprint>".
func (n Names) LogSubject(endpointID string) string {
	return n.LogFingerprintSubject(Fingerprint(endpointID))
}

// LogFingerprintSubject is LogSubject of a fingerprint (as a delivery id
// holds it); "*" gives every endpoint's.
func (n Names) LogFingerprintSubject(fp string) string { return n.subject("hookd.log." + fp) }

// IndexSubjects is what IndexStream captures.
func (n Names) IndexSubjects() string { return n.subject("hookd.index.>") }

// IndexSubject is the subject of an event's index record. Event ids are
// chosen by producers (and two tenants may choose the same), so tenant and
// id are hashed into a subject token.
func (n Names) IndexSubject(tenantID, eventID string) string {
	sum := sha256.Sum256([]byte(tenantID + "\x00" + eventID))
	return n.subject("hookd.index." + hex.EncodeToString(sum[:16]))
}

// OrderedIndexSubject is the subject of the index record the ordered
// routing lane writes for an event it routed to ordered endpoints.
func (n Names) OrderedIndexSubject(tenantID, eventID string) string {
	return n.IndexSubject(tenantID, eventID) + ".ordered"
}

// OpsSubject is the subject an operational event named name (say
// "endpoint.disabled") is published to, on core NATS and into EventsStream
// at once: "hookd.ops.<name>" under the prefix. Its tenant, when not the
// default, is in the Hookd-Tenant header.
func (n Names) OpsSubject(name string) string { return n.subject("hookd.ops." + name) }

// OpsSubjects is what EventsStream captures of hookd's own operational
// events (every OpsSubject), routed as events of type "hookd.<name>".
// Only hookd's own NATS identity may publish there; an event of a "hookd."
// type on any other subject is forged (anyone allowed "events.>" can
// publish "events.hookd.endpoint.disabled"): routers never route it.
func (n Names) OpsSubjects() string { return n.OpsSubject(">") }

// OpsName returns the name of the operational event a subject carries, and
// false for a subject that is not an OpsSubject.
func (n Names) OpsName(subject string) (string, bool) {
	name, ok := strings.CutPrefix(subject, n.OpsSubject(""))
	return name, ok && name != ""
}

// BenchSubject is BenchStream's subject.
func (n Names) BenchSubject() string { return n.subject("hookd.bench.raw") }

// Consumer names: inside hookd's streams, so never prefixed.
const (
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
	// StatsConsumer is the durable consumer on AttemptsStream through
	// which the processes that count split the records.
	StatsConsumer = "hookd-stats"
)

// ShardConsumer is the durable consumer of one shard, on the queue stream
// holding the shard (Topology.ShardStream), shared by all workers.
func ShardConsumer(shard int) string { return "hookd-shard-" + strconv.Itoa(shard) }

// HeldConsumer is the durable consumer, on HeldStream, of an unordered
// endpoint's HeldSubject, shared by all workers.
func HeldConsumer(endpointID string) string { return "held-" + endpointID }

// OrderedConsumer is the durable consumer, on HeldStream, of one lane of an
// ordered endpoint (lane 0: its only lane when it has no ordering key).
func OrderedConsumer(endpointID string, lane int) string {
	// Distinct prefixes, lane number first: ids may hold '-', so no two
	// (endpoint, lane) pairs share a name.
	if lane > 0 {
		return "lane" + strconv.Itoa(lane) + "-" + endpointID
	}
	return "ord-" + endpointID
}

// BatchesConsumer is the durable consumer, on BatchesStream, of an
// endpoint's composed batches.
func BatchesConsumer(endpointID string) string { return "batches-" + endpointID }

// LaneConsumer is the durable consumer of one lane of an ordered endpoint
// with an ordering key.
func LaneConsumer(lane int) string { return WorkerConsumer + "-lane-" + strconv.Itoa(lane) }

// MaxEventSize is the largest event the events stream stores: the server's
// default 1 MiB payload limit less room for the envelope and headers a
// delivery adds, so every stored event can be routed.
const MaxEventSize = 1<<20 - 16<<10
