package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/internal/kvjson"
	"github.com/hookd/hookd/topology"
)

// Counters keeps per-endpoint counts of attempts (by outcome) and of rule
// errors, so that an endpoint's stats read a handful of keys instead of
// scanning its delivery log: each process adds up what it sees in memory
// and flushes it every FlushInterval into the stats bucket
// (topology.StatsBucket), one key per endpoint and hour holding
// per-minute counts, merged with compare-and-set because every process
// flushes into the same keys. Keys expire with the bucket's TTL, a day
// more than the longest stats window.
//
// Attempts are counted from the delivery log itself (see
// CountersConfig.Attempts), so every writer of the log is counted as the
// log scan counted it; rule errors are counted by whoever calls
// RecordRuleError (the router). Counts appear in reads from other
// processes within about FlushInterval; in this process at once.
//
// Counting began when the first counters ran (CountingSince): attempts
// logged before that (by a hookd that had no counters yet) are not
// counted. A process that crashes loses what it had not flushed yet, at
// most FlushInterval's worth, and a write whose acknowledgement is lost
// (2 s without one: a server refusing writes, or one that slow) is made
// again, which may count it twice: the counts are a health view, the
// delivery log stays the record.
type Counters struct {
	cfg    CountersConfig
	bucket kvjson.Bucket[hourCounts]
	log    *slog.Logger

	mu      sync.Mutex
	pending map[string]*hourCounts // key -> not flushed yet
	// since caches CountingSince once sinceKnown.
	since      time.Time
	sinceKnown bool
}

// CountersConfig configures Counters.
type CountersConfig struct {
	// KV is the stats bucket (topology.Topology.Stats). Required.
	KV jetstream.KeyValue
	// Log is the delivery log (topology.Names.LogStream). Required.
	Log jetstream.Stream
	// CountAttempts makes Run count the log's records, through a consumer
	// shared by every process that does (each record is counted by one).
	// Optional: without it Run only flushes what RecordAttempt and
	// RecordRuleError add (a router, an API reading stats).
	CountAttempts bool
	// FlushInterval is how often counts are written out. Optional:
	// default 3s.
	FlushInterval time.Duration
	// Logger receives flush failures. Optional: default slog.Default().
	Logger *slog.Logger
}

// DefaultCountersFlush is the default CountersConfig.FlushInterval.
const DefaultCountersFlush = 3 * time.Second

