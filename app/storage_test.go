//go:build linux

package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hookd/hookd/embedded"
	"github.com/hookd/hookd/internal/hookdtest"
)

// mountTmpfs mounts a tmpfs of the given size (e.g. "64m") on a new
// directory until the test ends. Where it cannot (not root, not Linux, a
// container without the right), the test is skipped, unless
// HOOKD_REQUIRE_TMPFS is set (as CI does): then it fails.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		if os.Getenv("HOOKD_REQUIRE_TMPFS") != "" {
			t.Fatalf("cannot mount a %s tmpfs on %s: %v (HOOKD_REQUIRE_TMPFS is set)", size, dir, err)
		}
		t.Skipf("cannot mount a %s tmpfs on %s (%v): this test needs root on Linux; set HOOKD_REQUIRE_TMPFS=1 to fail instead of skipping", size, dir, err)
	}
	// Cleanups run last first: hookd stops before this, the directory is
	// removed after.
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fillDisk writes a file until the filesystem of dir has no byte left,
// and returns a function that removes it.
func fillDisk(t *testing.T, dir string) (free func()) {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for size := 1 << 20; size >= 1; size /= 4 {
		buf := make([]byte, size)
		for {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("filling %s: %v", dir, err)
				}
				break
			}
		}
	}
	return func() {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
}

// apiError is the error of a JSON error answer.
type apiError struct {
	Code, Message string
}

func errorOf(t *testing.T, body []byte) apiError {
	t.Helper()
	var e struct{ Error apiError }
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("not an error body: %s", body)
	}
	return e.Error
}

// post publishes an event over the API and returns the status, the
// answer and how long it took.
func post(t *testing.T, h *hookdtest.Hookd, id string) (int, *http.Response, []byte, time.Duration) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.URL+"/v1/events", strings.NewReader(fmt.Sprintf(`{"type":"disk.filled","id":%q,"data":{"pad":%q}}`, id, strings.Repeat("x", 2000))))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+hookdtest.AdminKey)
	begin := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp, out, time.Since(begin)
}

