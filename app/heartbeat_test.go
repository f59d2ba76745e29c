package app_test

import (
	"testing"
	"time"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/internal/hookdtest"
)

// A receiver slower than the ack wait gets its delivery once: the worker
// tells JetStream the delivery is in progress, so it is not redelivered to
// another worker meanwhile.
func TestSlowReceiverIsNotSentTwice(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	rc.SetRespond(func(int, hookdtest.Request) int {
		time.Sleep(1500 * time.Millisecond) // the receiver's work, longer than the ack wait
		return 200
	})
	// Two workers, so that a redelivery would have somewhere to go.
	h := startProcesses(t, 2, false, func(c *app.Config) { c.Topology.DeliveryAckWait = 600 * time.Millisecond })[0]
	ep := h.CreateEndpoint(t, map[string]any{"url": rc.URL})
	id := h.PublishEvent(t, "slow.work", nil)
	hookdtest.WaitFor(t, 20*time.Second, "the delivery", func() bool { return len(h.Attempts(t, ep.ID)) == 1 })
	h.WaitIdle(t, ep.ID)
	if n := rc.CountByID()[id]; n != 1 {
		t.Fatalf("the slow receiver got the delivery %d times, want once", n)
	}
}
