package topology

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Config sets how streams are created. The zero value is usable.
type Config struct {
	// Prefix namespaces every stream, bucket and subject of this
	// deployment (see Names), so that hookd can share a NATS account with
	// other applications, or with another hookd. Every process of a
	// deployment must be given the same. Optional: default none, hookd's
	// historical names. Validate refuses what ValidatePrefix does.
	Prefix string
	// Replicas is the replica count of every stream and bucket this process
	// creates; existing ones keep theirs. Optional:
	// default 1.
	Replicas int
	// EventsMaxAge is how long accepted events are kept. Optional: default
	// 7 days.
	EventsMaxAge time.Duration
	// RecordsMaxAge is how long attempts and dead letters are kept.
	// Optional: default 30 days.
	RecordsMaxAge time.Duration
	// DuplicateWindow is how long JetStream remembers Nats-Msg-Id values.
	// Optional: default 2 minutes.
	DuplicateWindow time.Duration
	// DeliveryAckWait is how long a worker may hold a delivery before
	// JetStream redelivers it; workers heartbeat long deliveries. Optional:
	// default 60s.
	DeliveryAckWait time.Duration

	// Stream limits. The events stream and every endpoint stream refuse new
	// messages once a limit is reached (JetStream's discard-new policy)
	// rather than dropping old ones, so nothing accepted is ever lost: POST
	// /v1/events answers 503 "backpressure" with Retry-After, and routers
	// hold an event (retrying it) while an endpoint stream it goes to is
	// full. For each limit, 0 takes the default and a negative value means
	// no limit of the stream's own. The server's storage limit (for the
	// embedded server, 75% of the disk space free at its start) bounds
	// every stream anyway and is answered the same way.
	//
	// Byte limits default to none because nats-server reserves each
	// stream's MaxBytes (times its replicas) out of that storage limit when
	// the stream is created: 1 GiB per endpoint would allow only about 50
	// endpoints on a disk with 70 GB free, and a large events limit would
	// keep hookd from starting on a small disk.

	// EventsMaxMsgs bounds how many events the events stream keeps (events
	// leave it after EventsMaxAge). Optional: default 1,000,000,000.
	EventsMaxMsgs int64
	// EventsMaxBytes bounds the events stream's size in bytes. Optional:
	// default none.
	EventsMaxBytes int64
	// EndpointMaxMsgs bounds the deliveries waiting for one endpoint (a
	// disabled, failing or slow endpoint's backlog), per subject: its held
	// subject, each lane of an ordered endpoint, its batches. Optional:
	// default 1,000,000.
	EndpointMaxMsgs int64
	// DeliveriesMaxBytes bounds the size in bytes of each stream shared by
	// every endpoint's deliveries (HeldStream, BatchesStream). Optional:
	// default none.
	DeliveriesMaxBytes int64
	// IndexMaxEvents bounds the records of the event index that GET
	// /v1/events/{id} reads: one per routed event (two for an event routed
	// on both lanes), the oldest leaving first. Each has a subject of its
	// own, which costs the server about 0.12 KiB of memory for as long as
	// it is kept (BENCHMARKS.md), so without a bound the index's memory
	// grows with the traffic of EventsMaxAge. Optional: default
	// DefaultIndexMaxEvents.
	IndexMaxEvents int64
	// HeldMaxConsumers bounds the endpoint consumers on HeldStream: the
	// endpoints (and lanes) with deliveries being worked on at once. An
	// endpoint beyond it waits until one goes idle. Optional: default
	// DefaultHeldMaxConsumers, DefaultClusterHeldMaxConsumers with more
	// than one replica.
	HeldMaxConsumers int
	// QueueStreams is how many streams the queue of plain endpoints'
	// deliveries is split into (see Names.QueueStream): stream k holds the
	// shards s with s % QueueStreams == k. A divisor of Shards: 1, 2 or 4
	// (ErrInvalidQueueStreams otherwise). Every delivery of a stream goes
	// through its leader, and on a cluster each stream's leader may be a
	// different node, so with one stream a single node stores and hands
	// out every plain delivery of the cluster while the others only
	// replicate. Optional: default 1 with one replica (one node does all
	// the work anyway, and one stream costs least), Shards (4) with more
	// (the cluster places the leaders, spreading them over the nodes).
	// Only a new deployment, or one whose queue is empty at the start of a
	// process, takes it: the queue streams that exist decide otherwise
	// (see EnsureCore), so processes given different values agree.
	QueueStreams int
	// Logger receives the warning that an existing queue layout is kept
	// (see EnsureCore). Optional: default slog.Default().
	Logger *slog.Logger
}

