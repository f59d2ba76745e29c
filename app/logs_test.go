package app_test

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/hookdtest"
)

// Every failed attempt is one JSON log line with the endpoint, delivery,
// status and error; no log line at any level holds a secret: not the
// URL's query, a header value, nor the signing secret.
func TestFailedAttemptLogLine(t *testing.T) {
	const querySecret, headerSecret = "query-secret-1234", "header-secret-5678"
	var logs lockedBuffer
	cfg := fastConfig()
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := hookdtest.Start(t, cfg)

	failing := hookdtest.NewReceiver(t)
	failing.SetRespond(func(int, hookdtest.Request) int { return http.StatusInternalServerError })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/hook"
	ln.Close() // connection refused from now on
	answered := h.CreateEndpoint(t, map[string]any{"url": failing.URL + "/hook?token=" + querySecret, "events": []string{"job.*"},
		"headers": map[string]string{"Authorization": "Bearer " + headerSecret}})
	refused := h.CreateEndpoint(t, map[string]any{"url": closed + "?token=" + querySecret, "events": []string{"job.*"}})
	h.PublishEvent(t, "job.failed", map[string]int{"x": 1})
	hookdtest.WaitFor(t, 20*time.Second, "both deliveries dead-lettered", func() bool {
		return len(h.DeadLetters(t, answered.ID)) == 1 && len(h.DeadLetters(t, refused.ID)) == 1
	})
	h.WaitIdle(t, answered.ID, refused.ID)

	type line struct {
		Level, Msg, Endpoint, Delivery, Event, Outcome, Err string
		Status, Attempt                                     int
		RetryIn                                             *float64 `json:"retry_in_seconds"`
	}
	failed := map[string][]line{}
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line is not JSON: %s", sc.Bytes())
		}
		if l.Msg == "delivery attempt failed" {
			failed[l.Endpoint] = append(failed[l.Endpoint], l)
		}
	}
	for _, c := range []struct {
		id     string
		status int
		err    string
	}{{answered.ID, 500, "HTTP 500"}, {refused.ID, 0, "connection refused"}} {
		lines := failed[c.id]
		if len(lines) != 3 { // the first attempt and two retries
			t.Fatalf("endpoint %s: %d failed-attempt lines, want 3: %+v", c.id, len(lines), lines)
		}
		for i, l := range lines {
			wantOutcome := "retrying"
			if i == 2 {
				wantOutcome = "dead"
			}
			if l.Level != "WARN" || !strings.HasPrefix(l.Delivery, "dlv_") || l.Event == "" || l.Attempt != i+1 ||
				l.Status != c.status || !strings.Contains(l.Err, c.err) || l.Outcome != wantOutcome || (l.RetryIn != nil) != (i < 2) {
				t.Errorf("endpoint %s attempt %d: %+v", c.id, i+1, l)
			}
		}
	}
	if !strings.Contains(logs.String(), `/redacted?redacted\"`) || strings.Contains(logs.String(), "/hook") {
		t.Errorf("the refused connection's error does not name the URL with its path and query redacted")
	}
	secret := strings.TrimPrefix(answered.Secret, "whsec_")
	for _, s := range []string{querySecret, headerSecret, secret, strings.TrimPrefix(refused.Secret, "whsec_")} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("a log line holds the secret %q", s)
		}
	}
}
