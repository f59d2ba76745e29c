package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/hookdtest"
)

// BenchmarkStoredMessagesPerDelivery counts the messages hookd stores per
// delivery on the happy path (one endpoint that answers 200): the sum of
// every stream's last sequence over the deliveries, work-queue removals
// not counted. With and without the fast path. Run it with a fixed count:
//
//	go test -run '^$' -bench StoredMessagesPerDelivery -benchtime 500x ./app/
func BenchmarkStoredMessagesPerDelivery(b *testing.B) {
	for _, bc := range []struct {
		name   string
		direct bool
	}{{"queued", false}, {"direct", true}} {
		b.Run(bc.name, func(b *testing.B) {
			rc := hookdtest.NewReceiver(b)
			cfg := directConfig()
			if !bc.direct {
				cfg.Worker.DirectTimeout = -1
			}
			h := hookdtest.Start(b, cfg)
			ep := h.CreateEndpoint(b, map[string]any{"url": rc.URL})
			h.PublishEvent(b, "job.warm", nil)
			hookdtest.WaitFor(b, 10*time.Second, "the warm-up delivery", func() bool { return rc.Count() == 1 })
			stored := func() (n uint64) {
				for s := range h.App.JetStream().ListStreams(context.Background()).Info() {
					n += s.State.LastSeq
				}
				return n
			}
			before := stored()
			b.ResetTimer()
			for range b.N {
				h.PublishEvent(b, "job.finished", nil)
			}
			hookdtest.WaitFor(b, time.Minute, "every delivery", func() bool { return rc.Count() == b.N+1 })
			h.WaitIdle(b, ep.ID)
			hookdtest.WaitFor(b, time.Minute, "every record", func() bool { return len(h.Attempts(b, ep.ID)) == b.N+1 })
			b.StopTimer()
			b.ReportMetric(float64(stored()-before)/float64(b.N), "msgs/delivery")
		})
	}
}
