package faults

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// SIGTERM stops a worker gracefully in the middle of a load to a slow
// receiver: it stops pulling, finishes what is in flight, hands back what
// it had buffered and exits within its bound; nothing is lost and nothing
// is sent twice.
func TestWorkerSIGTERMUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process fault test: -short")
	}
	dir := t.TempDir()
	keyFile := adminKeyFile(t, dir)
	internalKey, _ := internalKeyFile(t, dir)
	addrs := freeAddrs(t, 2)
	common := []string{"--retry-schedule", "200ms,500ms,1s", "--ack-wait", "30s", "--log-level", "warn", "--allow-nets", "127.0.0.0/8",
		"--nats-internal-key-file", internalKey}
	node := startProc(t, "node", append([]string{"serve", "--data", filepath.Join(dir, "data"), "--http", addrs[0],
		"--nats-listen", addrs[1], "--admin-key-file", keyFile}, common...)...)
	api := "http://" + addrs[0]
	waitHealthy(t, node, api, time.Minute)
	rc := newReceiver(t)
	rc.delay.Store(int64(20 * time.Millisecond)) // so that deliveries are in flight at the signal
	apiCall(t, api, http.MethodPost, "/v1/endpoints", fmt.Sprintf(`{"url":%q,"events":["load.*"]}`, rc.URL+"/t"))
	worker := startProc(t, "worker", append([]string{"worker", "--nats", "nats://" + addrs[1]}, common...)...)

	nc, err := nats.Connect("nats://" + addrs[1])
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	const events = 1000
	var accepted []string
	for i := range events {
		id := "term-" + strconv.Itoa(i)
		if !publish(t, js, id, i) {
			t.Fatalf("event %d not accepted for a minute", i)
		}
		accepted = append(accepted, id)
	}
	// Deliveries are flowing to both workers: stop the separate one.
	deadline := time.Now().Add(30 * time.Second)
	for d, _ := rc.ledger("/t", accepted); d < 100; d, _ = rc.ledger("/t", accepted) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d deliveries before the signal", d)
		}
		time.Sleep(20 * time.Millisecond) // polling the receiver's ledger
	}
	took, err := worker.term(20 * time.Second)
	if err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, worker.logTail())
	}
	deadline = time.Now().Add(2 * time.Minute)
	for d, _ := rc.ledger("/t", accepted); d < len(accepted); d, _ = rc.ledger("/t", accepted) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d delivered after the worker stopped", d, len(accepted))
		}
		time.Sleep(50 * time.Millisecond) // polling the receiver's ledger
	}
	_, dups := rc.ledger("/t", accepted)
	t.Logf("RESULT accepted=%d delivered=%d duplicates=%d lost=0 worker_exit_after_sigterm=%s", len(accepted), len(accepted), dups, took.Round(time.Millisecond))
	if dups != 0 {
		t.Fatalf("%d deliveries sent twice: a graceful stop must not duplicate", dups)
	}
}