// ErrInvalidQueueStreams reports a Config.QueueStreams that does not
// divide Shards.
var ErrInvalidQueueStreams = errors.New("queue streams must be 1, 2 or 4")

// Default stream limits (see Config).
const (
	DefaultEventsMaxMsgs   = 1_000_000_000
	DefaultEndpointMaxMsgs = 1_000_000
	DefaultIndexMaxEvents  = 1_000_000
)

func (c *Config) setDefaults() {
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.EventsMaxAge == 0 {
		c.EventsMaxAge = 7 * 24 * time.Hour
	}
	if c.RecordsMaxAge == 0 {
		c.RecordsMaxAge = 30 * 24 * time.Hour
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = 2 * time.Minute
	}
	if c.DeliveryAckWait == 0 {
		c.DeliveryAckWait = 60 * time.Second
	}
	if c.EventsMaxMsgs == 0 {
		c.EventsMaxMsgs = DefaultEventsMaxMsgs
	}
	if c.EndpointMaxMsgs == 0 {
		c.EndpointMaxMsgs = DefaultEndpointMaxMsgs
	}
	if c.IndexMaxEvents == 0 {
		c.IndexMaxEvents = DefaultIndexMaxEvents
	}
	if c.HeldMaxConsumers <= 0 {
		c.HeldMaxConsumers = DefaultHeldMaxConsumers
		if c.Replicas > 1 {
			c.HeldMaxConsumers = DefaultClusterHeldMaxConsumers
		}
	}
	if c.QueueStreams == 0 {
		c.QueueStreams = 1
		if c.Replicas > 1 {
			c.QueueStreams = Shards
		}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	for _, n := range []*int64{&c.EventsMaxMsgs, &c.EventsMaxBytes, &c.EndpointMaxMsgs, &c.DeliveriesMaxBytes, &c.IndexMaxEvents} {
		*n = noLimit(*n)
	}
}

// noLimit turns every "no limit" (0 or negative) into JetStream's -1.
func noLimit(n int64) int64 {
	if n <= 0 {
		return -1
	}
	return n
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.Replicas < 0 || c.Replicas > 5 {
		return fmt.Errorf("topology: replicas %d out of range 1..5", c.Replicas)
	}
	if err := ValidatePrefix(c.Prefix); err != nil {
		return fmt.Errorf("topology: %w", err)
	}
	if c.QueueStreams != 0 && !ValidQueueStreams(c.QueueStreams) {
		return fmt.Errorf("topology: %w, not %d", ErrInvalidQueueStreams, c.QueueStreams)
	}
	return nil
}

// JetStream error codes (nats-server's errors.json) of a message refused
// for lack of room.
const (
	errCodeAccountResources jetstream.ErrorCode = 10002 // JSAccountResourcesExceededErr
	errCodeInsufficient     jetstream.ErrorCode = 10023 // JSInsufficientResourcesErr
	errCodeMemoryResources  jetstream.ErrorCode = 10028 // JSMemoryResourcesExceededErr
	errCodeStorageResources jetstream.ErrorCode = 10047 // JSStorageResourcesExceededErr
	errCodeStoreFailed      jetstream.ErrorCode = 10077 // JSStreamStoreFailedF: the store's own error
)

// IsStreamFull reports whether err is JetStream refusing a message because
// the stream reached its MaxMsgs or MaxBytes (discard-new), or the
// account's or server's storage is exhausted: backpressure, which passes
// as consumers drain the stream (or events age out), not a broken stream.
// A message too large for the stream is not "full".
func IsStreamFull(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case errCodeAccountResources, errCodeInsufficient, errCodeMemoryResources, errCodeStorageResources:
		return true
	case errCodeStoreFailed:
		// The server's ErrMaxMsgs, ErrMaxBytes and ErrMaxMsgsPerSubject:
		// "maximum messages exceeded", "maximum bytes exceeded", "maximum
		// messages per subject exceeded".
		d := apiErr.Description
		return strings.HasPrefix(d, "maximum messages") || strings.HasPrefix(d, "maximum bytes")
	}
	return false
}