// With the data directory on a full filesystem: POST /v1/events answers
// 503 storage_full at once (Retry-After 30), /readyz is not ready and
// names the reason, also after JetStream failed a write; once space is
// freed hookd takes events again within seconds, without a restart, and
// every event it acknowledged reaches the receiver; SIGTERM on a full
// disk returns within its bound.
func TestFullDiskRefusesAndRecovers(t *testing.T) {
	dir := mountTmpfs(t, "64m")
	rc := hookdtest.NewReceiver(t)
	cfg := fastConfig()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Storage = embedded.StorageConfig{MinFree: 1 << 20, Interval: 100 * time.Millisecond}
	h := hookdtest.Start(t, cfg)
	h.CreateEndpoint(t, `{"url":"`+rc.URL+`/hook","events":["disk.*"]}`)

	var accepted []string
	publish := func(id string) (int, []byte, time.Duration, *http.Response) {
		status, resp, out, took := post(t, h, id)
		if status == http.StatusAccepted {
			accepted = append(accepted, id)
		}
		return status, out, took, resp
	}
	for i := range 20 {
		if status, out, _, _ := publish(fmt.Sprintf("before-%d", i)); status != http.StatusAccepted {
			t.Fatalf("before the disk filled: %d %s", status, out)
		}
	}
	readyz := func() (int, string) {
		status, out := h.Do(t, http.MethodGet, "/readyz", nil)
		return status, string(out)
	}

	free := fillDisk(t, dir)
	hookdtest.WaitFor(t, 5*time.Second, "/readyz not ready, naming the full storage", func() bool {
		status, out := readyz()
		return status == http.StatusServiceUnavailable && strings.Contains(out, "storage full")
	})
	refused := func(when string) {
		t.Helper()
		status, out, took, resp := publish("refused-" + strings.ReplaceAll(when, " ", "-"))
		if status != http.StatusServiceUnavailable || errorOf(t, out).Code != "storage_full" {
			t.Fatalf("%s: %d %s, want 503 storage_full", when, status, out)
		}
		if ra := resp.Header.Get("Retry-After"); ra != "30" {
			t.Errorf("%s: Retry-After %q, want 30", when, ra)
		}
		if took > time.Second {
			t.Errorf("%s: refused after %s, want at once", when, took)
		}
	}
	refused("low space")

	// A producer publishing straight to JetStream meets the full disk: the
	// events stream fails the write and JetStream refuses it from then on.
	// hookd sees the failure and names it.
	js := h.App.JetStream()
	m := nats.NewMsg("events.disk.filled")
	m.Data = []byte(`{"pad":"` + strings.Repeat("y", 16000) + `"}`)
	for i := 0; ; i++ {
		// A block file may have a page of room left: soon it has none.
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		_, err := js.PublishMsg(ctx, m)
		cancel()
		if err != nil {
			break
		}
		if i == 10 {
			t.Fatal("160 KB published straight to JetStream on a full disk")
		}
	}
	hookdtest.WaitFor(t, 5*time.Second, "/readyz naming JetStream's write failure", func() bool {
		status, out := readyz()
		return status == http.StatusServiceUnavailable && strings.Contains(out, "write error") && strings.Contains(out, "no space left on device")
	})
	refused("write failed")

	// Space comes back: hookd takes events again within seconds.
	freedAt := time.Now()
	free()
	hookdtest.WaitFor(t, 15*time.Second, "/readyz ready again", func() bool { status, _ := readyz(); return status == http.StatusOK })
	t.Logf("ready again %s after space was freed", time.Since(freedAt).Round(time.Millisecond))
	hookdtest.WaitFor(t, 15*time.Second, "events accepted again", func() bool {
		status, _, _, _ := publish(fmt.Sprintf("after-%d", time.Now().UnixNano()))
		return status == http.StatusAccepted
	})
	t.Logf("taking events again %s after space was freed", time.Since(freedAt).Round(time.Millisecond))
	for i := range 10 {
		if status, out, _, _ := publish(fmt.Sprintf("after-%d", i)); status != http.StatusAccepted {
			t.Fatalf("after recovery: %d %s", status, out)
		}
	}
	// Nothing acknowledged is lost.
	undelivered := func() []string {
		got := rc.CountByID()
		var missing []string
		for _, id := range accepted {
			if got[id] == 0 { // the webhook-id is the event id
				missing = append(missing, id)
			}
		}
		return missing
	}
	deadline := time.Now().Add(time.Minute)
	for missing := undelivered(); len(missing) > 0; missing = undelivered() {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d accepted events not delivered a minute after recovery: %v", len(missing), len(accepted), missing)
		}
		time.Sleep(20 * time.Millisecond) // polling the receiver
	}

	// SIGTERM on a full disk returns within its bound, with deliveries in
	// flight whose attempts cannot be logged.
	slow := make(chan struct{}, 1) // the first arrival is kept, however early
	rc.SetRespond(func(int, hookdtest.Request) int {
		select {
		case slow <- struct{}{}:
		default:
		}
		time.Sleep(300 * time.Millisecond) // a slow receiver
		return http.StatusOK
	})
	for i := range 5 {
		if status, out, _, _ := publish(fmt.Sprintf("slow-%d", i)); status != http.StatusAccepted {
			t.Fatalf("before the disk filled again: %d %s", status, out)
		}
	}
	select {
	case <-slow:
	case <-time.After(30 * time.Second):
		t.Fatal("no delivery reached the slow receiver in 30 s")
	}
	free = fillDisk(t, dir)
	hookdtest.WaitFor(t, 5*time.Second, "not ready on the full disk again", func() bool {
		status, _ := readyz()
		return status == http.StatusServiceUnavailable
	})
	refused("full again")
	begin := time.Now()
	h.Stop(t)
	took := time.Since(begin)
	// What follows an attempt gets 2 s once hookd stops; the bound for
	// anything else is the attempt timeout + 10 s. Before, the attempts'
	// log records waited 10 s each for an acknowledgement that a full disk
	// never sends.
	t.Logf("stopped %s after cancel on a full disk", took.Round(time.Millisecond))
	if took > 6*time.Second {
		t.Errorf("stopping on a full disk took %s, want about 2 s", took)
	}
	select {
	case <-h.App.Stopped():
	case <-time.After(time.Minute):
		t.Fatal("the embedded server did not stop")
	}

	// Started again with room, hookd delivers what it had accepted.
	rc.SetRespond(nil)
	free()
	hookdtest.Start(t, cfg)
	deadline = time.Now().Add(time.Minute)
	for missing := undelivered(); len(missing) > 0; missing = undelivered() {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d accepted events not delivered after a stop on a full disk and a restart: %v", len(missing), len(accepted), missing)
		}
		time.Sleep(20 * time.Millisecond) // polling the receiver
	}
}
