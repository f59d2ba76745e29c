package app_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/hookdtest"
)

// A dump of the endpoints bucket holds no signing secret and no header
// value in plain text, while deliveries are still signed with the secret
// (the official verifier accepts them) and carry the header, the API still
// shows the secret to an admin, and the logs, at debug level, show none.
func TestSecretsAreSealedAtRest(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	var logs lockedBuffer
	cfg := fastConfig()
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := hookdtest.Start(t, cfg) // a single embedded server: it keeps its own master key
	const header = "Bearer receiver-token-0123456789"
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "headers": map[string]string{"Authorization": header}})
	if status, out := h.Do(t, http.MethodPost, "/v1/endpoints/"+ep.ID+"/rotate-secret", map[string]string{"grace_period": "1h"}); status != http.StatusOK {
		t.Fatalf("rotate: %d %s", status, out)
	}
	status, out := h.Do(t, http.MethodGet, "/v1/endpoints/"+ep.ID+"/secret", nil)
	if status != http.StatusOK || !strings.Contains(string(out), "whsec_") {
		t.Fatalf("secret: %d %s", status, out)
	}
	newSecret := string(out)[strings.Index(string(out), "whsec_"):]
	newSecret = newSecret[:strings.IndexByte(newSecret, '"')]

	raw := h.StoredEndpoint(t, ep.ID)
	for _, secret := range []string{ep.Secret, newSecret, header, "receiver-token"} {
		if strings.Contains(raw, secret) {
			t.Fatalf("the stored endpoint shows %q in plain text: %s", secret, raw)
		}
	}
	if !strings.Contains(raw, "sealed:v1:") {
		t.Fatalf("no sealed value in %s", raw)
	}

	h.PublishEvent(t, "a.b", map[string]int{"n": 1})
	hookdtest.WaitFor(t, 10*time.Second, "the delivery", func() bool { return rc.Count() == 1 })
	got := rc.Requests()[0]
	if got.Header.Get("Authorization") != header {
		t.Fatalf("delivery carried Authorization %q", got.Header.Get("Authorization"))
	}
	verify(t, newSecret, got)
	verify(t, ep.Secret, got) // the old one, in its grace period
	h.WaitIdle(t)
	for _, secret := range []string{ep.Secret, newSecret, "receiver-token"} {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("the logs (debug level) show %q", secret)
		}
	}
	if logs.Len() == 0 {
		t.Fatal("no logs captured: the check above proves nothing")
	}
}

// lockedBuffer is a bytes.Buffer safe for the logger's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}