// IsStorageFull reports whether err is JetStream refusing a message
// because the server's (or the account's) storage is exhausted, rather
// than the stream's own limit: that passes only as space is freed or
// stored events age out, not as consumers drain the stream. Such errors
// are also IsStreamFull (the router holds an event either way).
func IsStorageFull(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case errCodeAccountResources, errCodeInsufficient, errCodeStorageResources:
		return true
	}
	return false
}

// Topology creates and looks up hookd's JetStream resources.
type Topology struct {
	js    jetstream.JetStream
	cfg   Config
	names Names
	// keptLayout warns once that the existing queue layout is kept.
	keptLayout sync.Once
}

// New returns a Topology over js; cfg's zero fields take their defaults.
func New(js jetstream.JetStream, cfg Config) (*Topology, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	names, err := NewNames(cfg.Prefix)
	if err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	return &Topology{js: js, cfg: cfg, names: names}, nil
}

// JetStream returns the JetStream context the topology works on.
func (t *Topology) JetStream() jetstream.JetStream { return t.js }

// Config returns the configuration with defaults applied.
func (t *Topology) Config() Config { return t.cfg }

// Names returns the names of the deployment's streams, buckets and
// subjects (Config.Prefix applied).
func (t *Topology) Names() Names { return t.names }

// EnsureCore creates or updates the events, dead-letter and attempts streams,
// the delivery streams and the buckets. It is idempotent and safe to call
// from every process at start-up. An events stream created by an earlier
// version gets the subjects it lacks (OpsSubjects). The queue streams that
// exist are kept unless they differ from Config.QueueStreams and are all
// empty (see ensureQueue).
func (t *Topology) EnsureCore(ctx context.Context) error {
	for _, sc := range t.coreStreams() {
		if err := t.ensureStream(ctx, sc); err != nil {
			return fmt.Errorf("topology: stream %s: %w", sc.Name, err)
		}
	}
	if err := t.ensureQueue(ctx); err != nil {
		return err
	}
	return t.ensureBuckets(ctx)
}

// coreStreams are the streams every hookd deployment has.
func (t *Topology) coreStreams() []jetstream.StreamConfig {
	n := t.names
	core := []jetstream.StreamConfig{{
		Name:       n.EventsStream(),
		Subjects:   []string{n.EventsSubjects(), n.TenantEventsSubjects(), n.OpsSubjects()},
		Retention:  jetstream.LimitsPolicy,
		MaxAge:     t.cfg.EventsMaxAge,
		MaxMsgs:    t.cfg.EventsMaxMsgs,
		MaxBytes:   t.cfg.EventsMaxBytes,
		Discard:    jetstream.DiscardNew,
		MaxMsgSize: MaxEventSize,
		Duplicates: t.cfg.DuplicateWindow,
		Storage:    jetstream.FileStorage,
		Replicas:   t.cfg.Replicas,
	}, {
		Name:       n.DeadStream(),
		Subjects:   []string{n.DeadSubject("*")},
		MaxAge:     t.cfg.RecordsMaxAge,
		Duplicates: t.cfg.DuplicateWindow,
		Storage:    jetstream.FileStorage,
		Replicas:   t.cfg.Replicas,
	}, {
		Name:              n.IndexStream(),
		Subjects:          []string{n.IndexSubjects()},
		MaxAge:            t.cfg.EventsMaxAge,
		MaxMsgs:           t.cfg.IndexMaxEvents, // the oldest leave first
		MaxMsgsPerSubject: 1,
		Storage:           jetstream.FileStorage,
		Replicas:          t.cfg.Replicas,
	}, {
		Name:     n.AttemptsStream(),
		Subjects: []string{n.AttemptSubject("*", "*")},
		MaxAge:   t.cfg.RecordsMaxAge,
		Storage:  jetstream.FileStorage,
		Replicas: t.cfg.Replicas,
	}, {
		Name:     n.LogStream(),
		Subjects: []string{n.LogFingerprintSubject("*")},
		MaxAge:   t.cfg.RecordsMaxAge,
		// A log message sent again after its first send's acknowledgement
		// was lost is dropped within it (delivery.Committer).
		Duplicates: t.cfg.DuplicateWindow,
		Storage:    jetstream.FileStorage,
		Replicas:   t.cfg.Replicas,
	}}
	return append(core, t.deliveryStreams()...)
}

