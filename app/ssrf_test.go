package app_test

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/hookdtest"
)

// By default hookd delivers to public addresses only: a receiver on
// 127.0.0.1 (or reached by a name resolving there) gets nothing, the
// attempt is a permanent failure saying why, and a test send is refused
// too. Opening 127.0.0.0/8 with AllowNets (--allow-nets) lets it through.
func TestSSRFGuardRefusesLoopbackByDefault(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	cfg := fastConfig()
	cfg.Worker.AllowNets = []netip.Prefix{} // the production default: none
	h := hookdtest.Start(t, cfg)
	byIP := h.CreateEndpoint(t, map[string]any{"url": rc.URL})
	byName := h.CreateEndpoint(t, map[string]any{"url": strings.Replace(rc.URL, "127.0.0.1", "localhost", 1)})
	h.PublishEvent(t, "a.b", nil)
	for _, ep := range []hookdtest.Endpoint{byIP, byName} {
		hookdtest.WaitFor(t, 10*time.Second, "the refused delivery dead-lettered", func() bool { return len(h.DeadLetters(t, ep.ID)) == 1 })
		as := h.Attempts(t, ep.ID)
		if len(as) != 1 || !strings.Contains(as[0].Error, "SSRF guard") || !strings.Contains(as[0].Error, "loopback") {
			t.Fatalf("attempts %+v: want one, refused by the SSRF guard as loopback, not retried", as)
		}
	}
	status, out := h.Do(t, http.MethodPost, "/v1/endpoints/"+byIP.ID+"/test", nil)
	if status != http.StatusOK || !strings.Contains(string(out), "SSRF guard") {
		t.Fatalf("test send: %d %s, want the refusal in the attempt", status, out)
	}
	if n := rc.Count(); n != 0 {
		t.Fatalf("the loopback receiver got %d requests", n)
	}

	open := fastConfig()
	open.Worker.AllowNets = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	h2 := hookdtest.Start(t, open)
	h2.CreateEndpoint(t, map[string]any{"url": rc.URL})
	h2.PublishEvent(t, "a.b", nil)
	hookdtest.WaitFor(t, 10*time.Second, "the delivery with 127.0.0.0/8 allowed", func() bool { return rc.Count() == 1 })
}