func (c *CountersConfig) setDefaults() {
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultCountersFlush
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports a configuration Counters cannot run with.
func (c CountersConfig) Validate() error {
	if c.KV == nil || c.Log == nil {
		return errors.New("delivery: counters need the stats bucket and the delivery log")
	}
	if c.FlushInterval < 0 {
		return fmt.Errorf("delivery: counters flush interval %s is negative", c.FlushInterval)
	}
	return nil
}

// NewCounters returns Counters over cfg.KV; Run flushes them.
func NewCounters(cfg CountersConfig) (*Counters, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Counters{cfg: cfg, bucket: kvjson.Bucket[hourCounts]{KV: cfg.KV, Kind: "endpoint stats"},
		log: cfg.Logger.With("component", "counters"), pending: map[string]*hourCounts{}}, nil
}

// Slots of minuteCounts.
const (
	slotSucceeded = iota
	slotFailed
	slotDead
	slotRuleErrors
	numSlots
)

// minuteCounts are one minute's counts, by slot.
type minuteCounts [numSlots]int64

// hourCounts is the value of one endpoint's key for one hour.
type hourCounts struct {
	// Minutes maps the minute of the hour (0-59) to its counts.
	Minutes map[int]*minuteCounts `json:"m"`
	// LastSuccess is the newest successful attempt of the hour.
	LastSuccess time.Time `json:"last_success,omitzero"`
	// LastFailure is the newest failed attempt of the hour.
	LastFailure *Attempt `json:"last_failure,omitempty"`
}

func (h *hourCounts) add(minute, slot int, n int64) {
	if h.Minutes == nil {
		h.Minutes = map[int]*minuteCounts{}
	}
	m := h.Minutes[minute]
	if m == nil {
		m = &minuteCounts{}
		h.Minutes[minute] = m
	}
	m[slot] += n
}

// merge adds o into h.
func (h *hourCounts) merge(o *hourCounts) {
	for minute, m := range o.Minutes {
		for slot, n := range m {
			if n != 0 {
				h.add(minute, slot, n)
			}
		}
	}
	if o.LastSuccess.After(h.LastSuccess) {
		h.LastSuccess = o.LastSuccess
	}
	if o.LastFailure != nil && (h.LastFailure == nil || !o.LastFailure.Time.Before(h.LastFailure.Time)) {
		h.LastFailure = o.LastFailure
	}
}

// hourLayout names an hour in keys: UTC, sortable.
const hourLayout = "2006010215"

// statsKey is the key of an endpoint's counts of the hour holding t.
func statsKey(endpointID string, t time.Time) string {
	return endpointID + "." + t.UTC().Format(hourLayout)
}

// sinceKey holds when counting began; "_" keeps it apart from endpoint
// ids, which start with "ep_".
const sinceKey = "_counting_since"

// RecordAttempt counts an attempt record of the delivery log: succeeded,
// retrying and dead outcomes are attempts; pending and batched records
// are not. Counted by Run when CountersConfig.Attempts is set; exported
// for counting records that do not reach the log.
func (c *Counters) RecordAttempt(a Attempt) {
	var slot int
	switch a.Outcome {
	case OutcomeSucceeded:
		slot = slotSucceeded
	case OutcomeRetrying, OutcomeDead:
		slot = slotFailed
	default:
		return
	}
	if a.Time.IsZero() {
		a.Time = time.Now().UTC()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.pendingFor(a.EndpointID, a.Time)
	h.add(a.Time.UTC().Minute(), slot, 1)
	switch {
	case a.Outcome == OutcomeSucceeded:
		if a.Time.After(h.LastSuccess) {
			h.LastSuccess = a.Time
		}
	case h.LastFailure == nil || !a.Time.Before(h.LastFailure.Time):
		// What stats show of a failure, not its response body.
		h.LastFailure = &Attempt{Time: a.Time, DeliveryID: a.DeliveryID, EventType: a.EventType, Number: a.Number,
			StatusCode: a.StatusCode, Error: a.Error}
	}
	if a.Outcome == OutcomeDead {
		h.add(a.Time.UTC().Minute(), slotDead, 1)
	}
}

// RecordRuleError counts a rule (filter, key, transform or template) of
// the endpoint that failed at run time now, whatever its kind (the stats
// count them together; the metrics split them). Safe for concurrent use,
// and cheap: a map update under a lock. It implements
// router.RuleErrorRecorder.
func (c *Counters) RecordRuleError(endpointID, _ string) {
	now := time.Now().UTC()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pendingFor(endpointID, now).add(now.Minute(), slotRuleErrors, 1)
}

// pendingFor returns the unflushed counts of the endpoint's hour holding
// t; c.mu must be held.
func (c *Counters) pendingFor(endpointID string, t time.Time) *hourCounts {
	key := statsKey(endpointID, t)
	h := c.pending[key]
	if h == nil {
		h = &hourCounts{}
		c.pending[key] = h
	}
	return h
}

// Run flushes the counts every FlushInterval until ctx is done, and once
// more then; with CountersConfig.Attempts set, it counts the delivery log
// meanwhile (see CountersConfig.CountAttempts). It returns nil when ctx
// ends.
func (c *Counters) Run(ctx context.Context) error {
	if _, err := c.CountingSince(ctx); err != nil {
		c.log.Warn("counting start not read", "err", err)
	}
	var cc jetstream.ConsumeContext
	if c.cfg.CountAttempts {
		var err error
		if cc, err = c.follow(ctx); err != nil {
			return err
		}
	}
	t := time.NewTicker(c.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if cc != nil {
				// The records already received are counted before the
				// last flush.
				cc.Drain()
				select {
				case <-cc.Closed():
				case <-time.After(time.Second):
				}
			}
			flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			c.Flush(flushCtx)
			return nil
		case <-t.C:
			// A flush that cannot finish in an interval (storage refusing
			// writes never acknowledges them) leaves the rest for the next.
			flushCtx, cancel := context.WithTimeout(ctx, c.cfg.FlushInterval)
			c.Flush(flushCtx)
			cancel()
		}
	}
}

// follow counts every record appended to the delivery log from now on,
// through the durable consumer shared by every process that counts. A
// record is counted once: the consumer does not wait for acknowledgements,
// so a process that dies loses the records it had received (at most a
// flush interval's worth) rather than counting them twice.
func (c *Counters) follow(ctx context.Context) (jetstream.ConsumeContext, error) {
	cons, err := c.cfg.Log.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       topology.StatsConsumer,
		Description:   "hookd: counts attempts into the endpoint stats bucket",
		DeliverPolicy: jetstream.DeliverNewPolicy,
		AckPolicy:     jetstream.AckNonePolicy,
		// Counts cover a week: a consumer left unused for longer (no
		// worker ran) starts again from new records.
		InactiveThreshold: 7 * 24 * time.Hour,
	})
	if err != nil {
		return nil, fmt.Errorf("delivery: counting consumer: %w", err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		DecodeRecords(m.Data(), func(a Attempt) {
			if a.EndpointID == "" {
				// Records of the legacy attempts stream name their
				// endpoint in their subject too.
				a.EndpointID = endpointOfSubject(m.Subject())
			}
			c.RecordAttempt(a)
		})
	}, append(topology.ConsumeOptions(1000), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		c.log.Debug("counting consume", "err", err)
	}))...)
	if err != nil {
		return nil, fmt.Errorf("delivery: counting: %w", err)
	}
	return cc, nil
}

