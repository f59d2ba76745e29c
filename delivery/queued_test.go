package delivery_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hookd/hookd/delivery"
)

// A delivery waiting in its stream (pending, no log record) is read by
// direct gets; when no server answers them ("no responders": replicas
// stop answering direct gets while they are not current, after a heal or
// a restart), the backlog is read from the stream's leader instead, and
// the answer is the same.
func TestQueuedReadsFromTheLeaderWhenDirectGetsAreUnanswered(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	const ep = "ep_waiting"
	names := s.topo.Names()
	const waiting = 300 // more than one batch of direct gets
	for i := range waiting {
		m := nats.NewMsg(names.HeldSubject(ep))
		m.Header.Set(delivery.HeaderDeliveryID, fmt.Sprintf("dlv_w%03d", i))
		m.Header.Set(delivery.HeaderEventID, fmt.Sprintf("evt_%03d", i))
		m.Data = []byte(`{}`)
		if _, err := s.js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	read := func() ([]string, error) {
		var ids []string
		err := delivery.Queued(ctx, s.topo, ep, time.Time{}, func(a delivery.Attempt) bool {
			if a.Time.IsZero() || a.Outcome != delivery.OutcomePending {
				t.Errorf("waiting delivery %s read as %+v", a.DeliveryID, a)
			}
			ids = append(ids, a.DeliveryID)
			return true
		})
		return ids, err
	}
	direct, err := read()
	if err != nil || len(direct) != waiting {
		t.Fatalf("by direct gets: %d deliveries, %v; want %d", len(direct), err, waiting)
	}

	// Nobody answers the held stream's direct gets any more.
	held, err := s.js.Stream(ctx, names.HeldStream())
	if err != nil {
		t.Fatal(err)
	}
	cfg := held.CachedInfo().Config
	cfg.AllowDirect = false
	if _, err := s.js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	fallback, err := read()
	if err != nil {
		t.Fatalf("with direct gets unanswered: %v", err)
	}
	if fmt.Sprint(fallback) != fmt.Sprint(direct) {
		t.Fatalf("from the leader: %d deliveries %v..., want the %d read by direct gets", len(fallback), fallback[:min(3, len(fallback))], len(direct))
	}
	// From a time on, too.
	n := 0
	if err := delivery.Queued(ctx, s.topo, ep, time.Now().Add(-time.Minute), func(delivery.Attempt) bool { n++; return n < 10 }); err != nil || n != 10 {
		t.Fatalf("from a minute ago, stopping at 10: %d, %v", n, err)
	}
}
