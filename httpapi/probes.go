package httpapi

import (
	"context"
	"net/http"
	"time"
)

// ReadyFunc reports whether a process can do its work: nil when ready,
// else what is missing.
type ReadyFunc func(ctx context.Context) error

// readyTimeout bounds a readiness check, below the usual probe timeouts.
const readyTimeout = 3 * time.Second

// Probes serves the operational routes without authentication, for the
// --metrics-listen listener of any role: GET /healthz, GET /readyz and
// GET /metrics (metrics nil: 404). It belongs on an address only operators
// and Prometheus reach: per-endpoint metrics name every tenant's endpoints.
func Probes(ready ReadyFunc, metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.Handle("GET /readyz", readyz(ready))
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
	mux.HandleFunc("/", noRoute(mux, "/"))
	return mux
}

// Starting serves a process that is starting (waiting for JetStream, say)
// on any of its listeners: GET /healthz answers 200 (the process is
// alive), GET /readyz 503 not_ready with what starting's error says, GET
// /metrics the metrics (nil: none), and every other request 503
// not_ready with Retry-After, as the API does while it cannot work.
func Starting(starting ReadyFunc, metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.Handle("GET /readyz", readyz(starting))
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		msg := "starting"
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := starting(ctx); err != nil {
			msg = err.Error()
		}
		writeError(w, &apiError{Status: http.StatusServiceUnavailable, Code: "not_ready", Message: msg, RetryAfter: 5})
	})
	return mux
}

// healthz answers while the process is alive: a liveness probe.
func healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when ready answers nil, else 503 not_ready saying
// what is missing: a readiness probe.
func readyz(ready ReadyFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := ready(ctx); err != nil {
			writeError(w, &apiError{Status: http.StatusServiceUnavailable, Code: "not_ready", Message: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}
