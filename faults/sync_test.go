package faults

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// With --sync always, a single node SIGKILLed while producers publish loses
// nothing it acknowledged: after a restart every acknowledged event is
// delivered.
func TestSyncAlwaysKillDuringIngestion(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process fault test: -short")
	}
	dir := t.TempDir()
	keyFile := adminKeyFile(t, dir)
	addrs := freeAddrs(t, 2)
	args := []string{"serve", "--data", filepath.Join(dir, "data"), "--http", addrs[0], "--nats-listen", addrs[1],
		"--sync", "always", "--admin-key-file", keyFile, "--retry-schedule", "200ms,500ms,1s,1s,1s", "--ack-wait", "3s", "--log-level", "warn", "--allow-nets", "127.0.0.0/8"}
	node := startProc(t, "node", args...)
	api := "http://" + addrs[0]
	waitHealthy(t, node, api, time.Minute)
	rc := newReceiver(t)
	apiCall(t, api, "POST", "/v1/endpoints", `{"url":"`+rc.URL+`/s","events":["load.*"]}`)

	nc, err := nats.Connect("nats://"+addrs[1], nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	// Publish until the kill, keeping only what JetStream acknowledged.
	var acked []string
	killAt := time.Now().Add(2 * time.Second)
	for i := 0; time.Now().Before(killAt); i++ {
		id := "sync-" + strconv.Itoa(i)
		data, _ := json.Marshal(map[string]int{"i": i})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if _, err := js.Publish(ctx, "events.load.test", data, jetstream.WithMsgID(id)); err == nil {
			acked = append(acked, id)
		}
		cancel()
		if i == 200 {
			// Mid-ingestion, with publishes in flight from a second
			// producer goroutine as well.
			go func() {
				for j := 0; time.Now().Before(killAt); j++ {
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					_, _ = js.Publish(ctx, "events.load.other", []byte(`{}`), jetstream.WithMsgID("x-"+strconv.Itoa(j)))
					cancel()
				}
			}()
		}
	}
	node.kill()
	node.start()
	waitHealthy(t, node, api, time.Minute)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		delivered, _ := rc.ledger("/s", acked)
		if delivered == len(acked) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged events delivered after the restart:\n%s", delivered, len(acked), node.logTail())
		}
		time.Sleep(100 * time.Millisecond) // polling the receiver's ledger
	}
	_, dups := rc.ledger("/s", acked)
	t.Logf("RESULT acknowledged=%d delivered=%d duplicates=%d lost=0", len(acked), len(acked), dups)
}
