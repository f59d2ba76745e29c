package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/internal/hookdtest"
)

// A delivery attempted while the delivery log refuses writes is settled
// as usual (delivered once, never held for its history), and its record,
// kept by the worker's committer, is written once the log takes writes
// again: in the log exactly once, counted once by the endpoint's stats,
// and the receiver gets nothing more. (Its record used to be lost: the
// log said fewer attempts than receivers got.)
func TestAttemptRecordWrittenOnceTheLogTakesWrites(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	h := hookdtest.Start(t, fastConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "events": []string{"order.*"}})
	ctx := context.Background()
	js, names := h.App.JetStream(), h.App.Names()

	// The log stream stops capturing its subjects: every record write is
	// answered "no responders", as while storage is cut off.
	logStream, err := js.Stream(ctx, names.LogStream())
	if err != nil {
		t.Fatal(err)
	}
	cfg := logStream.CachedInfo().Config
	subjects := cfg.Subjects
	cfg.Subjects = []string{"refused.log.*"}
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	h.PublishEvent(t, "order.paid", map[string]int{"n": 1})
	hookdtest.WaitFor(t, 30*time.Second, "the delivery", func() bool { return rc.Count() == 1 })
	// Settled without its record: nothing of the endpoint waits.
	hookdtest.WaitFor(t, 30*time.Second, "the delivery acknowledged", func() bool {
		b, err := h.App.Topology().Backlog(ctx, ep.ID)
		return err == nil && b.Messages == 0
	})
	if n := logRecordsOf(t, js, names.LogStream(), ep.ID); len(n) != 0 {
		t.Fatalf("records stored while the log refused writes: %v", n)
	}

	cfg.Subjects = subjects
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	var recs []delivery.Attempt
	hookdtest.WaitFor(t, 30*time.Second, "the record written late", func() bool {
		recs = logRecordsOf(t, js, names.LogStream(), ep.ID)
		return len(recs) > 0
	})
	if len(recs) != 1 || recs[0].Outcome != delivery.OutcomeSucceeded || recs[0].Number != 1 {
		t.Fatalf("records of the endpoint: %+v, want the one successful attempt", recs)
	}
	var st struct{ Attempts, Succeeded int }
	status, out := h.Do(t, http.MethodGet, "/v1/endpoints/"+ep.ID+"/stats", nil)
	if status != http.StatusOK || json.Unmarshal(out, &st) != nil || st.Attempts != 1 || st.Succeeded != 1 {
		t.Fatalf("stats: %d %s, want 1 attempt, succeeded", status, out)
	}
	status, out = h.Do(t, http.MethodGet, "/v1/deliveries/"+recs[0].DeliveryID, nil)
	var d struct {
		Status   string
		Attempts []struct{ Attempt int }
	}
	if status != http.StatusOK || json.Unmarshal(out, &d) != nil || d.Status != "succeeded" || len(d.Attempts) != 1 {
		t.Fatalf("the delivery: %d %s, want succeeded with its 1 attempt", status, out)
	}
	// Stays so: not written twice, not delivered again.
	hookdtest.Never(t, 2*time.Second, "a second record or delivery", func() bool {
		return rc.Count() != 1 || len(logRecordsOf(t, js, names.LogStream(), ep.ID)) != 1
	})
}

// logRecordsOf reads every record of an endpoint in the log stream.
func logRecordsOf(t *testing.T, js jetstream.JetStream, stream, endpointID string) []delivery.Attempt {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []delivery.Attempt
	for seq := info.State.FirstSeq; seq > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		delivery.DecodeRecords(m.Data, func(a delivery.Attempt) {
			if a.EndpointID == endpointID {
				out = append(out, a)
			}
		})
	}
	return out
}