// endpointOfSubject reads the endpoint id of an attempt subject,
// "hookd.attempts.<endpoint>.<delivery>".
func endpointOfSubject(subject string) string {
	parts := strings.Split(subject, ".")
	if len(parts) < 4 {
		return ""
	}
	return parts[len(parts)-2]
}

// keyFlushTimeout bounds the writes of one key: a working server answers
// in milliseconds; a store refusing writes never does (the counts are
// kept for the next flush then).
const keyFlushTimeout = 2 * time.Second

// maxFlushTries bounds compare-and-set retries of one key per flush:
// several processes flushing the same key at once each win in turn.
const maxFlushTries = 10

// Flush writes out the counts gathered since the last flush, until ctx
// ends. Counts that could not be written (storage full, say, or ctx
// ended) are kept for the next flush.
func (c *Counters) Flush(ctx context.Context) {
	c.mu.Lock()
	batch := c.pending
	c.pending = map[string]*hourCounts{}
	c.mu.Unlock()
	var failed int
	var lastErr error
	for key, delta := range batch {
		// ctx ends the flush between keys, never in the middle of one: a
		// write cut short may have been stored, and counting it again
		// would count twice.
		err := ctx.Err()
		if err == nil {
			kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), keyFlushTimeout)
			err = c.flushKey(kctx, key, delta)
			cancel()
		}
		if err != nil {
			failed++
			lastErr = err
			c.mu.Lock()
			if h := c.pending[key]; h != nil {
				delta.merge(h)
			}
			c.pending[key] = delta
			c.mu.Unlock()
		}
	}
	if failed > 0 {
		c.log.Warn("endpoint stats not flushed, kept for the next flush", "keys", failed, "err", lastErr)
	}
}

func (c *Counters) flushKey(ctx context.Context, key string, delta *hourCounts) error {
	var err error
	for range maxFlushTries {
		cur, rev, gerr := c.bucket.Get(ctx, key)
		switch {
		case errors.Is(gerr, kvjson.ErrNotFound):
			cur, rev = &hourCounts{}, 0
		case gerr != nil:
			return gerr
		}
		cur.merge(delta)
		err = c.bucket.Put(ctx, key, cur, rev)
		if !errors.Is(err, kvjson.ErrConflict) && !errors.Is(err, kvjson.ErrExists) {
			return err
		}
	}
	return err
}

