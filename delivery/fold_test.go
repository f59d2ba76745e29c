package delivery_test

import (
	"context"
	"testing"
	"time"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/event"
)

// A record written late (its first write failed) may be stored after the
// records of later attempts: it never replaces them as the delivery's
// state, whether it is an earlier attempt's or a retrying record of the
// attempt a success closed.
func TestLateRecordsDoNotOverrideLaterOnes(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	const ep = "ep_late"
	now := time.Now().UTC()
	earlier := delivery.ID(&event.Event{ID: "evt_earlier", Accepted: now}, ep)
	same := delivery.ID(&event.Event{ID: "evt_same", Accepted: now}, ep)
	rec := func(id string, n int, o delivery.Outcome) delivery.Attempt {
		return delivery.Attempt{DeliveryID: id, EndpointID: ep, EventTime: now, Number: n, Time: now, Outcome: o}
	}
	for _, a := range []delivery.Attempt{
		rec(earlier, 2, delivery.OutcomeSucceeded),
		rec(earlier, 1, delivery.OutcomeRetrying), // attempt 1's, late
		rec(same, 1, delivery.OutcomeSucceeded),
		rec(same, 1, delivery.OutcomeRetrying), // numbered alike by a worker that did not know of it, late
	} {
		if _, err := delivery.AppendRecord(ctx, s.js, s.topo.Names(), a); err != nil {
			t.Fatal(err)
		}
	}
	sums, err := s.log.Summaries(ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != 2 {
		t.Fatalf("%d deliveries, want 2", len(sums))
	}
	for _, sum := range sums {
		if sum.Status() != delivery.StatusSucceeded {
			t.Errorf("%s is %s (attempt %d), want succeeded", sum.Last.DeliveryID, sum.Status(), sum.Last.Number)
		}
	}
	for _, id := range []string{earlier, same} {
		hist, err := s.log.History(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if last := hist[len(hist)-1]; last.Outcome != delivery.OutcomeSucceeded {
			t.Errorf("history of %s ends with %s attempt %d, want succeeded", id, last.Outcome, last.Number)
		}
	}
}
