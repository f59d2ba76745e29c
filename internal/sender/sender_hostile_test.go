package sender

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/netguard"
	"github.com/hookd/hookd/signing"
)

func testRequest(t *testing.T, url string, timeout time.Duration) Request {
	t.Helper()
	key, _ := signing.ParseKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	return Request{URL: url, MessageID: "m", Body: []byte("{}"), Keys: []signing.Key{key}, Timeout: timeout}
}

// A redirect is never followed: the place it points to gets nothing, and
// the attempt is a failure.
func TestSendNeverFollowsRedirects(t *testing.T) {
	var hit atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hit.Add(1) }))
	defer target.Close()
	redirector := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
	defer redirector.Close()
	_, err := newTestSender().Send(context.Background(), testRequest(t, redirector.URL, 5*time.Second))
	var retry *RetryableError
	if !errors.As(err, &retry) || retry.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("err %v, want a failed attempt with 307", err)
	}
	if hit.Load() != 0 {
		t.Fatal("the redirect was followed")
	}
}

// A receiver that answers 2xx and then streams forever costs at most the
// read cap and returns at once; one that never answers is cut off by the
// timeout.
func TestSendBoundsHostileReceivers(t *testing.T) {
	stop := make(chan struct{})
	endless := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		chunk := []byte(strings.Repeat("x", 32<<10))
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer endless.Close()
	start := time.Now()
	resp, err := newTestSender().Send(context.Background(), testRequest(t, endless.URL, 5*time.Second))
	if err != nil || len(resp.Body) != maxResponseRead || time.Since(start) > 4*time.Second {
		t.Fatalf("endless body: err %v, read %d bytes in %s; want success, %d bytes, well within the timeout", err, len(resp.Body), time.Since(start), maxResponseRead)
	}

	silent := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-stop }))
	defer silent.Close()
	defer close(stop) // before the servers close: their handlers must return
	start = time.Now()
	_, err = newTestSender().Send(context.Background(), testRequest(t, silent.URL, 300*time.Millisecond))
	var retry *RetryableError
	if !errors.As(err, &retry) || !strings.Contains(err.Error(), "timed out") || time.Since(start) > 3*time.Second {
		t.Fatalf("silent receiver: %v after %s, want a timeout after 300ms", err, time.Since(start))
	}
}

// The guard sees the address really dialled, whatever the URL says: a
// name resolving to loopback is refused like the IP, permanently, and the
// in-process connection retries do not retry it.
func TestSendRefusesGuardedAddresses(t *testing.T) {
	var hit atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hit.Add(1) }))
	defer srv.Close()
	s := New("hookd/test", netguard.New(nil), slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, url := range []string{srv.URL, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)} {
		_, err := s.Send(context.Background(), testRequest(t, url+"/?secret=s3cr3t", 5*time.Second))
		var perm *PermanentError
		if !errors.As(err, &perm) || !errors.Is(err, netguard.ErrBlocked) || !strings.Contains(err.Error(), "loopback") {
			t.Fatalf("%s: %v, want a permanent refusal naming loopback", url, err)
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Fatalf("the refusal shows the URL's query: %v", err)
		}
	}
	if hit.Load() != 0 {
		t.Fatalf("the guarded receiver got %d requests", hit.Load())
	}
}