func (t *Topology) ensureBuckets(ctx context.Context) error {
	n := t.names
	for _, bucket := range []string{n.EndpointsBucket(), n.KeysBucket(), n.TenantsBucket(), n.HealthBucket(), n.EventTypesBucket()} {
		if err := t.ensureBucket(ctx, jetstream.KeyValueConfig{
			Bucket:   bucket,
			History:  1,
			Storage:  jetstream.FileStorage,
			Replicas: t.cfg.Replicas,
		}); err != nil {
			return fmt.Errorf("topology: bucket %s: %w", bucket, err)
		}
	}
	// A held mark lasts while a worker renews it: HeldMarkTTL after the
	// endpoint stopped being busy or failing, routers send to the queue
	// again.
	if err := t.ensureBucket(ctx, jetstream.KeyValueConfig{
		Bucket: n.HeldBucket(), History: 1, TTL: HeldMarkTTL, Storage: jetstream.FileStorage, Replicas: t.cfg.Replicas,
	}); err != nil {
		return fmt.Errorf("topology: bucket %s: %w", n.HeldBucket(), err)
	}
	// Rate buckets of endpoints no longer sending are of no use: they expire.
	if err := t.ensureBucket(ctx, jetstream.KeyValueConfig{
		Bucket: n.RateBucket(), History: 1, TTL: time.Minute, Storage: jetstream.FileStorage, Replicas: t.cfg.Replicas,
	}); err != nil {
		return fmt.Errorf("topology: bucket %s: %w", n.RateBucket(), err)
	}
	// Stats windows reach a week back: older counts expire.
	if err := t.ensureBucket(ctx, jetstream.KeyValueConfig{
		Bucket: t.names.StatsBucket(), History: 1, TTL: StatsMaxAge, Storage: jetstream.FileStorage, Replicas: t.cfg.Replicas,
	}); err != nil {
		return fmt.Errorf("topology: bucket %s: %w", t.names.StatsBucket(), err)
	}
	// A manual queueing matters as long as the records it supersedes.
	if err := t.ensureBucket(ctx, jetstream.KeyValueConfig{
		Bucket: n.RequeuedBucket(), History: 1, TTL: t.cfg.RecordsMaxAge, Storage: jetstream.FileStorage, Replicas: t.cfg.Replicas,
	}); err != nil {
		return fmt.Errorf("topology: bucket %s: %w", n.RequeuedBucket(), err)
	}
	// Routing progress matters only while an event is being retried.
	if err := t.ensureBucket(ctx, jetstream.KeyValueConfig{
		Bucket: n.RoutingBucket(), History: 1, TTL: 24 * time.Hour, Storage: jetstream.FileStorage, Replicas: t.cfg.Replicas,
	}); err != nil {
		return fmt.Errorf("topology: bucket %s: %w", n.RoutingBucket(), err)
	}
	return nil
}

// Requeued returns the bucket of manual queueings (RequeuedBucket);
// EnsureCore must have run.
func (t *Topology) Requeued(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := t.js.KeyValue(ctx, t.names.RequeuedBucket())
	if err != nil {
		return nil, fmt.Errorf("topology: bucket %s: %w", t.names.RequeuedBucket(), err)
	}
	return kv, nil
}

// Routing returns the routing progress bucket; EnsureCore must have run.
func (t *Topology) Routing(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := t.js.KeyValue(ctx, t.names.RoutingBucket())
	if err != nil {
		return nil, fmt.Errorf("topology: bucket %s: %w", t.names.RoutingBucket(), err)
	}
	return kv, nil
}

// ConsumeHeartbeat is the idle heartbeat hookd's pull consumers ask for.
// A client that misses two renews its pull request: a request that no
// longer reaches a consumer leader (its server cut off, a leadership that
// moved without telling, the embedded server restarting JetStream, see
// embedded.Storage) is noticed within four seconds, where nats.go's
// default (half of a 30 s expiry) would leave deliveries waiting for half
// a minute. Not shorter: a consumer's callback blocked on purpose (a
// worker's backpressure) misses heartbeats too, and each miss pulls again.
const ConsumeHeartbeat = 2 * time.Second

