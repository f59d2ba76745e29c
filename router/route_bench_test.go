package router_test

import (
	"fmt"
	"testing"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/internal/hookdtest"
)

// BenchmarkRoutePerEvent measures the end-to-end routing cost of one event
// on a real embedded JetStream: b.N events published async to
// events.order.paid, timed until every matching endpoint's stream holds b.N
// deliveries. Routers only (NoWorker), so nothing drains the streams.
// Variants: 1 and 10 endpoints matching every event. allocs/op counts the
// whole process (embedded nats-server included) per event.
//
//	go test -run '^$' -bench RoutePerEvent -benchtime 3000x -count 2 ./router/
func BenchmarkRoutePerEvent(b *testing.B) {
	for _, n := range []int{1, 10} {
		b.Run(fmt.Sprintf("endpoints=%d", n), func(b *testing.B) {
			h := hookdtest.Start(b, app.Config{NoWorker: true})
			ids := make([]string, n)
			for i := range ids {
				ids[i] = h.CreateEndpoint(b, map[string]any{"url": "http://127.0.0.1:9/", "events": []string{"order.*"}}).ID
			}
			js := h.App.JetStream()
			b.ReportAllocs()
			b.ResetTimer()
			hookdtest.PublishAsync(b, js, event.Subject("order.paid"), hookdtest.BenchEvent, b.N)
			for _, id := range ids {
				hookdtest.WaitStored(b, js, h.App.Names(), id, uint64(b.N))
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
