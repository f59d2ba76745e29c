package delivery_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hookd/hookd/delivery"
)

// A read of the log whose consumer goes away in the middle (its server
// stopped, or it was deleted) goes on with a new one from the last
// message read: every message passed once, in order.
func TestLogReadGoesOnWhenItsConsumerIsGone(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	const ep, n = "ep_read", 2500 // more than two pulls of 1,000
	for i := range n {
		a := delivery.Attempt{DeliveryID: fmt.Sprintf("dlv_r%04d", i), EndpointID: ep, Number: 1, Time: time.Now().UTC(), Outcome: delivery.OutcomeSucceeded}
		if _, err := delivery.AppendRecord(ctx, s.js, s.topo.Names(), a); err != nil {
			t.Fatal(err)
		}
	}
	var seqs []uint64
	deleted := 0
	err := s.log.Follow(ctx, ep, time.Time{}, 0, func(a delivery.Attempt, seq uint64) bool {
		seqs = append(seqs, seq)
		if len(seqs) == 1200 || len(seqs) == 2100 {
			// Mid-pull: the read's consumer goes away.
			names := s.raw.ConsumerNames(ctx)
			for name := range names.Name() {
				if err := s.raw.DeleteConsumer(ctx, name); err != nil {
					t.Errorf("delete %s: %v", name, err)
				}
				deleted++
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("read with its consumer gone: %v", err)
	}
	if deleted < 2 {
		t.Fatalf("%d consumers deleted during the read, want 2", deleted)
	}
	if len(seqs) != n {
		t.Fatalf("%d messages read, want %d", len(seqs), n)
	}
	for i, seq := range seqs {
		if seq != uint64(i+1) {
			t.Fatalf("message %d read as sequence %d: skipped or repeated", i, seq)
		}
	}
}