// CountingSince returns when counting began, when the delivery log
// already held records then (a hookd upgraded to counters); the zero time
// when it was empty: everything was counted. The first call in a
// deployment records it.
func (c *Counters) CountingSince(ctx context.Context) (time.Time, error) {
	c.mu.Lock()
	since, known := c.since, c.sinceKnown
	c.mu.Unlock()
	if known {
		return since, nil
	}
	info, err := c.cfg.Log.Info(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("delivery: counting start: %w", err)
	}
	now := time.Time{}
	if info.State.Msgs > 0 {
		now = time.Now().UTC().Truncate(time.Second)
	}
	_, err = c.cfg.KV.Create(ctx, sinceKey, []byte(now.Format(time.RFC3339)))
	if err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return time.Time{}, fmt.Errorf("delivery: counting start: %w", err)
	}
	if err == nil {
		since = now
	} else {
		entry, err := c.cfg.KV.Get(ctx, sinceKey)
		if err != nil {
			return time.Time{}, fmt.Errorf("delivery: counting start: %w", err)
		}
		if since, err = time.Parse(time.RFC3339, string(entry.Value())); err != nil {
			return time.Time{}, fmt.Errorf("delivery: counting start %q: %w", entry.Value(), err)
		}
	}
	c.mu.Lock()
	c.since, c.sinceKnown = since, true
	c.mu.Unlock()
	return since, nil
}

// Stats sums up an endpoint's counts since the given time, to the minute
// (the minute holding since is counted whole), as Log.Stats does from the
// log: one read of the endpoint's keys, at most one per hour of the
// window, whatever the number of attempts. Counts this process has not
// flushed yet are included.
func (c *Counters) Stats(ctx context.Context, endpointID string, since time.Time) (Stats, error) {
	since = since.UTC()
	from := since.Truncate(time.Minute)
	fromHour := from.Truncate(time.Hour)
	var hours []*hourCounts
	var starts []time.Time
	keep := func(key string, h *hourCounts) {
		_, stamp, ok := strings.Cut(key, ".")
		start, err := time.Parse(hourLayout, stamp)
		if !ok || err != nil || start.Before(fromHour) {
			return
		}
		hours, starts = append(hours, h), append(starts, start)
	}
	w, err := c.cfg.KV.WatchFiltered(ctx, []string{endpointID + ".*"}, jetstream.IgnoreDeletes())
	if err != nil {
		return Stats{}, fmt.Errorf("delivery: stats of %s: %w", endpointID, err)
	}
	defer func() { _ = w.Stop() }()
read:
	for {
		select {
		case <-ctx.Done():
			return Stats{}, fmt.Errorf("delivery: stats of %s: %w", endpointID, ctx.Err())
		case e, ok := <-w.Updates():
			if !ok || e == nil {
				break read
			}
			var h hourCounts
			if err := json.Unmarshal(e.Value(), &h); err != nil {
				c.log.Warn("endpoint stats key not decoded", "key", e.Key(), "err", err)
				continue
			}
			keep(e.Key(), &h)
		}
	}
	c.mu.Lock()
	prefix := endpointID + "."
	for key, h := range c.pending {
		if strings.HasPrefix(key, prefix) {
			cp := &hourCounts{}
			cp.merge(h)
			keep(key, cp)
		}
	}
	c.mu.Unlock()

	var st Stats
	var sum minuteCounts
	for i, h := range hours {
		for minute, m := range h.Minutes {
			if starts[i].Add(time.Duration(minute) * time.Minute).Before(from) {
				continue
			}
			for slot, n := range m {
				sum[slot] += n
			}
		}
		if !h.LastSuccess.Before(since) && h.LastSuccess.After(st.LastSuccess) {
			st.LastSuccess = h.LastSuccess
		}
		if f := h.LastFailure; f != nil && !f.Time.Before(since) && (st.LastFailure == nil || !f.Time.Before(st.LastFailure.Time)) {
			st.LastFailure = f
		}
	}
	st.Succeeded, st.Failed, st.Dead, st.RuleErrors = int(sum[slotSucceeded]), int(sum[slotFailed]), int(sum[slotDead]), int(sum[slotRuleErrors])
	st.Attempts = st.Succeeded + st.Failed
	return st, nil
}
