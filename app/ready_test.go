package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/embedded"
	"github.com/hookd/hookd/internal/hookdtest"
)

// probe GETs a probe URL and returns its status and decoded body; status 0
// when nothing answers.
func probe(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("%s: %d %s: not JSON", url, resp.StatusCode, b)
	}
	if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
		t.Errorf("%s: 503 without Retry-After", url)
	}
	return resp.StatusCode, body
}

// notReady returns the message of a 503 not_ready answer, "" for any other.
func notReady(status int, body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	if status != http.StatusServiceUnavailable || e["code"] != "not_ready" {
		return ""
	}
	msg, _ := e["message"].(string)
	return msg
}

// /readyz answers 200 once JetStream, the streams and every role are up,
// on the API and on the metrics listener; 503 not_ready naming the stream
// once one is missing. /healthz answers all along.
func TestReadyzAnswersWhetherStreamsExist(t *testing.T) {
	cfg := fastConfig()
	cfg.MetricsAddr = "127.0.0.1:0"
	h := hookdtest.Start(t, cfg)
	bases := []string{h.URL, "http://" + h.App.MetricsAddr()}
	for _, base := range bases {
		hookdtest.WaitFor(t, 10*time.Second, base+"/readyz 200", func() bool {
			status, body := probe(t, base+"/readyz")
			return status == http.StatusOK && body["status"] == "ready"
		})
	}
	if err := h.App.JetStream().DeleteStream(t.Context(), h.App.Names().IndexStream()); err != nil {
		t.Fatal(err)
	}
	for _, base := range bases {
		status, body := probe(t, base+"/readyz")
		if msg := notReady(status, body); !strings.Contains(msg, "stream "+h.App.Names().IndexStream()+" missing") {
			t.Errorf("%s/readyz without %s: %d %v", base, h.App.Names().IndexStream(), status, body)
		}
		if status, _ := probe(t, base+"/healthz"); status != http.StatusOK {
			t.Errorf("%s/healthz: %d, want 200: the process is alive", base, status)
		}
	}
}

// A worker alone (no API) serves its probes on --metrics-listen: not ready
// before its roles run, ready once they do, 503 while its NATS server is
// down, ready again once it is back.
func TestReadyzFollowsJetStream(t *testing.T) {
	dir := t.TempDir()
	ns := hookdtest.StartNATS(t, embedded.Config{StoreDir: dir})
	url := ns.ClientURL()
	a, err := app.New(context.Background(), ns.Config(app.Config{NoRouter: true, MetricsAddr: "127.0.0.1:0", Logger: hookdtest.Logger()}))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Ready(t.Context()); err == nil || !strings.Contains(err.Error(), "worker not delivering") {
		t.Errorf("before Run: Ready() = %v, want the worker named", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	readyz := "http://" + a.MetricsAddr() + "/readyz"
	hookdtest.WaitFor(t, 10*time.Second, "ready", func() bool { status, _ := probe(t, readyz); return status == http.StatusOK })

	ns.Shutdown()
	hookdtest.WaitFor(t, 10*time.Second, "not ready without NATS", func() bool { return notReady(probe(t, readyz)) != "" })

	hookdtest.StartNATS(t, embedded.Config{StoreDir: dir, Listen: strings.TrimPrefix(url, "nats://"), InternalKey: ns.Seed})
	hookdtest.WaitFor(t, 20*time.Second, "ready again", func() bool { status, _ := probe(t, readyz); return status == http.StatusOK })
}
