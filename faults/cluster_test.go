package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/topology"
)

const adminKey = "hk_faults_admin_key_0123456789"

// receiver counts deliveries per endpoint path and webhook-id, and keeps
// every path's arrivals in order; while down it answers 503 to everything.
type receiver struct {
	*httptest.Server
	down atomic.Bool
	// delay is the receiver's work per request, in ns.
	delay    atomic.Int64
	mu       sync.Mutex
	got      map[string]map[string]int // path -> webhook-id -> deliveries
	arrivals map[string][]string       // path -> webhook-ids in order of arrival
	refused  map[string]int            // path -> requests answered 503 while down
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{got: map[string]map[string]int{}, arrivals: map[string][]string{}, refused: map[string]int{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rc.down.Load() {
			rc.mu.Lock()
			rc.refused[r.URL.Path]++
			rc.mu.Unlock()
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		time.Sleep(time.Duration(rc.delay.Load())) // the receiver's work
		id := r.Header.Get("webhook-id")
		rc.mu.Lock()
		if rc.got[r.URL.Path] == nil {
			rc.got[r.URL.Path] = map[string]int{}
		}
		rc.got[r.URL.Path][id]++
		rc.arrivals[r.URL.Path] = append(rc.arrivals[r.URL.Path], id)
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.Close)
	return rc
}

// firstArrivalsOutOfOrder checks an ordered endpoint's deliveries, at least
// once each, against the order the events were accepted in: key gives an
// event's ordering key from its webhook-id, and rank its position among the
// accepted events. A redelivery (an event arriving again after a kill) may
// repeat an earlier event at any point, so what must hold is that the
// first arrivals of each key's events come in increasing rank: no event is
// delivered for the first time before an event of its key accepted
// earlier. It returns the first violation, or "".
func (rc *receiver) firstArrivalsOutOfOrder(path string, key func(id string) string, rank map[string]int) string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	seen := map[string]bool{}
	last := map[string]string{} // key -> the latest event delivered for the first time
	for n, id := range rc.arrivals[path] {
		if seen[id] {
			continue
		}
		seen[id] = true
		k := key(id)
		if prev, ok := last[k]; ok && rank[id] < rank[prev] {
			return fmt.Sprintf("arrival %d: %s (key %s) delivered for the first time after %s, accepted later", n, id, k, prev)
		}
		last[k] = id
	}
	return ""
}

// ledger counts, for one endpoint path, the accepted events delivered and
// the duplicate deliveries.
func (rc *receiver) ledger(path string, accepted []string) (delivered, duplicates int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, id := range accepted {
		if n := rc.got[path][id]; n > 0 {
			delivered++
			duplicates += n - 1
		}
	}
	return delivered, duplicates
}

// apiCall calls the API, retrying a 503 for up to a minute as a client
// should: a cluster that has just formed may not yet place new streams
// ("no suitable peers for placement").
func apiCall(t *testing.T, base, method, path, body string) []byte {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		req, _ := http.NewRequest(method, base+path, bytes.NewBufferString(body))
		req.Header.Set("Authorization", "Bearer "+adminKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		_, _ = out.ReadFrom(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode/100 == 2:
			return out.Bytes()
		case resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline):
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, out.String())
		}
		time.Sleep(200 * time.Millisecond) // a client's back-off
	}
}

