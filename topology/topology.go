package topology

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Config sets how streams are created. The zero value is usable.
type Config struct {
	// Replicas is the replica count of every stream and bucket. Optional:
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
}

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
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.Replicas < 0 || c.Replicas > 5 {
		return fmt.Errorf("topology: replicas %d out of range 1..5", c.Replicas)
	}
	return nil
}

// Topology creates and looks up hookd's JetStream resources.
type Topology struct {
	js  jetstream.JetStream
	cfg Config
}

// New returns a Topology over js; cfg's zero fields take their defaults.
func New(js jetstream.JetStream, cfg Config) (*Topology, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Topology{js: js, cfg: cfg}, nil
}

// JetStream returns the JetStream context the topology works on.
func (t *Topology) JetStream() jetstream.JetStream { return t.js }

// Config returns the configuration with defaults applied.
func (t *Topology) Config() Config { return t.cfg }

// EnsureCore creates or updates the events, dead-letter and attempts streams
// and the endpoints bucket. It is idempotent and safe to call from every
// process at start-up.
func (t *Topology) EnsureCore(ctx context.Context) error {
	for _, sc := range t.coreStreams() {
		if err := t.ensureStream(ctx, sc); err != nil {
			return fmt.Errorf("topology: stream %s: %w", sc.Name, err)
		}
	}
	return t.ensureBuckets(ctx)
}

// coreStreams are the streams every hookd deployment has.
func (t *Topology) coreStreams() []jetstream.StreamConfig {
	return []jetstream.StreamConfig{{
		Name:       EventsStream,
		Subjects:   []string{EventsSubjects, TenantEventsSubjects},
		Retention:  jetstream.LimitsPolicy,
		MaxAge:     t.cfg.EventsMaxAge,
		MaxMsgSize: MaxEventSize,
		Duplicates: t.cfg.DuplicateWindow,
		Storage:    jetstream.FileStorage,
		Replicas:   t.cfg.Replicas,
	}, {
		Name:       DeadStream,
		Subjects:   []string{DeadSubject("*")},
		MaxAge:     t.cfg.RecordsMaxAge,
		Duplicates: t.cfg.DuplicateWindow,
		Storage:    jetstream.FileStorage,
		Replicas:   t.cfg.Replicas,
	}, {
		Name:              IndexStream,
		Subjects:          []string{"hookd.index.>"},
		MaxAge:            t.cfg.EventsMaxAge,
		MaxMsgsPerSubject: 1,
		Storage:           jetstream.FileStorage,
		Replicas:          t.cfg.Replicas,
	}, {
		Name:     AttemptsStream,
		Subjects: []string{AttemptSubject("*", "*")},
		MaxAge:   t.cfg.RecordsMaxAge,
		Storage:  jetstream.FileStorage,
		Replicas: t.cfg.Replicas,
	}}
}

func (t *Topology) ensureBuckets(ctx context.Context) error {
	for _, bucket := range []string{EndpointsBucket, KeysBucket, TenantsBucket, HealthBucket} {
		if err := t.ensureBucket(ctx, jetstream.KeyValueConfig{
			Bucket:   bucket,
			History:  1,
			Storage:  jetstream.FileStorage,
			Replicas: t.cfg.Replicas,
		}); err != nil {
			return fmt.Errorf("topology: bucket %s: %w", bucket, err)
		}
	}
	// Rate buckets of endpoints no longer sending are of no use: they expire.
	if err := t.ensureBucket(ctx, jetstream.KeyValueConfig{
		Bucket: RateBucket, History: 1, TTL: time.Minute, Storage: jetstream.FileStorage, Replicas: t.cfg.Replicas,
	}); err != nil {
		return fmt.Errorf("topology: bucket %s: %w", RateBucket, err)
	}
	return nil
}

// Rate returns the rate-limit bucket; EnsureCore must have run.
func (t *Topology) Rate(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := t.js.KeyValue(ctx, RateBucket)
	if err != nil {
		return nil, fmt.Errorf("topology: bucket %s: %w", RateBucket, err)
	}
	return kv, nil
}

// Health returns the endpoint health bucket; EnsureCore must have run.
func (t *Topology) Health(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := t.js.KeyValue(ctx, HealthBucket)
	if err != nil {
		return nil, fmt.Errorf("topology: bucket %s: %w", HealthBucket, err)
	}
	return kv, nil
}

// Tenants returns the tenants bucket; EnsureCore must have run.
func (t *Topology) Tenants(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := t.js.KeyValue(ctx, TenantsBucket)
	if err != nil {
		return nil, fmt.Errorf("topology: bucket %s: %w", TenantsBucket, err)
	}
	return kv, nil
}

// Keys returns the API keys bucket; EnsureCore must have run.
func (t *Topology) Keys(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := t.js.KeyValue(ctx, KeysBucket)
	if err != nil {
		return nil, fmt.Errorf("topology: bucket %s: %w", KeysBucket, err)
	}
	return kv, nil
}

// Endpoints returns the endpoints bucket; EnsureCore must have run.
func (t *Topology) Endpoints(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := t.js.KeyValue(ctx, EndpointsBucket)
	if err != nil {
		return nil, fmt.Errorf("topology: bucket %s: %w", EndpointsBucket, err)
	}
	return kv, nil
}
