package router

import (
	"fmt"
	"testing"
	"time"

	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/payload"
	"github.com/hookd/hookd/rules"
	"github.com/hookd/hookd/topology"
)

// benchEvent is hookdtest.BenchEvent, which this package's internal tests
// cannot import.
var benchEvent = []byte(`{"order_id":"ord_01J9Z3K4M5N6P7Q8R9S0T1U2V3","status":"paid","amount":4299,` +
	`"currency":"EUR","customer":{"id":"cus_8f2a91","email":"ana@example.com"},` +
	`"items":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"test":false}`)

// BenchmarkDeliveryMessages measures routing's own work for one event
// once it is decoded, without JetStream: the filters' view of it
// (filterEnv), then its delivery message to each of 1 and 10 endpoints in
// the standard format (render once, headers, payload), as publishAll
// makes them.
//
//	go test -run '^$' -bench DeliveryMessages -benchmem -count 5 ./router/
func BenchmarkDeliveryMessages(b *testing.B) {
	names, err := topology.NewNames("")
	if err != nil {
		b.Fatal(err)
	}
	r := quietRouter()
	pub := publisher{names: names, log: r.log, sealer: endpoint.PlainSealer()}
	for _, n := range []int{1, 10} {
		b.Run(fmt.Sprintf("endpoints=%d", n), func(b *testing.B) {
			targets := make([]target, n)
			for i := range targets {
				targets[i] = target{ep: compiled(b, fmt.Sprintf("ep_%026d", i), "", "")}
			}
			data, _ := event.Normalize(benchEvent)
			e := &event.Event{ID: "evt_01J9Z3K4M5N6P7Q8R9S0T1U2V3", Type: "order.paid", Subject: "events.order.paid",
				Time: time.Now(), Data: data, Raw: benchEvent, Seq: 12345, Tenant: "default",
				Headers: map[string]string{"Nats-Msg-Id": "evt_01J9Z3K4M5N6P7Q8R9S0T1U2V3"}}
			var ev rules.Evaluator
			b.ReportAllocs()
			for b.Loop() {
				var env rules.Env
				filterEnv(e, r.log, &env)
				rd := payload.Renderer{Event: e, Env: &env, Eval: &ev}
				shared := deliveryHeaders(e, nil, false)
				for i := range targets {
					if m := pub.deliveryMsg(e, &targets[i], &rd, shared); len(m.Data) == 0 {
						b.Fatal("empty delivery")
					}
				}
			}
		})
	}
}