// Three `hookd serve` cluster nodes (replicas 3) plus a separate router
// and worker, under a load of 5,000 events to five endpoints, while in
// turn a worker is SIGKILLed mid-delivery, a router is SIGKILLed, one
// cluster node (NATS included) is SIGKILLed and restarted, and the receiver
// is down until it has refused attempts to every endpoint. Three endpoints are plain (the shared queue and its
// shard consumers; retries move to their held subjects), one has
// max_in_flight (its own consumer on the held stream from the start), one
// is ordered by a key (a single-in-flight consumer per lane). Every
// accepted event reaches every endpoint at least once, each key's events
// reach the ordered endpoint first in the order they were accepted, and no
// delivery stream keeps a message.
func TestFaultsUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process fault test: -short")
	}
	dir := t.TempDir()
	keyFile := adminKeyFile(t, dir)
	internalKey, asHookd := internalKeyFile(t, dir)
	addrs := freeAddrs(t, 9) // per node: HTTP, NATS clients, cluster
	httpAddrs, natsAddrs, clusterAddrs := addrs[0:3], addrs[3:6], addrs[6:9]
	natsURLs := joinURLs(natsAddrs, "nats://")
	// Retries outlast the receiver's down phase (500 events), however slow
	// a loaded machine publishes them: about 90 s of 1 s steps. A delivery
	// dead-lettered for retries exhausted would count as lost here.
	schedule := "200ms,500ms" + strings.Repeat(",1s", 90)
	common := []string{"--retry-schedule", schedule, "--ack-wait", "3s", "--log-level", "warn", "--allow-nets", "127.0.0.0/8",
		"--nats-internal-key-file", internalKey}
	var nodes []*proc
	for i := range 3 {
		args := append([]string{"serve", "--data", filepath.Join(dir, fmt.Sprintf("n%d", i+1)), "--http", httpAddrs[i],
			"--nats-listen", natsAddrs[i], "--server-name", fmt.Sprintf("n%d", i+1), "--cluster-name", "hookd-faults",
			"--cluster", clusterAddrs[i], "--routes", joinURLs(clusterAddrs, "nats://"), "--admin-key-file", keyFile}, common...)
		nodes = append(nodes, startProc(t, fmt.Sprintf("node%d", i+1), args...))
	}
	for i, n := range nodes {
		waitHealthy(t, n, "http://"+httpAddrs[i], 2*time.Minute)
	}
	api := "http://" + httpAddrs[0]
	rc := newReceiver(t)
	paths := []string{"/a", "/b", "/c", "/held", "/ordered"}
	extra := map[string]string{
		"/held": `,"max_in_flight":8`,
		// Events carry k = i mod orderKeys: keys share the 16 lanes.
		"/ordered": `,"ordering":"ordered","ordering_key":"data.k"`,
	}
	for _, p := range paths {
		apiCall(t, api, http.MethodPost, "/v1/endpoints", fmt.Sprintf(`{"url":%q,"events":["load.*"]%s}`, rc.URL+p, extra[p]))
	}
	worker := startProc(t, "worker", append([]string{"worker", "--nats", natsURLs}, common...)...)
	router := startProc(t, "router", append([]string{"router", "--nats", natsURLs}, common...)...)

	// The producer publishes as hookd: it also lists hookd's streams below.
	nc, err := nats.Connect(natsURLs, append(asHookd, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	const events = 5000
	var accepted []string
	var lastFault, downAt time.Time
	var downFor time.Duration
	start := time.Now()
	for i := range events {
		switch i {
		case 1000:
			worker.kill() // mid-delivery: the load is flowing
		case 1500:
			worker.start()
		case 2000:
			router.kill()
		case 2500:
			router.start()
		case 3000:
			nodes[2].kill() // its NATS node, router and worker at once
		case 3600:
			nodes[2].start()
		case 4000:
			rc.down.Store(true)
			downAt = time.Now()
		case 4500:
			// Up again only once every endpoint has had attempts refused, so
			// that each one's retries are exercised, however far behind
			// the publisher its deliveries run.
			waitRefused(t, rc, paths)
			rc.down.Store(false)
			lastFault = time.Now()
			downFor = lastFault.Sub(downAt)
		}
		id := "ev-" + strconv.Itoa(i)
		if !publish(t, js, id, i) {
			t.Fatalf("event %d not accepted for a minute: the cluster stopped taking events\nnode1: %s", i, nodes[0].logTail())
		}
		accepted = append(accepted, id)
	}
	publishedIn := time.Since(start)
	total := func() (delivered, dups int) {
		for _, p := range paths {
			d, dup := rc.ledger(p, accepted)
			delivered, dups = delivered+d, dups+dup
		}
		return
	}
	deadline := time.Now().Add(3 * time.Minute)
	for d, _ := total(); d < len(accepted)*len(paths); d, _ = total() {
		if time.Now().After(deadline) {
			var perPath []string
			for _, p := range paths {
				n, _ := rc.ledger(p, accepted)
				perPath = append(perPath, fmt.Sprintf("%s %d", p, n))
			}
			t.Fatalf("%d of %d deliveries after 3 minutes (%s)\nnode3: %s", d, len(accepted)*len(paths), strings.Join(perPath, ", "), nodes[2].logTail())
		}
		time.Sleep(100 * time.Millisecond) // polling the receiver's ledger
	}
	recovered := time.Since(lastFault)
	// No delivery stream keeps an orphaned message.
	names := topology.Names{}
	topo, err := topology.New(js, topology.Config{})
	if err != nil {
		t.Fatal(err)
	}
	queues, err := topo.QueueStreams(context.Background())
	if err != nil || len(queues) == 0 {
		t.Fatalf("queue streams %v: %v", queues, err)
	}
	for _, name := range append(queues, names.HeldStream(), names.BatchesStream()) {
		waitEmpty(t, js, name)
	}
	delivered, dups := total()
	var perPath []string
	for _, p := range paths {
		d, dup := rc.ledger(p, accepted)
		rc.mu.Lock()
		refused := rc.refused[p]
		rc.mu.Unlock()
		perPath = append(perPath, fmt.Sprintf("%s=%d/%d+%d(503:%d)", p, d, len(accepted), dup, refused))
	}
	t.Logf("RESULT accepted=%d deliveries=%d (of %d) duplicates=%d lost=0 published_in=%s receiver_down_for=%s recovered_after_last_fault=%s per_endpoint(delivered/accepted+duplicates(503s_while_down))=%s",
		len(accepted), delivered, len(accepted)*len(paths), dups, publishedIn.Round(time.Millisecond), downFor.Round(time.Millisecond), recovered.Round(time.Millisecond),
		strings.Join(perPath, ","))
	if len(accepted) != events {
		t.Fatalf("%d of %d events accepted: publishes are retried until acknowledged", len(accepted), events)
	}
	// Duplicates come only from deliveries in flight in a killed process:
	// at most 64 per endpoint per worker, for the three kills.
	if limit := 3 * 64 * len(paths); dups > limit {
		t.Fatalf("%d duplicate deliveries, more than the %d that could have been in flight at the kills", dups, limit)
	}
	rank := make(map[string]int, len(accepted))
	for i, id := range accepted {
		rank[id] = i
	}
	key := func(id string) string {
		i, _ := strconv.Atoi(strings.TrimPrefix(id, "ev-"))
		return strconv.Itoa(i % orderKeys)
	}
	if v := rc.firstArrivalsOutOfOrder("/ordered", key, rank); v != "" {
		t.Fatalf("the ordered endpoint's deliveries are out of order: %s", v)
	}
}

// orderKeys is how many ordering keys the load's events spread over.
const orderKeys = 8

// waitRefused waits until the receiver, down, has refused at least one
// attempt to each of paths.
func waitRefused(t *testing.T, rc *receiver, paths []string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		rc.mu.Lock()
		var none []string
		for _, p := range paths {
			if rc.refused[p] == 0 {
				none = append(none, p)
			}
		}
		rc.mu.Unlock()
		if len(none) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no attempt to %v for a minute while the receiver was down: deliveries stalled", none)
		}
		time.Sleep(20 * time.Millisecond) // polling the receiver's counters
	}
}

// publish sends one event with its id, retrying until JetStream
// acknowledges it (a producer's duty); the id makes retries one event.
func publish(t *testing.T, js jetstream.JetStream, id string, i int) bool {
	t.Helper()
	data, _ := json.Marshal(map[string]int{"i": i, "k": i % orderKeys})
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := js.Publish(ctx, "events.load.test", data, jetstream.WithMsgID(id))
		cancel()
		if err == nil {
			return true
		}
		time.Sleep(50 * time.Millisecond) // a producer's back-off
	}
	return false
}

func waitEmpty(t *testing.T, js jetstream.JetStream, stream string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := js.Stream(context.Background(), stream)
		if err == nil && s.CachedInfo().State.Msgs == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s keeps %d messages after every delivery was made", stream, s.CachedInfo().State.Msgs)
		}
		time.Sleep(100 * time.Millisecond) // polling the stream's state
	}
}
