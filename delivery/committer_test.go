package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/delivery"
)

// logRecords reads every message of the log stream: its records by
// message sequence.
func logRecords(t testing.TB, s *store) map[uint64][]delivery.Attempt {
	t.Helper()
	ctx := context.Background()
	stream, err := s.js.Stream(ctx, s.topo.Names().LogStream())
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint64][]delivery.Attempt{}
	for seq := info.State.FirstSeq; seq > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := stream.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		delivery.DecodeRecords(m.Data, func(a delivery.Attempt) {
			if m.Subject != s.topo.Names().LogSubject(a.EndpointID) {
				t.Errorf("record of %s on %s", a.EndpointID, m.Subject)
			}
			out[seq] = append(out[seq], a)
		})
	}
	return out
}

// Records added together are written together: one message per endpoint
// and window, at most Max records each, every record acknowledged with
// its message's sequence; Close writes what waits and refuses the rest.
func TestCommitterGroupsRecordsByEndpoint(t *testing.T) {
	s := newStore(t)
	c, err := delivery.NewCommitter(delivery.CommitterConfig{JetStream: s.js, Names: s.topo.Names(), Wait: 50 * time.Millisecond, Max: 8, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	type added struct {
		a delivery.Attempt
		c *delivery.Commit
	}
	var all []added
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 6 { // 6 records of 3 endpoints, within one window
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := delivery.Attempt{DeliveryID: fmt.Sprintf("dlv_%d", i), EndpointID: fmt.Sprintf("ep_%d", i%3), Number: 1, Outcome: delivery.OutcomeSucceeded}
			cm := c.Add(a)
			mu.Lock()
			all = append(all, added{a, cm})
			mu.Unlock()
		}()
	}
	wg.Wait()
	seqOf := map[string]uint64{}
	for _, x := range all {
		seq, err := x.c.Wait(ctx)
		if err != nil || seq == 0 {
			t.Fatalf("commit of %s: %d %v", x.a.DeliveryID, seq, err)
		}
		seqOf[x.a.DeliveryID] = seq
	}
	msgs := logRecords(t, s)
	if len(msgs) != 3 {
		t.Fatalf("6 records of 3 endpoints in one window made %d messages, want 3: %v", len(msgs), msgs)
	}
	for seq, recs := range msgs {
		if len(recs) != 2 || recs[0].EndpointID != recs[1].EndpointID {
			t.Errorf("message %d holds %v, want the 2 records of one endpoint", seq, recs)
		}
		for _, r := range recs {
			if seqOf[r.DeliveryID] != seq {
				t.Errorf("%s acknowledged at %d, stored in %d", r.DeliveryID, seqOf[r.DeliveryID], seq)
			}
		}
	}

	// Max records go at once, without waiting for the window.
	start := time.Now()
	var commits []*delivery.Commit
	for i := range 8 {
		commits = append(commits, c.Add(delivery.Attempt{DeliveryID: fmt.Sprintf("dlv_m%d", i), EndpointID: "ep_max", Outcome: delivery.OutcomeRetrying}))
	}
	for _, cm := range commits {
		if _, err := cm.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(logRecords(t, s)) != 4 {
		t.Errorf("8 records (Max) of one endpoint: not one message")
	}
	t.Logf("a full group took %s (window 50ms)", time.Since(start))

	// Close writes what waits, then refuses.
	last := c.Add(delivery.Attempt{DeliveryID: "dlv_last", EndpointID: "ep_0", Outcome: delivery.OutcomeDead})
	c.Close(ctx)
	select {
	case <-last.Done():
	default:
		t.Fatal("Close returned before the waiting record was written")
	}
	if _, err := last.Wait(ctx); err != nil {
		t.Fatalf("the record waiting at Close: %v", err)
	}
	if _, err := c.Add(delivery.Attempt{DeliveryID: "dlv_late", EndpointID: "ep_0"}).Wait(ctx); !errors.Is(err, delivery.ErrCommitterClosed) {
		t.Fatalf("Add after Close: %v, want ErrCommitterClosed", err)
	}
}

// BenchmarkCommitter measures records written and acknowledged through
// one Committer by 32 concurrent writers per core, to 1 endpoint and to
// 100: records per second, and messages stored per record (the group
// commit is per endpoint).
func BenchmarkCommitter(b *testing.B) {
	for _, endpoints := range []int{1, 100} {
		b.Run(fmt.Sprintf("endpoints=%d", endpoints), func(b *testing.B) {
			s := newStore(b)
			c, err := delivery.NewCommitter(delivery.CommitterConfig{JetStream: s.js, Names: s.topo.Names(), Logger: quiet()})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close(context.Background())
			ctx := context.Background()
			var next atomic.Int64
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					k := next.Add(1)
					a := delivery.Attempt{DeliveryID: fmt.Sprintf("dlv_%d", k), EndpointID: fmt.Sprintf("ep_%d", k%int64(endpoints)), Number: 1,
						Time: time.Now().UTC(), StatusCode: 200, Outcome: delivery.OutcomeSucceeded}
					if _, err := c.Add(a).Wait(ctx); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			stream, err := s.js.Stream(ctx, s.topo.Names().LogStream())
			if err == nil && b.N > 0 {
				b.ReportMetric(float64(stream.CachedInfo().State.Msgs)/float64(b.N), "msgs/record")
			}
		})
	}
}
