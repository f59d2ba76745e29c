package hookdtest

import (
	"testing"
	"time"
)

// WaitFor polls cond until it holds, failing the test with what after
// timeout. It is the only way tests wait: never a bare sleep.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Never checks that cond stays false for the whole of d, polling it: for
// asserting that something does not happen (a second attempt, a delivery
// before its time), which no event can signal.
func Never(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			t.Fatalf("%s happened", what)
		}
		time.Sleep(10 * time.Millisecond) // polling the condition
	}
}
