package app_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/hookdtest"
)

// A dead letter carries the delivery's headers, not the worker's own
// in-process marks: a held endpoint's delivery, stored before its
// consumer was made, is marked to have its attempts read from the log.
func TestDeadLetterCarriesNoWorkerMark(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	rc.SetRespond(func(int, hookdtest.Request) int { return http.StatusBadRequest })
	h := hookdtest.Start(t, fastConfig())
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL, "max_in_flight": 1})
	h.PublishEvent(t, "order.paid", map[string]int{"total": 1})
	hookdtest.WaitFor(t, 15*time.Second, "a dead letter", func() bool { return len(h.DeadLetters(t, ep.ID)) == 1 })
	dead := h.DeadLetters(t, ep.ID)[0]
	if v := dead.Header.Get("Hookd-Read-Log"); v != "" {
		t.Fatalf("the dead letter carries the worker's mark Hookd-Read-Log=%q: %v", v, dead.Header)
	}
	if dead.Header.Get("Hookd-Error") == "" {
		t.Fatalf("dead letter without its error: %v", dead.Header)
	}
}
