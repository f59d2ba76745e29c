package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/topology"
)

// Request body limits.
const (
	maxEndpointBody = 64 << 10
	// MaxEventBody is the largest event accepted over HTTP.
	MaxEventBody = 1 << 20
)

// API serves /v1.
type API struct {
	store *endpoint.Store
	topo  *topology.Topology
	js    jetstream.JetStream
	log   *slog.Logger
	mux   *http.ServeMux
}

// New returns the API handler.
func New(topo *topology.Topology, store *endpoint.Store, log *slog.Logger) *API {
	a := &API{store: store, topo: topo, js: topo.JetStream(), log: log.With("component", "api"), mux: http.NewServeMux()}
	a.mux.HandleFunc("POST /v1/endpoints", a.createEndpoint)
	a.mux.HandleFunc("GET /v1/endpoints", a.listEndpoints)
	a.mux.HandleFunc("GET /v1/endpoints/{id}", a.getEndpoint)
	a.mux.HandleFunc("PATCH /v1/endpoints/{id}", a.updateEndpoint)
	a.mux.HandleFunc("DELETE /v1/endpoints/{id}", a.deleteEndpoint)
	a.mux.HandleFunc("GET /v1/endpoints/{id}/secret", a.getSecret)
	a.mux.HandleFunc("POST /v1/events", a.publishEvent)
	a.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	a.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "no route for " + r.Method + " " + r.URL.Path})
	})
	return a
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }
