package bench

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// FailingPath is where the bench's failing endpoint (--failing-backlog)
// delivers: the receiver answers 503 there after FailingDelay, as an
// overloaded receiver does, and only counts the attempts.
const FailingPath = "/failing"

// FailingDelay is how long the receiver takes to answer 503 on FailingPath.
const FailingDelay = time.Second

// Receiver is the bench's webhook receiver: it answers 200 at once and
// records, per event, that it arrived and how late (from its scheduled
// send time). Serve it in-process, or standalone with `hookd bench
// receiver` and read it over HTTP (GET /stats, POST /reset).
type Receiver struct {
	latency                          *Histogram
	mu                               sync.Mutex
	seen                             []bool // by seq
	distinct, duplicates, unreadable int64
	first, last                      time.Time
	baseline                         int64 // POSTs to /baseline
	// failing counts the attempts on FailingPath, answered or not.
	failing atomic.Int64
}

// NewReceiver returns an empty Receiver.
func NewReceiver() *Receiver { return &Receiver{latency: &Histogram{}} }

// ServeHTTP records a delivery (any path but /baseline, /stats, /reset and
// FailingPath).
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == FailingPath:
		// Counted apart, never in the ledger of the measured endpoints.
		rc.failing.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		t := time.NewTimer(FailingDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	case r.URL.Path == "/stats" && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(rc.Stats())
		return
	case r.URL.Path == "/reset" && r.Method == http.MethodPost:
		rc.Reset()
		return
	}
	body, _ := io.ReadAll(r.Body)
	now := time.Now()
	if r.URL.Path == "/baseline" {
		rc.mu.Lock()
		rc.baseline++
		rc.mu.Unlock()
		return
	}
	seq, sched, ok := deliveredEvent(body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if !ok || seq < 0 || seq > 1<<31 {
		rc.unreadable++
		return
	}
	for int64(len(rc.seen)) <= seq {
		rc.seen = append(rc.seen, make([]bool, max(len(rc.seen), 1024))...)
	}
	if rc.seen[seq] {
		rc.duplicates++
		return
	}
	rc.seen[seq] = true
	rc.distinct++
	if rc.first.IsZero() {
		rc.first = now
	}
	rc.last = now
	rc.latency.Record(now.Sub(time.Unix(0, sched)))
}

// Reset forgets everything received.
func (rc *Receiver) Reset() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.latency, rc.seen = &Histogram{}, nil
	rc.distinct, rc.duplicates, rc.unreadable, rc.baseline = 0, 0, 0, 0
	rc.first, rc.last = time.Time{}, time.Time{}
	rc.failing.Store(0)
}

// ReceiverStats is what a Receiver has seen.
type ReceiverStats struct {
	Distinct   int64     `json:"distinct"`
	Duplicates int64     `json:"duplicates"`
	Unreadable int64     `json:"unreadable"`
	First      time.Time `json:"first"`
	Last       time.Time `json:"last"`
	Latency    Latency   `json:"latency_seconds"`
	// FailingAttempts counts the attempts on FailingPath.
	FailingAttempts int64 `json:"failing_attempts"`
}

// Latency is a latency distribution in seconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

// Stats returns what the receiver has seen so far.
func (rc *Receiver) Stats() ReceiverStats {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	h := rc.latency
	return ReceiverStats{Distinct: rc.distinct, Duplicates: rc.duplicates, Unreadable: rc.unreadable, First: rc.first, Last: rc.last,
		Latency: Latency{P50: h.Quantile(0.5).Seconds(), P90: h.Quantile(0.9).Seconds(), P99: h.Quantile(0.99).Seconds(),
			P999: h.Quantile(0.999).Seconds(), Max: h.Max().Seconds()},
		FailingAttempts: rc.failing.Load()}
}

// delivered reports whether event seq arrived, and the number of baseline
// POSTs.
func (rc *Receiver) delivered(seq int64) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return seq < int64(len(rc.seen)) && rc.seen[seq]
}
