package hookdtest

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/topology"
)

// Messages returns every message of stream on subject, oldest first; a
// subject ending in ".*" matches every subject under its prefix.
func Messages(t testing.TB, js jetstream.JetStream, stream, subject string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("get %s #%d: %v", stream, seq, err)
		}
		if subject == ">" || m.Subject == subject || strings.HasSuffix(subject, ".*") && strings.HasPrefix(m.Subject, strings.TrimSuffix(subject, "*")) {
			out = append(out, m)
		}
	}
	return out
}

// Attempts returns the HTTP attempt records of an endpoint, oldest first
// (the delivery log without its "pending" and "batched" records).
func (h *Hookd) Attempts(t testing.TB, endpointID string) []delivery.Attempt {
	t.Helper()
	var out []delivery.Attempt
	for _, a := range h.Log(t, endpointID) {
		if a.Outcome != delivery.OutcomePending && a.Outcome != delivery.OutcomeBatched {
			out = append(out, a)
		}
	}
	return out
}

// Log returns every delivery log record of an endpoint, oldest first:
// those of the legacy attempts stream, then those of the log stream.
func (h *Hookd) Log(t testing.TB, endpointID string) []delivery.Attempt {
	t.Helper()
	var out []delivery.Attempt
	for _, m := range Messages(t, h.App.JetStream(), h.App.Names().AttemptsStream(), h.App.Names().AttemptSubject(endpointID, "*")) {
		var a delivery.Attempt
		if err := json.Unmarshal(m.Data, &a); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	for _, m := range LogMessages(t, h, endpointID) {
		delivery.DecodeRecords(m.Data, func(a delivery.Attempt) {
			if a.EndpointID == endpointID {
				out = append(out, a)
			}
		})
	}
	return out
}

// LogMessages returns the messages of the log stream on an endpoint's log
// subject (shared with endpoints of the same fingerprint), oldest first.
func LogMessages(t testing.TB, h *Hookd, endpointID string) []*jetstream.RawStreamMsg {
	t.Helper()
	return Messages(t, h.App.JetStream(), h.App.Names().LogStream(), h.App.Names().LogSubject(endpointID))
}

// StoredEndpoint returns endpoint id as stored in the endpoints bucket
// (sealed secrets and all).
func (h *Hookd) StoredEndpoint(t testing.TB, id string) string {
	t.Helper()
	kv, err := h.App.JetStream().KeyValue(t.Context(), h.App.Names().EndpointsBucket())
	if err != nil {
		t.Fatal(err)
	}
	entry, err := kv.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return string(entry.Value())
}

// DeadLetters returns the dead letters of an endpoint.
func (h *Hookd) DeadLetters(t testing.TB, endpointID string) []*jetstream.RawStreamMsg {
	t.Helper()
	return Messages(t, h.App.JetStream(), h.App.Names().DeadStream(), h.App.Names().DeadSubject(endpointID))
}

// WaitIdle waits until the router has settled every stored event and the
// workers every delivery (and batch) of the given endpoints: the router
// consumer's ack floor has reached the events stream's last message, and
// nothing waits for the endpoints in the delivery streams (work queues: a
// delivery leaves when a worker acknowledges it). After it, what receivers
// got is final, so a test can assert that something was never delivered.
// (Pending counts alone are updated asynchronously and can read zero
// before a just-stored message is counted.)
func (h *Hookd) WaitIdle(t testing.TB, endpointIDs ...string) {
	t.Helper()
	js := h.App.JetStream()
	idle := func(stream, consumer string) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, stream)
		if err != nil {
			return false
		}
		sinfo, err := s.Info(ctx)
		if err != nil {
			return false
		}
		c, err := s.Consumer(ctx, consumer)
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		if err != nil {
			return false
		}
		return info.AckFloor.Stream >= sinfo.State.LastSeq && info.NumPending == 0 && info.NumAckPending == 0
	}
	WaitFor(t, 20*time.Second, "router and workers idle", func() bool {
		if !idle(h.App.Names().EventsStream(), topology.RouterConsumer) {
			return false
		}
		for _, id := range endpointIDs {
			if h.Backlog(t, id).Messages > 0 {
				return false
			}
		}
		return true
	})
}

// Backlog returns what waits for an endpoint in the delivery streams.
func (h *Hookd) Backlog(t testing.TB, endpointID string) topology.EndpointBacklog {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := h.App.Topology().Backlog(ctx, endpointID)
	if err != nil {
		t.Fatalf("backlog of %s: %v", endpointID, err)
	}
	return b
}

// Queued returns the deliveries waiting for an endpoint (on its queue or
// held subject, or its ordered lanes), oldest first in each.
func (h *Hookd) Queued(t testing.TB, endpointID string) []*jetstream.RawStreamMsg {
	t.Helper()
	n := h.App.Names()
	queue, err := h.App.Topology().ShardStream(context.Background(), topology.Shard(endpointID))
	if err != nil {
		t.Fatalf("queue stream of %s: %v", endpointID, err)
	}
	out := Messages(t, h.App.JetStream(), queue, n.QueueSubject(endpointID))
	out = append(out, Messages(t, h.App.JetStream(), n.HeldStream(), n.HeldSubject(endpointID))...)
	out = append(out, Messages(t, h.App.JetStream(), n.HeldStream(), n.OrderedSubject(endpointID, 0))...)
	return append(out, Messages(t, h.App.JetStream(), n.HeldStream(), n.OrderedSubject(endpointID, 0)+".*")...)
}

// WaitEventsStored waits until the events stream holds at least n events:
// events published with core NATS (as `nats pub` does) are stored
// asynchronously, so WaitIdle alone could run before they are.
func (h *Hookd) WaitEventsStored(t testing.TB, n uint64) {
	t.Helper()
	WaitFor(t, 10*time.Second, "events stored", func() bool {
		s, err := h.App.JetStream().Stream(context.Background(), h.App.Names().EventsStream())
		if err != nil {
			return false
		}
		info, err := s.Info(context.Background())
		return err == nil && info.State.Msgs >= n
	})
}

// DeliveryID returns the id of the delivery of a stored event (by its
// event id) to an endpoint, which holds the second the event was
// accepted: read from the events stream.
func (h *Hookd) DeliveryID(t testing.TB, eventID, endpointID string) string {
	t.Helper()
	var at time.Time
	WaitFor(t, 10*time.Second, "event "+eventID+" stored", func() bool {
		for _, m := range Messages(t, h.App.JetStream(), h.App.Names().EventsStream(), ">") {
			if id := m.Header.Get(jetstream.MsgIDHeader); id == eventID || strings.HasSuffix(id, "/"+eventID) {
				at = m.Time
				return true
			}
		}
		return false
	})
	return delivery.ID(&event.Event{ID: eventID, Accepted: at}, endpointID)
}
