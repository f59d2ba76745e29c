package httpapi

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"
)

// A connection that never sent a request does not hold the shutdown: Go's
// Shutdown counts one as active for 5 s.
func TestShutdownClosesConnectionsWithoutARequest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Wait until the server has the connection (a request on another
	// connection is answered after it was accepted).
	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("shutdown took %s with a connection that sent nothing, want well under Go's 5 s", took)
	}
}
