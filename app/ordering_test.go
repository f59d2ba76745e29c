package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/embedded"
	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/rules"
)

// seqOf reads the test's sequence number out of a delivery.
func seqOf(t *testing.T, r hookdtest.Request) (key string, i int) {
	t.Helper()
	var env struct {
		Data struct {
			I   int    `json:"i"`
			Key string `json:"key"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.Body, &env); err != nil {
		t.Fatalf("delivery body %q: %v", r.Body, err)
	}
	return env.Data.Key, env.Data.I
}

// An ordered endpoint gets 1,000 events in the order they were accepted,
// with three routers and three workers sharing the work, while its own
// receiver fails now and then (the failed delivery is retried before any
// later one is sent) and another endpoint fails every delivery.
func TestOrderedEndpointKeepsAcceptanceOrder(t *testing.T) {
	const events = 1000
	var mu sync.Mutex
	var answered []int // sequence numbers in the order they were answered 2xx
	var sent []int     // every request, in arrival order
	rc := hookdtest.NewReceiver(t)
	rc.SetRespond(func(n int, r hookdtest.Request) int {
		_, i := seqOf(t, r)
		mu.Lock()
		defer mu.Unlock()
		sent = append(sent, i)
		if i%97 == 0 && n == 1 {
			return http.StatusInternalServerError // first attempt of some fails
		}
		answered = append(answered, i)
		return http.StatusOK
	})
	failing := hookdtest.NewReceiver(t)
	failing.SetRespond(func(int, hookdtest.Request) int { return http.StatusServiceUnavailable })

	hs := startProcesses(t, 3, true)
	h := hs[0]
	ordered := createEverywhere(t, hs, map[string]any{"url": rc.URL, "ordering": "ordered", "events": []string{"seq.*"}})
	if ordered.Ordering != endpoint.OrderingOrdered {
		t.Fatalf("created endpoint shows ordering %q", ordered.Ordering)
	}
	createEverywhere(t, hs, map[string]any{"url": failing.URL, "events": []string{"seq.*"}})
	for i := range events {
		h.PublishEvent(t, "seq.next", map[string]int{"i": i})
	}
	hookdtest.WaitFor(t, 90*time.Second, "every ordered delivery", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(answered) >= events
	})
	h.WaitIdle(t, ordered.ID)
	mu.Lock()
	defer mu.Unlock()
	for i, got := range answered {
		if got != i {
			t.Fatalf("delivery %d was event %d: out of order (around %v)", i, got, answered[max(0, i-3):min(len(answered), i+3)])
		}
	}
	if len(answered) != events {
		t.Fatalf("%d successful deliveries, want %d", len(answered), events)
	}
	// A failing delivery blocks the ones after it: nothing later is ever
	// sent before it succeeded.
	for k := 1; k < len(sent); k++ {
		if sent[k] < sent[k-1] {
			t.Fatalf("request %d carried event %d after event %d", k, sent[k], sent[k-1])
		}
	}
	if retried := len(sent) - events; retried != events/97+1 {
		t.Fatalf("%d retries, want %d (one per failed first attempt)", retried, events/97+1)
	}
	if failing.Count() == 0 {
		t.Fatal("the failing endpoint was never tried")
	}
}

// With an ordering key, deliveries of one key stay in order while keys
// interleave: a key whose receiver fails holds back only its own lane.
func TestOrderingKeyKeepsEachKeyInOrder(t *testing.T) {
	// Keys in distinct lanes, so that lanes (not chance) separate them.
	var keys []string
	used := map[int]bool{}
	for i := 0; len(keys) < 6; i++ {
		k := fmt.Sprintf("order-%d", i)
		if l := rules.Lane(k, endpoint.KeyLanes); !used[l] {
			used[l] = true
			keys = append(keys, k)
		}
	}
	blocked := keys[0]
	release := make(chan struct{})
	var releaseOnce sync.Once
	const perKey = 40
	var mu sync.Mutex
	got := map[string][]int{}
	var arrival []string
	rc := hookdtest.NewReceiver(t)
	rc.SetRespond(func(n int, r hookdtest.Request) int {
		key, i := seqOf(t, r)
		if key == blocked {
			select {
			case <-release:
			default:
				return http.StatusInternalServerError // until the others are done
			}
		}
		mu.Lock()
		defer mu.Unlock()
		got[key] = append(got[key], i)
		arrival = append(arrival, key)
		return http.StatusOK
	})
	hs := startProcesses(t, 2, true)
	h := hs[0]
	ep := createEverywhere(t, hs, map[string]any{"url": rc.URL, "ordering": "ordered", "ordering_key": "data.key",
		// Retried, not dead-lettered, while the test holds the key back.
		"retry": map[string]any{"schedule": []string{"200ms"}, "max_attempts": 50}})
	for i := range perKey {
		for _, k := range keys {
			h.PublishEvent(t, "order.updated", map[string]any{"key": k, "i": i})
		}
	}
	others := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, k := range keys[1:] {
			if len(got[k]) < perKey {
				return false
			}
		}
		return true
	}
	hookdtest.WaitFor(t, 60*time.Second, "every other key's deliveries while one key fails", others)
	mu.Lock()
	if n := len(got[blocked]); n != 0 {
		t.Errorf("the failing key got %d deliveries through", n)
	}
	mu.Unlock()
	releaseOnce.Do(func() { close(release) })
	hookdtest.WaitFor(t, 60*time.Second, "the held key's deliveries", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got[blocked]) >= perKey
	})
	h.WaitIdle(t, ep.ID)
	mu.Lock()
	defer mu.Unlock()
	for _, k := range keys {
		for i, v := range got[k] {
			if v != i {
				t.Fatalf("key %s: delivery %d was event %d: %v", k, i, v, got[k])
			}
		}
		if len(got[k]) != perKey {
			t.Fatalf("key %s: %d deliveries, want %d", k, len(got[k]), perKey)
		}
	}
	// Keys interleave: the first deliveries are not one key after another.
	switches := 0
	for i := 1; i < len(arrival); i++ {
		if arrival[i] != arrival[i-1] {
			switches++
		}
	}
	if switches < perKey {
		t.Fatalf("keys switched %d times in %d deliveries: not interleaved", switches, len(arrival))
	}
}

// An ordered endpoint created while no router runs still gets every event
// accepted after it, in order, once a router starts; events accepted
// before it existed are not routed to it.
func TestOrderedEndpointBeforeAnyRouter(t *testing.T) {
	ns := hookdtest.StartNATS(t, embedded.Config{})
	var mu sync.Mutex
	var got []int
	rc := hookdtest.NewReceiver(t)
	rc.SetRespond(func(_ int, r hookdtest.Request) int {
		_, i := seqOf(t, r)
		mu.Lock()
		got = append(got, i)
		mu.Unlock()
		return http.StatusOK
	})
	apiOnly := ns.Config(fastConfig())
	apiOnly.NoRouter, apiOnly.NoWorker = true, true
	h := hookdtest.Start(t, apiOnly)
	h.PublishEvent(t, "seq.next", map[string]int{"i": -1}) // before the endpoint: not for it
	h.CreateEndpoint(t, map[string]any{"url": rc.URL, "ordering": "ordered"})
	const events = 20
	for i := range events {
		h.PublishEvent(t, "seq.next", map[string]int{"i": i})
	}
	full := ns.Config(fastConfig())
	full.HTTPAddr = "127.0.0.1:0"
	h2 := hookdtest.Start(t, full)
	hookdtest.WaitFor(t, 20*time.Second, "every ordered delivery", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= events
	})
	h2.WaitIdle(t)
	mu.Lock()
	defer mu.Unlock()
	for i, v := range got {
		if v != i {
			t.Fatalf("deliveries %v, want 0..%d in order", got, events-1)
		}
	}
}
