package embedded

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ErrListen is returned (wrapped in a *ListenError) by Start when the
// server cannot listen on one of its addresses, say because another
// process uses the port.
var ErrListen = errors.New("cannot listen")

// ListenError says which of the server's addresses it could not listen on.
type ListenError struct {
	// Port is "client" (Config.Listen, where producers connect) or
	// "cluster" (Config.ClusterListen, where other nodes connect).
	Port string
	// Addr is the address as configured.
	Addr string
	// Reason is the server's own message, e.g. "address already in use".
	Reason string
}

func (e *ListenError) Error() string {
	return fmt.Sprintf("embedded: cannot listen on %s for %s connections: %s", e.Addr, e.Port, e.Reason)
}

// Unwrap makes errors.Is(err, ErrListen) true.
func (e *ListenError) Unwrap() error { return ErrListen }

// fatalHook keeps the first fatal message the server logs: the server
// logs why it cannot run (a port in use, JetStream that cannot start) and
// carries on without the part, so without the hook Start would wait out
// its whole ReadyTimeout.
type fatalHook struct{ first chan string }

func newFatalHook() *fatalHook { return &fatalHook{first: make(chan string, 1)} }

func (h *fatalHook) fatal(msg string) {
	select {
	case h.first <- msg:
	default:
	}
}

// waitReady waits until ns accepts connections, returning at once with
// the reason when the server logged a fatal error meanwhile.
func waitReady(ns *server.Server, cfg Config, hook *fatalHook) error {
	deadline := time.Now().Add(cfg.ReadyTimeout)
	for {
		select {
		case msg := <-hook.first:
			return startError(cfg, msg)
		default:
		}
		// ReadyForConnections polls every 25 ms for as long as it is given:
		// short slices let a fatal message end the wait.
		if ns.ReadyForConnections(50 * time.Millisecond) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("embedded: nats-server not ready after %s", cfg.ReadyTimeout)
		}
	}
}

// startError turns the server's fatal start-up message into an error that
// names the address it concerns.
func startError(cfg Config, msg string) error {
	reason := msg
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		reason = strings.Trim(msg[i+2:], `"`)
	}
	switch {
	case strings.HasPrefix(msg, "Error listening on router port"):
		return &ListenError{Port: "cluster", Addr: cfg.ClusterListen, Reason: reason}
	case strings.HasPrefix(msg, "Error listening on port"):
		return &ListenError{Port: "client", Addr: cfg.Listen, Reason: reason}
	}
	return fmt.Errorf("embedded: nats-server cannot start: %s", msg)
}
