// Package serverpins holds tests that pin the nats-server behaviours the
// delivery engine's design (docs/engine.md) depends on, against a real
// embedded server: if an upgrade of nats-server changes one, a test here
// fails and says which design decision to revisit. It has no code of its
// own.
package serverpins
