package dashboard_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/internal/hookdtest"
)

// chromium finds a Chromium to drive: $HOOKD_CHROMIUM, else one on PATH.
// Without one the test skips, unless HOOKD_BROWSER_TEST=require (CI),
// where a missing browser must fail rather than pass silently.
func chromium(t *testing.T) string {
	if p := os.Getenv("HOOKD_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("HOOKD_BROWSER_TEST") == "require" {
		t.Fatal("no chromium found (HOOKD_BROWSER_TEST=require): apt-get install chromium, or set HOOKD_CHROMIUM")
	}
	t.Skip("no chromium on PATH: the dashboard browser test needs one (apt-get install chromium, or set HOOKD_CHROMIUM)")
	return ""
}

// browser drives one headless Chromium tab and records what the page
// logged as an error: an exception, a console.error, a refused CSP, a
// failed request.
type browser struct {
	ctx   context.Context
	shots string
	mu    sync.Mutex
	errs  []string
}

func newBrowser(t *testing.T) *browser {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox will not start
		chromedp.WindowSize(1280, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first Run starts the browser; it must not carry the deadline.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	shots, err := os.MkdirTemp("", "hookd-dashboard-")
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{ctx: ctx, shots: shots}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == "error" {
				b.mu.Lock()
				b.errs = append(b.errs, string(m.Type)+" "+m.Source+": "+m.Text)
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// stepTimeout bounds each step: generous for a loaded CI machine, while
// the whole test normally takes 10 to 20 s.
const stepTimeout = 20 * time.Second

// do runs a step's actions within its own deadline.
func (b *browser) do(t *testing.T, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.shot(t, "failed-"+strings.ReplaceAll(step, " ", "-"))
		t.Fatalf("%s: %v (page errors: %v; screenshots in %s)", step, err, b.pageErrors(), b.shots)
	}
}

func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// goTo changes the route: the page is one document, routes are fragments.
func (b *browser) goTo(route string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void]("void (location.hash = " + jsString(route) + ")")
}

// shot writes a PNG of the whole page to the screenshot directory.
func (b *browser) shot(t *testing.T, name string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return nil
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		t.Error(err)
	}
	return png
}

func (b *browser) pageErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func css(s string) chromedp.CSS { return chromedp.CSS(s) }

