package hookdtest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/topology"
)

// BenchEvent is a ~200-byte event body, for benchmarks.
var BenchEvent = []byte(`{"order_id":"ord_01J9Z3K4M5N6P7Q8R9S0T1U2V3","status":"paid","amount":4299,` +
	`"currency":"EUR","customer":{"id":"cus_8f2a91","email":"ana@example.com"},` +
	`"items":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"test":false}`)

// PublishAsync publishes n copies of body to subject, waiting for
// outstanding acks whenever the client's async window is full, then for
// every ack.
func PublishAsync(tb testing.TB, js jetstream.JetStream, subject string, body []byte, n int) {
	tb.Helper()
	for i := 0; i < n; {
		_, err := js.PublishAsync(subject, body)
		switch {
		case err == nil:
			i++
		case errors.Is(err, jetstream.ErrTooManyStalledMsgs):
			<-js.PublishAsyncComplete()
		default:
			tb.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		tb.Fatal("publish acks did not arrive within a minute")
	}
}

// WaitStored waits until n deliveries wait for an endpoint (of the
// deployment with names): on its queue subject (a plain endpoint's) and
// its held subject together.
func WaitStored(tb testing.TB, js jetstream.JetStream, names topology.Names, endpointID string, n uint64) {
	tb.Helper()
	WaitFor(tb, 5*time.Minute, fmt.Sprintf("%d deliveries in %s's stream", n, endpointID), func() bool {
		var stored uint64
		// The queue stream capturing the endpoint's subject (one of
		// Config.QueueStreams).
		queue, err := js.StreamNameBySubject(context.Background(), names.QueueSubject(endpointID))
		if err != nil {
			return false
		}
		for _, at := range []struct{ stream, subject string }{
			{queue, names.QueueSubject(endpointID)},
			{names.HeldStream(), names.HeldSubject(endpointID)},
		} {
			s, err := js.Stream(context.Background(), at.stream)
			if err != nil {
				return false
			}
			info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(at.subject))
			if err != nil {
				return false
			}
			stored += info.State.Subjects[at.subject]
		}
		return stored >= n
	})
}
