package worker

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/internal/sender"
	"github.com/hookd/hookd/netguard"
)

func TestRetryDelayJitterStaysWithinBounds(t *testing.T) {
	step := time.Second
	seen := map[bool]bool{}
	p := retryPolicy{Jitter: 0.2}
	for range 1000 {
		d := p.retryDelay(step, 0)
		if d < 800*time.Millisecond || d > 1200*time.Millisecond {
			t.Fatalf("delay %s outside step +-20%%", d)
		}
		seen[d < step] = true
	}
	if !seen[true] || !seen[false] {
		t.Fatal("jitter never went both ways in 1000 draws")
	}
	if d := (retryPolicy{}).retryDelay(step, 0); d != step {
		t.Fatalf("no jitter: %s", d)
	}
}

func TestRetryAfterIsClampedToTheSchedule(t *testing.T) {
	step := 10 * time.Second
	for _, c := range []struct{ after, want time.Duration }{
		{time.Second, 10 * time.Second},      // sooner than the schedule: the schedule wins
		{15 * time.Second, 15 * time.Second}, // within [step, 2*step]: honoured
		{time.Hour, 20 * time.Second},        // far later: at most twice the step
	} {
		if got := (retryPolicy{Jitter: 0.2}).retryDelay(step, c.after); got != c.want {
			t.Errorf("Retry-After %s: delay %s, want %s", c.after, got, c.want)
		}
	}
}