// ConsumeExpiry is how long each pull request of hookd's pull consumers
// lasts before the client makes a new one. A request kept by a server
// that still heartbeats but no longer hands out messages (a leader on
// the wrong side of a partition that has not yet stepped down, or one
// that did and forgot its requests) is renewed after at most this, not
// after nats.go's default 30 s. At least twice ConsumeHeartbeat.
const ConsumeExpiry = 5 * time.Second

// ConsumeOptions are the Consume options of hookd's pull consumers:
// at most maxMessages buffered, ConsumeHeartbeat and ConsumeExpiry. nats.go
// itself pulls again after a missed heartbeat, a leadership change (the
// server's 409) and a reconnect; a consume context that stops (its
// consumer deleted) is the caller's to start again.
func ConsumeOptions(maxMessages int) []jetstream.PullConsumeOpt {
	return []jetstream.PullConsumeOpt{jetstream.PullMaxMessages(maxMessages),
		jetstream.PullHeartbeat(ConsumeHeartbeat), jetstream.PullExpiry(ConsumeExpiry)}
}

// StatsMaxAge is how long endpoint counts are kept: a day more than the
// longest stats window (7 days).
const StatsMaxAge = 8 * 24 * time.Hour

// Stats returns the endpoint stats bucket; EnsureCore must have run.
func (t *Topology) Stats(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := t.js.KeyValue(ctx, t.names.StatsBucket())
	if err != nil {
		return nil, fmt.Errorf("topology: bucket %s: %w", t.names.StatsBucket(), err)
	}
	return kv, nil
}

// Rate returns the rate-limit bucket; EnsureCore must have run.
func (t *Topology) Rate(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := t.js.KeyValue(ctx, t.names.RateBucket())
	if err != nil {
		return nil, fmt.Errorf("topology: bucket %s: %w", t.names.RateBucket(), err)
	}
	return kv, nil
}

// HeldMarkTTL is how long a plain endpoint stays marked held (routed to
// its held subject) after a worker last marked it.
const HeldMarkTTL = 30 * time.Second

// Held returns the held marks bucket; EnsureCore must have run.
func (t *Topology) Held(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := t.js.KeyValue(ctx, t.names.HeldBucket())
	if err != nil {
		return nil, fmt.Errorf("topology: bucket %s: %w", t.names.HeldBucket(), err)
	}
	return kv, nil
}

// Health returns the endpoint health bucket; EnsureCore must have run.
func (t *Topology) Health(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := t.js.KeyValue(ctx, t.names.HealthBucket())
	if err != nil {
		return nil, fmt.Errorf("topology: bucket %s: %w", t.names.HealthBucket(), err)
	}
	return kv, nil
}

// Tenants returns the tenants bucket; EnsureCore must have run.
func (t *Topology) Tenants(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := t.js.KeyValue(ctx, t.names.TenantsBucket())
	if err != nil {
		return nil, fmt.Errorf("topology: bucket %s: %w", t.names.TenantsBucket(), err)
	}
	return kv, nil
}

// Keys returns the API keys bucket; EnsureCore must have run.
func (t *Topology) Keys(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := t.js.KeyValue(ctx, t.names.KeysBucket())
	if err != nil {
		return nil, fmt.Errorf("topology: bucket %s: %w", t.names.KeysBucket(), err)
	}
	return kv, nil
}

// EventTypes returns the event-type catalogue bucket; EnsureCore must have
// run.
func (t *Topology) EventTypes(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := t.js.KeyValue(ctx, t.names.EventTypesBucket())
	if err != nil {
		return nil, fmt.Errorf("topology: bucket %s: %w", t.names.EventTypesBucket(), err)
	}
	return kv, nil
}

// Endpoints returns the endpoints bucket; EnsureCore must have run.
func (t *Topology) Endpoints(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := t.js.KeyValue(ctx, t.names.EndpointsBucket())
	if err != nil {
		return nil, fmt.Errorf("topology: bucket %s: %w", t.names.EndpointsBucket(), err)
	}
	return kv, nil
}