// TestDashboardInBrowser drives the main flows in headless Chromium
// against a real hookd (embedded NATS, router, worker) and real
// receivers: sign in, create an endpoint, send a test, edit the filter
// (tested live), see a delivery's attempt, retry a dead delivery once its
// receiver recovered, watch the live tail, read the endpoints' health.
func TestDashboardInBrowser(t *testing.T) {
	start := time.Now()
	b := newBrowser(t)
	h := hookdtest.Start(t, app.Config{})
	ok := hookdtest.NewReceiver(t)
	failing := hookdtest.NewReceiver(t)
	var recovered atomic.Bool
	failing.SetRespond(func(int, hookdtest.Request) int {
		if recovered.Load() {
			return http.StatusOK
		}
		return http.StatusServiceUnavailable
	})

	b.do(t, "sign in", chromedp.Navigate(h.URL+"/"),
		chromedp.WaitVisible(css("#login-key")),
		chromedp.SendKeys(css("#login-key"), hookdtest.AdminKey),
		chromedp.Click(css("#login-submit")),
		chromedp.WaitVisible(css("#new-url")))

	b.do(t, "create an endpoint",
		chromedp.SendKeys(css("#new-url"), ok.URL+"/hook"),
		chromedp.SendKeys(css("#new-events"), "order.*"),
		chromedp.SendKeys(css("#new-name"), "Orders"),
		chromedp.Click(css("#new-submit")),
		chromedp.WaitVisible(css("#test-send")))
	b.do(t, "send a test", chromedp.Click(css("#test-send")), chromedp.WaitVisible(css("#test-result .test-ok")))
	if got := b.text(t, "#test-result"); !strings.Contains(got, "HTTP 200") {
		t.Errorf("test result %q, want HTTP 200", got)
	}
	if ok.Count() != 1 {
		t.Errorf("the receiver got %d requests after the test send, want 1", ok.Count())
	}
	b.shot(t, "01-endpoint")
	epID := b.text(t, ".toolbar .mono")

	// The draft filter is tested against the sample event as it is typed
	// (the sample's amount is 120), and only then saved.
	b.do(t, "edit the filter",
		chromedp.SendKeys(css("#filter-expr"), "data.amount > 100"),
		chromedp.WaitVisible(css("#filter-result .badge.ok")),
		chromedp.WaitEnabled(css("#filter-save")),
		chromedp.Click(css("#filter-save")),
		chromedp.WaitVisible(css("#filter-result.ok")))
	var stored struct{ Filter string }
	if status, out := h.Do(t, http.MethodGet, "/v1/endpoints/"+epID, nil); status != http.StatusOK || json.Unmarshal(out, &stored) != nil || stored.Filter != "data.amount > 100" {
		t.Errorf("stored endpoint after saving the filter: %d %s", status, out)
	}

	// A delivery shows up live in the endpoint's list; its page shows the
	// attempt.
	h.PublishEvent(t, "order.created", map[string]int{"amount": 500})
	b.do(t, "see the delivery",
		chromedp.WaitVisible(css(`#deliveries tr[data-status="succeeded"] a`)),
		chromedp.Click(css(`#deliveries tr[data-status="succeeded"] a`)),
		chromedp.WaitVisible(css(`#attempts tr[data-outcome="succeeded"]`)))
	b.shot(t, "02-delivery")

	// A delivery to a failing receiver dies after its one attempt; retried
	// from its page once the receiver is back, it succeeds.
	bad := h.CreateEndpoint(t, map[string]any{"url": failing.URL + "/hook", "events": []string{"invoice.*"}, "name": "Invoices",
		"retry": map[string]any{"max_attempts": 1}})
	h.PublishEvent(t, "invoice.created", map[string]int{"amount": 70})
	b.do(t, "find the dead delivery", b.goTo("#/endpoints/"+bad.ID),
		chromedp.WaitVisible(css("#deliveries-status")),
		chromedp.Evaluate[chromedp.Void](`{ const s = document.querySelector('#deliveries-status'); s.value = 'dead'; s.dispatchEvent(new Event('change')); }`),
		chromedp.WaitVisible(css(`#deliveries tr[data-status="dead"] a`)),
		chromedp.Click(css(`#deliveries tr[data-status="dead"] a`)),
		chromedp.WaitVisible(css(`#attempts tr[data-outcome="dead"]`)))
	if got := b.text(t, "#attempts tbody"); !strings.Contains(got, "503") {
		t.Errorf("dead attempt row %q lacks the 503", got)
	}
	recovered.Store(true)
	b.do(t, "retry", chromedp.Click(css("#retry")),
		chromedp.WaitVisible(css(`#attempts tr[data-attempt="2"][data-outcome="succeeded"]`)))
	b.shot(t, "03-retried")

	b.do(t, "live tail", b.goTo("#/tail"), chromedp.WaitVisible(css(`#tail tr[data-outcome="succeeded"]`)))
	b.shot(t, "04-tail")

	// A receiver answering 410 Gone has its endpoint disabled by hookd:
	// the list tells that apart from a person's disable.
	gone := hookdtest.NewReceiver(t)
	gone.SetRespond(func(int, hookdtest.Request) int { return http.StatusGone })
	legacy := h.CreateEndpoint(t, map[string]any{"url": gone.URL + "/hook", "events": []string{"crm.>"}, "name": "Legacy CRM"})
	h.PublishEvent(t, "crm.contact.updated", map[string]string{"email": "a@example.com"})
	h.WaitEndpoint(t, legacy.ID, func(e *hookdtest.Endpoint) bool { return e != nil && !e.Enabled })

	b.do(t, "endpoints with health", b.goTo("#/"),
		chromedp.WaitVisible(css(`#endpoints tr[data-id="`+legacy.ID+`"][data-health="loaded"]`)),
		chromedp.WaitVisible(css(`#endpoints tr[data-id="`+bad.ID+`"][data-health="loaded"]`)),
		chromedp.WaitVisible(css(`#endpoints tr[data-id="`+epID+`"][data-health="loaded"]`)))
	if got := b.text(t, `#endpoints tr[data-id="`+bad.ID+`"]`); !strings.Contains(got, "50% of 2") {
		t.Errorf("failing endpoint's row %q, want a 50%% success rate over 2 attempts", got)
	}
	if got := b.text(t, `#endpoints tr[data-id="`+legacy.ID+`"]`); !strings.Contains(got, "auto-disabled") {
		t.Errorf("row of the endpoint disabled for 410 Gone %q, want auto-disabled", got)
	}
	png := b.shot(t, "05-endpoints")
	if os.Getenv("HOOKD_UPDATE_SCREENSHOT") == "1" && png != nil {
		if err := os.WriteFile(filepath.Join("..", "docs", "dashboard.png"), png, 0o644); err != nil {
			t.Error(err)
		}
	}
	if errs := b.pageErrors(); len(errs) > 0 {
		t.Errorf("the page logged errors:\n%s", strings.Join(errs, "\n"))
	}
	if n := len(h.Attempts(t, bad.ID)); n < 2 {
		t.Errorf("the retried delivery has %d attempts in the log, want 2", n)
	}
	t.Logf("screenshots in %s; %s", b.shots, time.Since(start).Round(time.Millisecond))
}
