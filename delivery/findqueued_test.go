package delivery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/internal/natstest"
	"github.com/hookd/hookd/topology"
)

// apiRequests records the JetStream API requests made on a connection.
type apiRequests struct {
	mu   sync.Mutex
	reqs []*nats.Msg
}

func (r *apiRequests) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = nil
}

// matching returns the requests whose subject starts with prefix and whose
// body contains body.
func (r *apiRequests) matching(prefix, body string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.reqs {
		if strings.HasPrefix(m.Subject, prefix) && strings.Contains(string(m.Data), body) {
			out = append(out, m.Subject+" "+string(m.Data))
		}
	}
	return out
}

// A delivery id that names no waiting delivery costs no read of the
// endpoints' backlogs (topology.Backlogs asks the server for the
// per-subject counts of every delivery stream, a big answer with 100,000
// endpoints waiting): History looks only on the subjects of the endpoints
// its fingerprint names, none for most ids. A waiting delivery is still
// found, and answered as pending.
func TestHistoryOfUnknownIDReadsNoBacklog(t *testing.T) {
	js := natstest.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	topo, err := topology.New(js, topology.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := topo.EnsureCore(ctx); err != nil {
		t.Fatal(err)
	}
	names := topo.Names()
	// 50 endpoints, each with a delivery waiting in the queue stream.
	var ids []string
	var waiting []string // their delivery ids
	e := &event.Event{ID: "evt_1", Type: "order.paid", Time: time.Now().UTC(), Accepted: time.Now().UTC(), Data: []byte(`{}`)}
	for i := range 50 {
		id := fmt.Sprintf("ep_%02d", i)
		m := nats.NewMsg(names.QueueSubject(id))
		SetHeaders(m.Header, e, id)
		m.Data = e.Envelope()
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		waiting = append(waiting, ID(e, id))
	}
	byFingerprint := func(fp string) []string {
		var out []string
		for _, id := range ids {
			if topology.Fingerprint(id) == fp {
				out = append(out, id)
			}
		}
		return out
	}
	l, err := OpenLog(ctx, topo, WithEndpoints(byFingerprint))
	if err != nil {
		t.Fatal(err)
	}
	var seen apiRequests
	sub, err := js.Conn().Subscribe("$JS.API.>", func(m *nats.Msg) {
		seen.mu.Lock()
		seen.reqs = append(seen.reqs, m)
		seen.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	// flushed returns once every request made so far reached seen: the
	// server delivers a subscription's messages in order, and a marker
	// published now comes after them.
	marks := 0
	flushed := func() {
		t.Helper()
		marks++
		if err := js.Conn().Publish(fmt.Sprintf("$JS.API.TEST.MARK.%d", marks), nil); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for len(seen.matching(fmt.Sprintf("$JS.API.TEST.MARK.%d", marks), "")) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("the requests made were not all seen")
			}
			time.Sleep(time.Millisecond) // polling
		}
	}
	queues, err := topo.QueueStreams(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deliveryStreams := append(queues, names.HeldStream(), names.BatchesStream())
	// What reads the delivery streams: their infos (Backlogs) and
	// direct gets (a backlog's messages).
	backlogReads := func() []string {
		var out []string
		for _, s := range deliveryStreams {
			out = append(out, seen.matching("$JS.API.STREAM.INFO."+s, "")...)
			out = append(out, seen.matching("$JS.API.DIRECT.GET."+s, "")...)
		}
		return out
	}

	// An id of no known endpoint: nothing of any backlog is read.
	fp, _, _ := ParseID(waiting[0])
	unknown := "dlv_" + strings.Repeat("a", len(fp)) + strings.TrimPrefix(waiting[0], "dlv_"+fp)
	if _, err := l.History(ctx, unknown); !errors.Is(err, ErrNotFound) {
		t.Fatalf("History(%s): %v, want ErrNotFound", unknown, err)
	}
	flushed()
	if got := backlogReads(); len(got) != 0 {
		t.Fatalf("an unknown id read the backlogs: %q", got)
	}

	// An id of a known endpoint, of no delivery waiting: only that
	// endpoint's subjects are read.
	seen.reset()
	other := waiting[7][:len(waiting[7])-1] + map[bool]string{true: "b", false: "a"}[strings.HasSuffix(waiting[7], "a")]
	if _, err := l.History(ctx, other); !errors.Is(err, ErrNotFound) {
		t.Fatalf("History(%s): %v, want ErrNotFound", other, err)
	}
	flushed()
	gets := backlogReads()
	if len(gets) == 0 {
		t.Fatal("the endpoint's backlog was not read")
	}
	t.Logf("reads of a known endpoint's backlog: %q", gets)
	for _, g := range gets {
		if !strings.Contains(g, "DIRECT.GET") || !strings.Contains(g, "."+ids[7]) {
			t.Fatalf("read more than the endpoint's backlog: %s", g)
		}
	}

	// A waiting delivery is found, pending.
	seen.reset()
	hist, err := l.History(ctx, waiting[7])
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1 || hist[0].Outcome != OutcomePending || hist[0].EndpointID != ids[7] || hist[0].DeliveryID != waiting[7] {
		t.Fatalf("history of a waiting delivery: %+v", hist)
	}
	flushed()
	for _, g := range backlogReads() {
		if !strings.Contains(g, "DIRECT.GET") || !strings.Contains(g, "."+ids[7]) {
			t.Fatalf("read more than the endpoint's backlog: %s", g)
		}
	}
}
