package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/rules"
	"github.com/hookd/hookd/topology"
)

// Window is a span of the events stream's history by acceptance time,
// both ends included.
type Window struct {
	Since, Until time.Time
}

// ErrStopScan, returned by a Scan callback, ends the scan without error.
var ErrStopScan = errors.New("stop scan")

// scanBatch is how many stored events one fetch asks for.
const scanBatch = 256

// Scan calls fn with every event the events stream holds that was accepted
// within w, oldest first (but forged operational events, which routers
// never route), decoded and with the filter environment routers
// give it. It reads through a short-lived ephemeral consumer that starts
// at w.Since, so it never disturbs routing, and stops at w.Until or at the
// end of the stream as it was when the scan began (events accepted while
// it runs are routed as usual). fn returning ErrStopScan ends the scan
// early; any other error ends it and is returned.
func Scan(ctx context.Context, topo *topology.Topology, w Window, log *slog.Logger, fn func(*event.Event, *rules.Env) error) error {
	names := topo.Names()
	stream, err := topo.JetStream().Stream(ctx, names.EventsStream())
	if err != nil {
		return fmt.Errorf("events stream: %w", err)
	}
	seed := stream.CachedInfo().Created
	since := w.Since.UTC()
	cons, err := stream.CreateConsumer(ctx, jetstream.ConsumerConfig{
		DeliverPolicy:     jetstream.DeliverByStartTimePolicy,
		OptStartTime:      &since,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: time.Minute,
		MemoryStorage:     true,
	})
	if err != nil {
		return fmt.Errorf("history consumer: %w", err)
	}
	defer func() {
		_ = stream.DeleteConsumer(context.WithoutCancel(ctx), cons.CachedInfo().Name)
	}()
	remaining := cons.CachedInfo().NumPending
	for remaining > 0 {
		// Each fetch waits at most 5 s: a scan ends that soon after its
		// caller goes away.
		if err := ctx.Err(); err != nil {
			return err
		}
		batch, err := cons.Fetch(int(min(remaining, scanBatch)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return fmt.Errorf("history fetch: %w", err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			remaining--
			e, meta, err := decode(m, names, seed, log)
			if err != nil {
				return err
			}
			// The window is of acceptance times, as the consumer's start:
			// not e.Time, which a CloudEvent's own time may set.
			if meta.Timestamp.After(w.Until) {
				return nil
			}
			if forged(names, m.Subject(), e) {
				continue // never routed, so never matched or backfilled
			}
			var env rules.Env
			filterEnv(e, log, &env)
			if err := fn(e, &env); errors.Is(err, ErrStopScan) {
				return nil
			} else if err != nil {
				return err
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return fmt.Errorf("history fetch: %w", err)
		}
		if got == 0 {
			// Events that left the stream meanwhile (age limit) are not
			// coming: the count taken at the start overestimated.
			return ctx.Err()
		}
	}
	return nil
}
