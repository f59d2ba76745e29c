package app_test

import (
	"encoding/json"
	"testing"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/internal/hookdtest"
)

// BenchmarkRoutingLane measures routing throughput into one endpoint's
// stream: through the ordered lane (one event at a time across routers)
// against the parallel lane as the same-run baseline. Routers only: no
// worker drains the stream, so the figure is routing alone.
//
//	go test -run '^$' -bench RoutingLane -benchtime 5000x -count 3 ./app/
func BenchmarkRoutingLane(b *testing.B) {
	for _, lane := range []struct{ name, ordering string }{{"parallel", "none"}, {"ordered", "ordered"}} {
		b.Run(lane.name, func(b *testing.B) {
			h := hookdtest.Start(b, app.Config{NoWorker: true})
			ep := h.CreateEndpoint(b, map[string]any{"url": "http://127.0.0.1:9/", "ordering": lane.ordering})
			js := h.App.JetStream()
			body, _ := json.Marshal(map[string]any{"order_id": 42, "status": "paid"})
			b.ResetTimer()
			for range b.N {
				if _, err := js.PublishAsync(event.Subject("order.paid"), body); err != nil {
					b.Fatal(err)
				}
			}
			<-js.PublishAsyncComplete()
			hookdtest.WaitStored(b, js, h.App.Names(), ep.ID, uint64(b.N))
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
