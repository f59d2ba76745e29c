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
}

// NewServer returns a Server for h on ln.
func NewServer(ln net.Listener, h http.Handler) *Server {
	return &Server{ln: ln, errc: make(chan error, 1), srv: &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}}
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
	if err := s.srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-s.errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
