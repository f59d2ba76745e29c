package worker

import (
	"testing"
	"time"
)

func TestRetryDelayJitterStaysWithinBounds(t *testing.T) {
	step := time.Second
	seen := map[bool]bool{}
	for range 1000 {
		d := retryDelay(step, 0.2, 0)
		if d < 800*time.Millisecond || d > 1200*time.Millisecond {
			t.Fatalf("delay %s outside step +-20%%", d)
		}
		seen[d < step] = true
	}
	if !seen[true] || !seen[false] {
		t.Fatal("jitter never went both ways in 1000 draws")
	}
	if d := retryDelay(step, 0, 0); d != step {
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
		if got := retryDelay(step, 0.2, c.after); got != c.want {
			t.Errorf("Retry-After %s: delay %s, want %s", c.after, got, c.want)
		}
	}
}
