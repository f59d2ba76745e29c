package event_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/hookd/hookd/event"
)

// smallEvent is a ~200-byte event body, the kind producers typically send.
var smallEvent = []byte(`{"order_id":"ord_01J9Z3K4M5N6P7Q8R9S0T1U2V3","status":"paid","amount":4299,` +
	`"currency":"EUR","customer":{"id":"cus_8f2a91","email":"ana@example.com"},` +
	`"items":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"test":false}`)

// BenchmarkDecodeData measures what the router does with every event body
// before matching: event.NormalizeData (json.Valid) and json.Unmarshal of
// the data into an any (rules.Env.Data).
//
//	go test -run '^$' -bench DecodeData -benchmem -count 3 ./event/
func BenchmarkDecodeData(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(smallEvent)))
	for b.Loop() {
		data := event.NormalizeData(smallEvent)
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNormalizeData measures event.NormalizeData alone (a JSON body
// is validated and kept as is).
//
//	go test -run '^$' -bench NormalizeData -benchmem -count 3 ./event/
func BenchmarkNormalizeData(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(smallEvent)))
	for b.Loop() {
		if len(event.NormalizeData(smallEvent)) == 0 {
			b.Fatal("empty")
		}
	}
}

// BenchmarkEnvelope measures rendering the body an endpoint receives,
// once per routed event.
//
//	go test -run '^$' -bench Envelope -benchmem -count 3 ./event/
func BenchmarkEnvelope(b *testing.B) {
	e := &event.Event{
		ID:      "evt_01J9Z3K4M5N6P7Q8R9S0T1U2V3",
		Type:    "order.paid",
		Subject: event.Subject("order.paid"),
		Time:    time.Date(2026, 11, 27, 10, 11, 12, 123456789, time.UTC),
		Data:    event.NormalizeData(smallEvent),
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(smallEvent)))
	for b.Loop() {
		if len(e.Envelope()) == 0 {
			b.Fatal("empty")
		}
	}
}
