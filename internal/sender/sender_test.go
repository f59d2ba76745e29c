package sender

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/netguard"
	"github.com/hookd/hookd/signing"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		code      int
		permanent bool
		retry     bool
	}{
		{200, false, false}, {204, false, false}, {299, false, false},
		{301, false, true}, {302, false, true},
		{400, true, false}, {401, true, false}, {404, true, false}, {410, false, false},
		{408, false, true}, {429, false, true},
		{500, false, true}, {502, false, true}, {503, false, true}, {504, false, true},
	}
	for _, c := range cases {
		err := classify(c.code, nil)
		var perm *PermanentError
		var retry *RetryableError
		if errors.As(err, &perm) != c.permanent || errors.As(err, &retry) != c.retry {
			t.Errorf("classify(%d) = %v", c.code, err)
		}
	}
	var gone *GoneError
	if !errors.As(classify(410, nil), &gone) {
		t.Error("410 is not a GoneError")
	}
}

func newTestSender() *Sender {
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	return New("hookd/test", netguard.New(loopback), slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func TestSendReadsAtMost64KiB(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(500)
		_, _ = io.WriteString(w, strings.Repeat("x", 1<<20))
	}))
	defer srv.Close()
	key, _ := signing.ParseKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	resp, err := newTestSender().Send(context.Background(), Request{URL: srv.URL, MessageID: "m", Body: []byte("{}"), Keys: []signing.Key{key}, Timeout: 5 * time.Second})
	var retry *RetryableError
	if !errors.As(err, &retry) || retry.StatusCode != 500 {
		t.Fatalf("err %v", err)
	}
	if len(resp.Body) != maxResponseRead {
		t.Fatalf("read %d bytes of the response, want %d", len(resp.Body), maxResponseRead)
	}
	if len(snippet(resp.Body)) != maxResponseKept {
		t.Fatalf("snippet of %d bytes", len(snippet(resp.Body)))
	}
}

func TestSendRetriesConnectionFailuresInProcess(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	url := srv.URL
	srv.Close()
	start := time.Now()
	_, err := newTestSender().Send(context.Background(), Request{URL: url, MessageID: "m", Body: []byte("{}"), Timeout: 5 * time.Second})
	var retry *RetryableError
	if !errors.As(err, &retry) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("err %v, want a retryable connection refused", err)
	}
	if !strings.Contains(err.Error(), "3 attempt") {
		t.Fatalf("err %v: the connection failure was not retried twice in-process", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatal("in-process retries are not short")
	}
}

// A failed request's error never carries the URL's query, which may hold a
// shared secret, nor its path, which is the credential of Slack-style
// webhook URLs; it still names the host.
func TestSendErrorRedactsQuery(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, u := range []string{srv.URL + "/hook?secret=s3cr3t", srv.URL + "/services/T0/B0/s3cr3t", srv.URL + "/s3cr3t#s3cr3t"} {
		srv.Close()
		_, err := newTestSender().Send(context.Background(), Request{URL: u, MessageID: "m", Body: []byte("{}"), Timeout: 5 * time.Second})
		if err == nil || strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "/services") || !strings.Contains(err.Error(), host+"/redacted") {
			t.Fatalf("%s: error %v carries the secret, or does not name the host", u, err)
		}
	}
}

// A delivery carries its body's content type and the header values the
// router rendered; a template is never sent as written, and the
// endpoint's static values win.
func TestSendContentTypeAndRenderedHeaders(t *testing.T) {
	got := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got <- r.Header.Clone() }))
	defer srv.Close()
	_, err := newTestSender().Send(context.Background(), Request{URL: srv.URL, MessageID: "m", Body: []byte("a,b"), ContentType: "text/csv",
		Headers:  map[string]string{"Authorization": "Bearer {{ data.token }}", "X-Static": "s", "X-Was-Templated": "now static"},
		Rendered: map[string]string{"Authorization": "Bearer tok", "X-Was-Templated": "rendered"}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	h := <-got
	for name, want := range map[string]string{"Content-Type": "text/csv", "Authorization": "Bearer tok", "X-Static": "s", "X-Was-Templated": "now static"} {
		if h.Get(name) != want {
			t.Errorf("%s: %q, want %q", name, h.Get(name), want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":     0,
		"7":    7 * time.Second,
		"-3":   0,
		"soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Minute).Format(http.TimeFormat):     0,
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", v, got, want)
		}
	}
}
