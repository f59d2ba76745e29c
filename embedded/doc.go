// Package embedded runs a nats-server with JetStream inside the hookd
// process, so one binary needs no set-up, and routes its logs into slog.
package embedded
