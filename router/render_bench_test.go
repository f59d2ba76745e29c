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

// BenchmarkRouteInMemory measures routing's own work for one decoded
// event and one matching endpoint, without JetStream: the filters' view
// of it (filterEnv), the endpoint's match in the snapshot, and its
// delivery message in the standard format. The endpoint's filter is none,
// one on the event's type only, or one on its data: only the last needs
// the event's JSON data decoded.
//
//	go test -run '^$' -bench RouteInMemory -benchmem -count 5 ./router/
func BenchmarkRouteInMemory(b *testing.B) {
	names, err := topology.NewNames("")
	if err != nil {
		b.Fatal(err)
	}
	r := quietRouter()
	pub := publisher{names: names, log: r.log, sealer: endpoint.PlainSealer()}
	data, _ := event.Normalize(benchEvent)
	e := &event.Event{ID: "evt_01J9Z3K4M5N6P7Q8R9S0T1U2V3", Type: "order.paid", Subject: "events.order.paid",
		Time: time.Now(), Data: data, Raw: benchEvent, Seq: 12345, Tenant: "default",
		Headers: map[string]string{"Nats-Msg-Id": "evt_01J9Z3K4M5N6P7Q8R9S0T1U2V3"}}
	for _, c := range []struct{ name, filter string }{
		{"filter=none", ""},
		{"filter=type", `type == "order.paid"`},
		{"filter=data", `data.status == "paid" && data.amount > 100`},
	} {
		b.Run(c.name, func(b *testing.B) {
			snap := endpoint.NewSnapshot([]*endpoint.Compiled{compiled(b, "ep_000001", "", c.filter)})
			var ev rules.Evaluator
			b.ReportAllocs()
			for b.Loop() {
				var env rules.Env
				filterEnv(e, r.log, &env)
				targets, _ := r.match(snap, &env, &ev, false, e.Seq)
				if len(targets) != 1 {
					b.Fatalf("%d targets, want 1", len(targets))
				}
				rd := payload.Renderer{Event: e, Env: &env, Eval: &ev}
				if m := pub.deliveryMsg(e, &targets[0], &rd, deliveryHeaders(e, nil, false)); len(m.Data) == 0 {
					b.Fatal("empty delivery")
				}
			}
		})
	}
}
