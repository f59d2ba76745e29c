package httpapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server serves a handler on a listener until its context ends, then shuts
// down gracefully: requests in progress finish, new connections are refused.
type Server struct {
	ln    net.Listener
	srv   *http.Server
	start sync.Once
	errc  chan error // Serve's result, once started
	// fresh holds the connections that have not sent a request yet
	// (http.StateNew), closed at the shutdown (see Run).
	mu    sync.Mutex
	fresh map[net.Conn]struct{}
}

// NewServer returns a Server for h on ln.
func NewServer(ln net.Listener, h http.Handler) *Server {
	s := &Server{ln: ln, errc: make(chan error, 1), fresh: map[net.Conn]struct{}{}}
	s.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ConnState:         s.track,
	}
	return s
}

// track keeps the set of connections that have sent no request yet.
func (s *Server) track(c net.Conn, state http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if state == http.StateNew {
		s.fresh[c] = struct{}{}
	} else {
		delete(s.fresh, c)
	}
}

// closeFresh closes the connections that have sent no request: Shutdown
// counts them as active for 5 s (a client's transport often dials a
// connection it then leaves unused), which held a stop for that long.
func (s *Server) closeFresh() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.fresh {
		_ = c.Close()
	}
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Start begins serving before Run, which goes on serving: a process
// serves its probes while it starts (waiting for JetStream, say). Calling
// it again, or Run, does not serve twice.
func (s *Server) Start() {
	s.start.Do(func() { go func() { s.errc <- s.srv.Serve(s.ln) }() })
}

// Close stops serving at once and closes the listener, for a process that
// stops before Run (its start failed).
func (s *Server) Close() {
	_ = s.srv.Close()
	_ = s.ln.Close() // not closed by Close if Serve never began
}

// Run serves until ctx is done, then drains for at most 15 seconds.
func (s *Server) Run(ctx context.Context) error {
	s.Start()
	select {
	case err := <-s.errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	// Shutdown first stops the listener, so no connection is new after
	// this; one that sent its request meanwhile is no longer fresh.
	stopFresh := time.AfterFunc(50*time.Millisecond, s.closeFresh)
	defer stopFresh.Stop()
	if err := s.srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-s.errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
