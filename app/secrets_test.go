package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/hookdtest"
	"github.com/hookd/hookd/topology"
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

// Endpoint URLs are credentials themselves: a Slack-style URL (the secret
// in the path) and a ?token= URL are sealed at rest, so a dump of every
// revision the endpoints bucket holds shows neither, nor any part of the
// path or query; deliveries still go to exactly those URLs, and the API
// still shows each owner its URL. A Slack-style URL that refuses the
// connection leaves no trace of its path in the delivery log, the dead
// letters or the logs (debug level) either.
func TestEndpointURLsAreSealedAtRest(t *testing.T) {
	const pathSecret, querySecret = "T0SLACK/B0HOOK/xoxPathSecret0123456789", "tokQuerySecret9876543210"
	type hit struct{ path, query string }
	hits := make(chan hit, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits <- hit{r.URL.Path, r.URL.RawQuery}
	}))
	defer srv.Close()
	var logs lockedBuffer
	cfg := fastConfig()
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := hookdtest.Start(t, cfg) // a single embedded server: it keeps its own master key
	createTenant(t, h, `{"id":"acme"}`)
	slackURL := srv.URL + "/services/" + pathSecret
	tokenURL := srv.URL + "/hook?token=" + querySecret
	slack := h.CreateEndpoint(t, map[string]any{"url": slackURL, "events": []string{"a.*"}})
	token := h.CreateEndpoint(t, map[string]any{"url": tokenURL, "events": []string{"a.*"}, "tenant": "acme"})
	// A change stores the endpoint again: sealed again, never in the clear.
	if status, out := h.Do(t, http.MethodPatch, "/v1/endpoints/"+slack.ID, map[string]string{"name": "renamed"}); status != http.StatusOK {
		t.Fatalf("patch: %d %s", status, out)
	}

	dump := hookdtest.Messages(t, h.App.JetStream(), topology.KVStream(h.App.Names().EndpointsBucket()), "$KV."+h.App.Names().EndpointsBucket()+".*")
	if len(dump) < 2 {
		t.Fatalf("the bucket dump holds %d records, want the 2 endpoints", len(dump))
	}
	for _, m := range dump {
		for _, s := range []string{pathSecret, "xoxPathSecret", querySecret, "token=", "/services/", "/hook"} {
			if strings.Contains(string(m.Data), s) {
				t.Fatalf("the stored endpoint %s shows %q in plain text: %s", m.Subject, s, m.Data)
			}
		}
		var stored struct{ URL string }
		if err := json.Unmarshal(m.Data, &stored); err != nil || !strings.HasPrefix(stored.URL, "sealed:v1:") {
			t.Fatalf("stored url %q is not sealed (%v)", stored.URL, err)
		}
	}

	// The owner still sees its URL: the admin, and acme's key its own.
	if status, out := h.Do(t, http.MethodGet, "/v1/endpoints/"+slack.ID, nil); status != http.StatusOK || !strings.Contains(string(out), `"url":"`+slackURL+`"`) {
		t.Fatalf("GET %s: %d %s, want url %s", slack.ID, status, out, slackURL)
	}
	status, out := callAs(t, h, tenantKey(t, h, "acme"), http.MethodGet, "/v1/endpoints/"+token.ID, "")
	if status != http.StatusOK || !strings.Contains(out, `"url":"`+tokenURL+`"`) {
		t.Fatalf("acme's key GET %s: %d %s, want url %s", token.ID, status, out, tokenURL)
	}

	// Deliveries go to the URLs as given.
	h.PublishEvent(t, "a.b", nil)
	h.PublishEventAs(t, "acme", "a.b", nil)
	got := map[hit]bool{}
	for range 2 {
		select {
		case x := <-hits:
			got[x] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("deliveries received: %v, want 2", got)
		}
	}
	for _, want := range []hit{{"/services/" + pathSecret, ""}, {"/hook", "token=" + querySecret}} {
		if !got[want] {
			t.Errorf("no delivery to %+v: got %v", want, got)
		}
	}

	// A Slack-style URL whose host refuses the connection: its failed
	// attempts and dead letter name the host only.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	const refusedSecret = "T0DEAD/B0HOOK/xoxRefusedSecret0123456789"
	refused := h.CreateEndpoint(t, map[string]any{"url": closed + "/services/" + refusedSecret, "events": []string{"c.*"}})
	h.PublishEvent(t, "c.d", nil)
	hookdtest.WaitFor(t, 10*time.Second, "the dead letter", func() bool { return len(h.DeadLetters(t, refused.ID)) == 1 })
	h.WaitIdle(t, refused.ID)
	records := hookdtest.LogMessages(t, h, refused.ID)
	records = append(records, h.DeadLetters(t, refused.ID)...)
	sawHost := false
	for _, m := range records {
		all := fmt.Sprint(m.Header) + string(m.Data)
		if strings.Contains(all, "xoxRefusedSecret") || strings.Contains(all, "/services/") {
			t.Fatalf("a stored record of %s shows the URL's path: %s", m.Subject, all)
		}
		sawHost = sawHost || strings.Contains(all, ln.Addr().String()+"/redacted")
	}
	if !sawHost {
		t.Fatalf("no record names the refused host (the check above proves nothing): %d records", len(records))
	}
	for _, s := range []string{pathSecret, querySecret, "xoxRefusedSecret"} {
		if strings.Contains(logs.String(), s) {
			t.Fatalf("the logs (debug level) show %q", s)
		}
	}
}
