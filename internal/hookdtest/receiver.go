package hookdtest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Request is what a Receiver got.
type Request struct {
	Header http.Header
	Body   []byte
	Path   string
}

// Receiver is a real HTTP server that records every request and answers
// with Respond's status (200 when Respond is nil).
type Receiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []Request
	// Respond decides the answer to the n-th request (1-based) of a given
	// webhook-id. Set it before traffic starts, or with SetRespond.
	respond func(n int, r Request) int
	perID   map[string]int
}

// NewReceiver starts a Receiver; it is closed when the test ends.
func NewReceiver(t testing.TB) *Receiver {
	rc := &Receiver{perID: map[string]int{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.Close)
	return rc
}

// SetRespond changes how the receiver answers.
func (rc *Receiver) SetRespond(f func(n int, r Request) int) {
	rc.mu.Lock()
	rc.respond = f
	rc.mu.Unlock()
}

func (rc *Receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req := Request{Header: r.Header.Clone(), Body: body, Path: r.URL.Path}
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, req)
	id := r.Header.Get("webhook-id")
	rc.perID[id]++
	n, respond := rc.perID[id], rc.respond
	rc.mu.Unlock()
	status := http.StatusOK
	if respond != nil {
		status = respond(n, req)
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, http.StatusText(status))
}

// Requests returns a copy of every request received so far.
func (rc *Receiver) Requests() []Request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Request(nil), rc.reqs...)
}

// Count returns how many requests arrived.
func (rc *Receiver) Count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.reqs)
}

// CountByID returns how many requests carried each webhook-id.
func (rc *Receiver) CountByID() map[string]int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make(map[string]int, len(rc.perID))
	for k, v := range rc.perID {
		out[k] = v
	}
	return out
}
