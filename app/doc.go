// Package app assembles a hookd process: it connects to NATS (an embedded
// server or an existing cluster), creates the JetStream topology, and runs
// the roles it is asked for (API, router, worker) under one supervisor.
package app
