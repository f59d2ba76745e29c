package app_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/internal/hookdtest"
)

func outcomes(as []delivery.Attempt) (codes []int, outs []delivery.Outcome) {
	for _, a := range as {
		codes = append(codes, a.StatusCode)
		outs = append(outs, a.Outcome)
	}
	return codes, outs
}

func TestFailsTwiceThenSucceeds(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	rc.SetRespond(func(n int, _ hookdtest.Request) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	h := hookdtest.Start(t, fastConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL})
	id := h.PublishEvent(t, "job.finished", map[string]int{"x": 1})
	hookdtest.WaitFor(t, 10*time.Second, "three attempts recorded", func() bool { return len(h.Attempts(t, ep.ID)) == 3 })
	h.WaitIdle(t, ep.ID)

	as := h.Attempts(t, ep.ID)
	codes, outs := outcomes(as)
	if codes[0] != 500 || codes[1] != 500 || codes[2] != 200 {
		t.Fatalf("status codes %v", codes)
	}
	if outs[0] != delivery.OutcomeRetrying || outs[1] != delivery.OutcomeRetrying || outs[2] != delivery.OutcomeSucceeded {
		t.Fatalf("outcomes %v", outs)
	}
	for i, a := range as {
		if a.Number != i+1 || a.EventID != id || a.EndpointID != ep.ID || a.DeliveryID == "" || a.Time.IsZero() {
			t.Errorf("attempt %d record incomplete: %+v", i+1, a)
		}
	}
	if got := rc.CountByID()[id]; got != 3 {
		t.Fatalf("receiver got %d requests for %s, want 3 with the same webhook-id", got, id)
	}
	for _, r := range rc.Requests() {
		verify(t, ep.Secret, r)
	}
	if n := len(h.DeadLetters(t, ep.ID)); n != 0 {
		t.Fatalf("%d dead letters for a delivered event", n)
	}
}

func TestPermanentFailureDeadLettersAtOnce(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	rc.SetRespond(func(int, hookdtest.Request) int { return http.StatusBadRequest })
	h := hookdtest.Start(t, fastConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL})
	id := h.PublishEvent(t, "job.finished", map[string]int{"x": 1})
	hookdtest.WaitFor(t, 10*time.Second, "dead letter", func() bool { return len(h.DeadLetters(t, ep.ID)) == 1 })
	h.WaitIdle(t, ep.ID)

	as := h.Attempts(t, ep.ID)
	if len(as) != 1 || as[0].StatusCode != 400 || as[0].Outcome != delivery.OutcomeDead {
		t.Fatalf("attempts %+v, want one 400 marked dead", as)
	}
	if rc.Count() != 1 {
		t.Fatalf("receiver got %d requests, want 1", rc.Count())
	}
	dl := h.DeadLetters(t, ep.ID)[0]
	if dl.Header.Get(delivery.HeaderEventID) != id || dl.Header.Get(delivery.HeaderStatusCode) != "400" ||
		dl.Header.Get(delivery.HeaderAttempts) != "1" || !strings.Contains(dl.Header.Get(delivery.HeaderError), "400") {
		t.Fatalf("dead letter headers %v", dl.Header)
	}
	if string(dl.Data) != string(rc.Requests()[0].Body) {
		t.Fatalf("dead letter body %s differs from the delivered body", dl.Data)
	}
	if left := h.Queued(t, ep.ID); len(left) != 0 {
		t.Fatalf("dead delivery still waiting for its endpoint")
	}
}

func TestScheduleExhaustionDeadLetters(t *testing.T) {
	cases := map[string]func(t *testing.T) string{
		"503": func(t *testing.T) string {
			rc := hookdtest.NewReceiver(t)
			rc.SetRespond(func(int, hookdtest.Request) int { return http.StatusServiceUnavailable })
			return rc.URL
		},
		"408 and 429 are retried": func(t *testing.T) string {
			rc := hookdtest.NewReceiver(t)
			rc.SetRespond(func(n int, _ hookdtest.Request) int {
				if n%2 == 0 {
					return http.StatusTooManyRequests
				}
				return http.StatusRequestTimeout
			})
			return rc.URL
		},
		"redirect is not followed": func(t *testing.T) string {
			elsewhere := hookdtest.NewReceiver(t)
			redirector := httptest.NewServer(http.RedirectHandler(elsewhere.URL, http.StatusFound))
			t.Cleanup(redirector.Close)
			t.Cleanup(func() {
				if elsewhere.Count() != 0 {
					t.Errorf("redirect was followed")
				}
			})
			return redirector.URL
		},
		"connection refused": func(t *testing.T) string {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ln.Close()
			return "http://" + addr + "/hook"
		},
	}
	for name, target := range cases {
		t.Run(name, func(t *testing.T) {
			url := target(t)
			h := hookdtest.Start(t, fastConfig())
			ep := h.CreateEndpoint(t, map[string]any{"url": url})
			h.PublishEvent(t, "job.finished", map[string]int{"x": 1})
			hookdtest.WaitFor(t, 15*time.Second, "dead letter", func() bool { return len(h.DeadLetters(t, ep.ID)) == 1 })
			h.WaitIdle(t, ep.ID)
			as := h.Attempts(t, ep.ID)
			_, outs := outcomes(as)
			if len(as) != 3 || outs[0] != delivery.OutcomeRetrying || outs[1] != delivery.OutcomeRetrying || outs[2] != delivery.OutcomeDead {
				t.Fatalf("attempts %+v, want retrying, retrying, dead", as)
			}
			if dl := h.DeadLetters(t, ep.ID)[0]; dl.Header.Get(delivery.HeaderAttempts) != "3" || dl.Header.Get(delivery.HeaderError) == "" {
				t.Fatalf("dead letter headers %v", dl.Header)
			}
		})
	}
}

func TestTimeoutIsRetried(t *testing.T) {
	release := make(chan struct{})
	rc := hookdtest.NewReceiver(t)
	rc.SetRespond(func(n int, _ hookdtest.Request) int {
		if n == 1 {
			<-release // hang past the worker's timeout
		}
		return http.StatusOK
	})
	defer close(release)
	cfg := fastConfig()
	cfg.Worker.Timeout = 200 * time.Millisecond
	h := hookdtest.Start(t, cfg)
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL})
	h.PublishEvent(t, "job.finished", nil)
	hookdtest.WaitFor(t, 10*time.Second, "second attempt", func() bool { return len(h.Attempts(t, ep.ID)) == 2 })
	as := h.Attempts(t, ep.ID)
	if as[0].Outcome != delivery.OutcomeRetrying || !strings.Contains(as[0].Error, "timed out") {
		t.Fatalf("first attempt %+v, want a retried timeout", as[0])
	}
	if as[1].Outcome != delivery.OutcomeSucceeded {
		t.Fatalf("second attempt %+v", as[1])
	}
}
