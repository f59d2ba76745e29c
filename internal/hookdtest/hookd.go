package hookdtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/app"
)

// Hookd is a running hookd for one test.
type Hookd struct {
	App  *app.App
	URL  string // the API's base URL, e.g. http://127.0.0.1:34567
	stop context.CancelFunc
	done chan error
	// exited is set once Run has returned.
	exited atomic.Bool
}

// Running reports whether hookd is still running: Run has not returned (a
// part that failed stops the whole process).
func (h *Hookd) Running() bool { return !h.exited.Load() }

// Logger returns a logger for tests: quiet unless HOOKD_TEST_LOG is set.
func Logger() *slog.Logger {
	if os.Getenv("HOOKD_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Loopback opens the SSRF guard to 127.0.0.1 and ::1, where the tests'
// receivers listen.
var Loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// AdminKey is the admin API key every test hookd is started with.
const AdminKey = "hk_test_admin_key_0123456789"

// Start runs hookd with cfg until the test ends. Empty DataDir (with
// embedded NATS) becomes a temporary directory; empty HTTPAddr becomes
// "127.0.0.1:0".
func Start(t testing.TB, cfg app.Config) *Hookd {
	t.Helper()
	if cfg.NATSURLs == "" && cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = Logger()
	}
	if cfg.AdminKey == "" {
		cfg.AdminKey = AdminKey
	}
	if cfg.APIKeyRateLimit == 0 {
		cfg.APIKeyRateLimit = -1 // tests drive the API as fast as they can
	}
	if cfg.Worker.AllowNets == nil {
		cfg.Worker.AllowNets = Loopback // the tests' receivers
	}
	a, err := app.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start hookd: %v", err)
	}
	return run(t, a)
}

// Run runs a hookd made by app.New until the test ends (Start makes and
// runs one): for tests that start it themselves, while New waits.
func Run(t testing.TB, a *app.App) *Hookd { return run(t, a) }

// run runs a until the test ends.
func run(t testing.TB, a *app.App) *Hookd {
	ctx, cancel := context.WithCancel(context.Background())
	h := &Hookd{App: a, URL: "http://" + a.HTTPAddr(), stop: cancel, done: make(chan error, 1)}
	go func() {
		err := a.Run(ctx)
		h.exited.Store(true)
		h.done <- err
	}()
	t.Cleanup(func() { h.Stop(t) })
	return h
}

// Stop stops hookd and waits until it has drained; calling it twice is fine.
func (h *Hookd) Stop(t testing.TB) {
	t.Helper()
	h.stop()
	if h.done == nil {
		return
	}
	select {
	case err := <-h.done:
		if err != nil {
			t.Errorf("hookd stopped with error: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("hookd did not stop within 30s")
	}
	h.done = nil
}

// Do sends a JSON request to the API and returns the status and body.
func (h *Hookd) Do(t testing.TB, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, h.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+AdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// Endpoint is the API's view of an endpoint.
type Endpoint struct {
	ID      string   `json:"id"`
	URL     string   `json:"url"`
	Events  []string `json:"events"`
	Filter  string   `json:"filter"`
	Secret  string   `json:"secret"`
	Enabled bool     `json:"enabled"`
	// Ordering is "none" or "ordered".
	Ordering string `json:"ordering"`
}

// CreateEndpoint creates an endpoint, requires 201, and waits until this
// process's routers and workers see it.
func (h *Hookd) CreateEndpoint(t testing.TB, body any) Endpoint {
	t.Helper()
	status, out := h.Do(t, http.MethodPost, "/v1/endpoints", body)
	if status != http.StatusCreated {
		t.Fatalf("create endpoint: %d %s", status, out)
	}
	var ep Endpoint
	if err := json.Unmarshal(out, &ep); err != nil {
		t.Fatal(err)
	}
	h.WaitEndpoint(t, ep.ID, func(e *Endpoint) bool { return e != nil })
	return ep
}

// WaitEndpoint waits until the registry's copy of endpoint id satisfies
// cond (nil when it was deleted).
func (h *Hookd) WaitEndpoint(t testing.TB, id string, cond func(*Endpoint) bool) {
	t.Helper()
	WaitFor(t, 10*time.Second, "endpoint "+id+" in the registry", func() bool {
		c := h.App.Registry().Snapshot().Get(id)
		if c == nil {
			return cond(nil)
		}
		return cond(&Endpoint{ID: c.ID, URL: c.URL, Events: c.Events, Filter: c.Filter, Secret: c.Secret, Enabled: !c.Disabled})
	})
}

// PublishEvent posts an event to the API and requires 202; it returns the
// event id.
func (h *Hookd) PublishEvent(t testing.TB, typ string, data any) string {
	t.Helper()
	return h.PublishEventAs(t, "", typ, data)
}

// PublishEventAs publishes an event addressed to a tenant ("" for none).
func (h *Hookd) PublishEventAs(t testing.TB, tenantID, typ string, data any) string {
	t.Helper()
	body := map[string]any{"type": typ, "data": data}
	if tenantID != "" {
		body["tenant"] = tenantID
	}
	status, out := h.Do(t, http.MethodPost, "/v1/events", body)
	if status != http.StatusAccepted {
		t.Fatalf("publish event: %d %s", status, out)
	}
	var acc struct{ ID string }
	if err := json.Unmarshal(out, &acc); err != nil {
		t.Fatal(err)
	}
	return acc.ID
}
