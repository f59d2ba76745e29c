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

// receiver counts deliveries per endpoint path and webhook-id; while down
// it answers 503 to everything.
type receiver struct {
	*httptest.Server
	down atomic.Bool
	// delay is the receiver's work per request, in ns.
	delay atomic.Int64
	mu    sync.Mutex
	got   map[string]map[string]int // path -> webhook-id -> deliveries
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{got: map[string]map[string]int{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rc.down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		time.Sleep(time.Duration(rc.delay.Load())) // the receiver's work
		rc.mu.Lock()
		if rc.got[r.URL.Path] == nil {
			rc.got[r.URL.Path] = map[string]int{}
		}
		rc.got[r.URL.Path][r.Header.Get("webhook-id")]++
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.Close)
	return rc
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
// and worker, under a load of 5,000 events to three endpoints, while in
// turn a worker is SIGKILLed mid-delivery, a router is SIGKILLed, one
// cluster node (NATS included) is SIGKILLed and restarted, and the receiver
// is down for a while. Every accepted event reaches every endpoint at
// least once, and no endpoint stream keeps a message.
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
	paths := []string{"/a", "/b", "/c"}
	for _, p := range paths {
		apiCall(t, api, http.MethodPost, "/v1/endpoints", fmt.Sprintf(`{"url":%q,"events":["load.*"]}`, rc.URL+p))
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
	var lastFault time.Time
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
		case 4500:
			rc.down.Store(false)
			lastFault = time.Now()
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
			t.Fatalf("%d of %d deliveries after 3 minutes\nnode3: %s", d, len(accepted)*len(paths), nodes[2].logTail())
		}
		time.Sleep(100 * time.Millisecond) // polling the receiver's ledger
	}
	recovered := time.Since(lastFault)
	// No delivery stream keeps an orphaned message.
	for _, name := range []string{topology.Names{}.HeldStream(), topology.Names{}.BatchesStream()} {
		waitEmpty(t, js, name)
	}
	delivered, dups := total()
	t.Logf("RESULT accepted=%d deliveries=%d (of %d) duplicates=%d lost=0 published_in=%s recovered_after_last_fault=%s",
		len(accepted), delivered, len(accepted)*len(paths), dups, publishedIn.Round(time.Millisecond), recovered.Round(time.Millisecond))
	if len(accepted) != events {
		t.Fatalf("%d of %d events accepted: publishes are retried until acknowledged", len(accepted), events)
	}
	// Duplicates come only from deliveries in flight in a killed process:
	// at most 64 per endpoint per worker, for the three kills.
	if limit := 3 * 64 * len(paths); dups > limit {
		t.Fatalf("%d duplicate deliveries, more than the %d that could have been in flight at the kills", dups, limit)
	}
}

// publish sends one event with its id, retrying until JetStream
// acknowledges it (a producer's duty); the id makes retries one event.
func publish(t *testing.T, js jetstream.JetStream, id string, i int) bool {
	t.Helper()
	data, _ := json.Marshal(map[string]int{"i": i})
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
