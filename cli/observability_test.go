package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/hookdtest"
)

// --log-format json makes every log line a JSON object; --metrics-listen
// serves /metrics, /healthz and /readyz without a key; hookd healthcheck
// passes against a ready /readyz.
func TestServeJSONLogsAndMetricsListener(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, "serve", []string{"--data", t.TempDir(), "--http", "127.0.0.1:0", "--nats-listen", "",
			"--log-format", "json", "--metrics-listen", "127.0.0.1:0"}, &syncWriter{w: &stdout}, &syncWriter{w: &stderr}, env(nil))
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	})
	var started struct {
		Msg, Metrics string
		Tracing      *bool
	}
	hookdtest.WaitFor(t, 20*time.Second, "serve to start", func() bool { return strings.Contains(logsString(&stderr), "hookd started") })
	sc := bufio.NewScanner(strings.NewReader(logsString(&stderr)))
	lines := 0
	for sc.Scan() {
		var l struct{ Time, Level, Msg string }
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil || l.Time == "" || l.Level == "" || l.Msg == "" {
			t.Fatalf("not a JSON log line with time, level and msg: %s", sc.Bytes())
		}
		if l.Msg == "hookd started" {
			_ = json.Unmarshal(sc.Bytes(), &started)
		}
		lines++
	}
	if lines == 0 || started.Metrics == "" || started.Tracing == nil || *started.Tracing {
		t.Fatalf("%d log lines; started line %+v: want the metrics address and tracing false", lines, started)
	}

	base := "http://" + started.Metrics
	hookdtest.WaitFor(t, 10*time.Second, "/readyz 200", func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	var out, errOut bytes.Buffer
	if code := Main([]string{"healthcheck", base + "/readyz"}, &out, &errOut, env(nil)); code != 0 || !strings.Contains(out.String(), "ready") {
		t.Errorf("healthcheck of a ready hookd: exit %d, %q %q", code, out.String(), errOut.String())
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(body.String(), "hookd_build_info") {
		t.Errorf("GET /metrics without a key: %d %.200s", resp.StatusCode, body.String())
	}
}

func TestHealthcheckCommand(t *testing.T) {
	unready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"error":{"code":"not_ready"}}`, http.StatusServiceUnavailable)
	}))
	t.Cleanup(unready.Close)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"healthcheck", unready.URL + "/readyz"}, 1, "503"},
		{[]string{"healthcheck", "ftp://x/readyz"}, 2, "not an http:// URL"},
		{[]string{"healthcheck", "a", "b"}, 2, "one URL"},
	} {
		var out, errOut bytes.Buffer
		if code := Main(c.args, &out, &errOut, env(nil)); code != c.code || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%v: exit %d %q, want %d naming %q", c.args, code, errOut.String(), c.code, c.want)
		}
	}
}