// The decision after an attempt, for every kind of answer, without NATS or
// a receiver: the errors are the ones sender.Send returns.
func TestDecide(t *testing.T) {
	schedule := []time.Duration{10 * time.Second, time.Minute, time.Hour}
	// Rand pinned at 0.75: the jitter of 0.2 makes every step 1.1 times
	// longer, so the rows can say exactly which step was taken.
	p := retryPolicy{Schedule: schedule, Jitter: 0.2, Rand: func() float64 { return 0.75 }}
	jittered := func(d time.Duration) time.Duration { return time.Duration(float64(d) * 1.1) }
	blocked := &sender.PermanentError{Err: fmt.Errorf("refused by the SSRF guard: %w",
		&netguard.BlockedError{Addr: netip.MustParseAddr("127.0.0.1"), Range: "loopback"})}
	notRendered := &sender.PermanentError{Err: fmt.Errorf("%w: template failed", errNotRendered)}
	const (
		ok    = delivery.OutcomeSucceeded
		retry = delivery.OutcomeRetrying
		dead  = delivery.OutcomeDead
	)
	for _, c := range []struct {
		name string
		err  error
		p    retryPolicy
		h    history
		want decision
	}{
		{"success", nil, p, history{Attempt: 1},
			decision{Outcome: ok, Ops: true}},
		{"success after failures", nil, p, history{Attempt: 3},
			decision{Outcome: ok, Ops: true}},
		{"400 is permanent", &sender.PermanentError{StatusCode: 400}, p, history{Attempt: 1},
			decision{Outcome: dead, Ops: true, CountsFailure: true}},
		{"408 or 429 made permanent by the profile", &sender.PermanentError{StatusCode: 429}, p, history{Attempt: 1},
			decision{Outcome: dead, Ops: true, CountsFailure: true}},
		{"410 disables and holds", &sender.GoneError{}, p, history{Attempt: 1},
			decision{Outcome: retry, Delay: heldDelay, Disable: goneReason}},
		{"410 on the last attempt still holds", &sender.GoneError{}, p, history{Attempt: 9},
			decision{Outcome: retry, Delay: heldDelay, Disable: goneReason}},
		{"500 retries at the first step", &sender.RetryableError{StatusCode: 500}, p, history{Attempt: 1},
			decision{Outcome: retry, Delay: jittered(10 * time.Second), Ops: true, CountsFailure: true}},
		{"500 retries at the second step", &sender.RetryableError{StatusCode: 500}, p, history{Attempt: 2},
			decision{Outcome: retry, Delay: jittered(time.Minute), Ops: true, CountsFailure: true}},
		{"timeout retries", &sender.RetryableError{Err: errors.New("timed out after 15s")}, p, history{Attempt: 3},
			decision{Outcome: retry, Delay: jittered(time.Hour), Ops: true, CountsFailure: true}},
		{"last attempt is dead", &sender.RetryableError{StatusCode: 500}, p, history{Attempt: 4},
			decision{Outcome: dead, Ops: true, CountsFailure: true}},
		{"a manual retry starts the schedule again", &sender.RetryableError{StatusCode: 500}, p, history{Attempt: 6, Base: 4},
			decision{Outcome: retry, Delay: jittered(time.Minute), Ops: true, CountsFailure: true}},
		{"no retries: dead at once", &sender.RetryableError{StatusCode: 500}, retryPolicy{}, history{Attempt: 1},
			decision{Outcome: dead, Ops: true, CountsFailure: true}},
		{"429 without Retry-After: step, short pause", &sender.RetryableError{StatusCode: 429, Throttled: true}, p, history{Attempt: 1},
			decision{Outcome: retry, Delay: jittered(10 * time.Second), Pause: breather, Ops: true, CountsFailure: true}},
		{"429 pause is the first step when shorter", &sender.RetryableError{StatusCode: 429, Throttled: true},
			retryPolicy{Schedule: []time.Duration{200 * time.Millisecond}}, history{Attempt: 1},
			decision{Outcome: retry, Delay: 200 * time.Millisecond, Pause: 200 * time.Millisecond, Ops: true, CountsFailure: true}},
		{"429 without schedule pauses a breather", &sender.RetryableError{StatusCode: 429, Throttled: true}, retryPolicy{}, history{Attempt: 1},
			decision{Outcome: dead, Pause: breather, Ops: true, CountsFailure: true}},
		{"429 Retry-After within the step's range is honoured", &sender.RetryableError{StatusCode: 429, Throttled: true, After: 15 * time.Second}, p, history{Attempt: 1},
			decision{Outcome: retry, Delay: 15 * time.Second, Pause: 15 * time.Second, Ops: true, CountsFailure: true}},
		{"Retry-After below the step: the step, unjittered", &sender.RetryableError{StatusCode: 503, Throttled: true, After: time.Second}, p, history{Attempt: 1},
			decision{Outcome: retry, Delay: 10 * time.Second, Pause: time.Second, Ops: true, CountsFailure: true}},
		{"Retry-After far above: twice the step, pause capped", &sender.RetryableError{StatusCode: 503, Throttled: true, After: time.Hour}, p, history{Attempt: 1},
			decision{Outcome: retry, Delay: 20 * time.Second, Pause: maxPause, Ops: true, CountsFailure: true}},
		{"throttled on the last attempt: dead, and the endpoint paused", &sender.RetryableError{StatusCode: 503, Throttled: true, After: 30 * time.Second}, p, history{Attempt: 4},
			decision{Outcome: dead, Pause: 30 * time.Second, Ops: true, CountsFailure: true}},
		{"SSRF refusal is permanent", blocked, p, history{Attempt: 1},
			decision{Outcome: dead, Ops: true, CountsFailure: true}},
		{"not rendered: dead, not the receiver's failure", notRendered, p, history{Attempt: 1},
			decision{Outcome: dead, Ops: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := decide(c.err, c.p, c.h); got != c.want {
				t.Errorf("decide(%v, attempt %d base %d) =\n  %+v\nwant\n  %+v", c.err, c.h.Attempt, c.h.Base, got, c.want)
			}
		})
	}
}

func TestResumeAfterSpreadsOverAFifth(t *testing.T) {
	d := 10 * time.Second
	for _, c := range []struct {
		draw float64
		want time.Duration
	}{{0, d}, {0.5, 11 * time.Second}, {0.999, d + time.Duration(0.999*0.2*float64(d))}} {
		p := retryPolicy{Rand: func() float64 { return c.draw }}
		if got := p.resumeAfter(d); got != c.want {
			t.Errorf("draw %v: %s, want %s", c.draw, got, c.want)
		}
	}
}

func BenchmarkDecide(b *testing.B) {
	p := retryPolicy{Schedule: DefaultRetrySchedule, Jitter: 0.2}
	err := &sender.RetryableError{StatusCode: 503, Throttled: true}
	b.ReportAllocs()
	for b.Loop() {
		_ = decide(err, p, history{Attempt: 2})
	}
}
