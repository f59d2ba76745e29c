package delivery_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/hookd/hookd/delivery"
)

// BenchmarkEndpointStats compares reading an endpoint's stats from the
// kept counters with scanning its delivery log, as GET
// /v1/endpoints/{id}/stats did, for 20,000 and 100,000 attempts in the
// window:
//
//	go test -run '^$' -bench EndpointStats -benchtime 5x ./delivery/
func BenchmarkEndpointStats(b *testing.B) {
	for _, n := range []int{20000, 100000} {
		s := newStore(b)
		c := s.counters(b, true)
		outcomes := []delivery.Outcome{delivery.OutcomeSucceeded, delivery.OutcomeSucceeded, delivery.OutcomeRetrying, delivery.OutcomeDead}
		s.logAttempts(b, "ep_bench", n, func(i int) delivery.Outcome { return outcomes[i%len(outcomes)] })
		since := time.Now().Add(-24 * time.Hour)
		waitFor(b, 2*time.Minute, "attempts counted", func() bool {
			st, err := c.Stats(context.Background(), "ep_bench", since)
			return err == nil && st.Attempts == n
		})
		c.Flush(context.Background())
		reader := s.counters(b, false) // an API process: nothing of its own
		for _, r := range []struct {
			name string
			read func() (delivery.Stats, error)
		}{
			{"scan", func() (delivery.Stats, error) { return s.log.Stats(context.Background(), "ep_bench", since) }},
			{"counters", func() (delivery.Stats, error) { return reader.Stats(context.Background(), "ep_bench", since) }},
		} {
			name, read := r.name, r.read
			b.Run(strconv.Itoa(n)+"/"+name, func(b *testing.B) {
				for b.Loop() {
					st, err := read()
					if err != nil || st.Attempts != n {
						b.Fatalf("%d attempts, %v; want %d", st.Attempts, err, n)
					}
				}
			})
		}
	}
}
