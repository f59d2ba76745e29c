package app

import (
	"sync"
	"time"
)

// ShutdownCloseTime is the part of Config.ShutdownTimeout kept for closing
// the NATS connections and the embedded server once the roles stopped (or
// were left at their deadline).
const ShutdownCloseTime = 3 * time.Second

// minServerStop is the least of the close time kept for the embedded
// server to stop: enough for a few dozen endpoints, and for the consumer
// positions of the last 100 ms to be written.
const minServerStop = 500 * time.Millisecond

// closeDeadline is when closing must be done: the whole ShutdownTimeout
// after the context ended (roles that stopped early leave their time to
// the server), and at least ShutdownCloseTime from now (after a role
// failed, with the context still running).
func (a *App) closeDeadline(mu *sync.Mutex, stopAt *time.Time) time.Time {
	mu.Lock()
	defer mu.Unlock()
	deadline := time.Now().Add(ShutdownCloseTime)
	if !stopAt.IsZero() {
		if d := stopAt.Add(a.cfg.ShutdownTimeout); d.After(deadline) {
			deadline = d
		}
	}
	return deadline
}

// closeBy flushes and closes the connections and stops the embedded
// server, each step bounded by what is left until deadline. Every step
// runs whatever the last one did: a wedged connection cannot keep the
// server from stopping.
func (a *App) closeBy(deadline time.Time) {
	serverDeadline := deadline
	// The connections leave the server its minimum.
	deadline = deadline.Add(-minServerStop)
	// The roles have stopped: let what they published reach the server.
	// Each role's connection is flushed at the same time, not in turn.
	var wg sync.WaitGroup
	for _, nc := range a.roleConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := nc.FlushTimeout(max(time.Until(deadline), time.Millisecond)); err != nil {
				a.log.Warn("role connection not flushed", "conn", nc.Opts.Name, "err", err)
			}
			nc.Close()
		}()
	}
	wg.Wait()
	if a.js != nil {
		select {
		case <-a.js.PublishAsyncComplete():
		case <-time.After(time.Until(deadline)):
			a.log.Warn("some publishes were not flushed")
		}
	}
	if a.nc != nil {
		if err := a.nc.Drain(); err == nil {
			select {
			case <-a.closed:
			case <-time.After(time.Until(deadline)):
				a.log.Warn("nats drain timed out")
			}
		}
		a.nc.Close()
	}
	if a.ns != nil {
		if !a.ns.ShutdownWithin(max(time.Until(serverDeadline), 0)) {
			a.log.Warn("the embedded NATS server is still stopping its streams at the shutdown deadline: not waiting for it " +
				"(what it acknowledged is on disk; the next start rebuilds its indexes)")
		}
	}
}

// Stopped is closed once everything Run started has stopped, including
// an embedded server left stopping in the background at the shutdown
// deadline (a process that exits need not wait for it; a test reusing the
// data directory does).
func (a *App) Stopped() <-chan struct{} {
	if a.ns == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return a.ns.Stopped()
}
