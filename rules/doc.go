// Package rules owns how an endpoint decides whether an event concerns it:
// NATS-style patterns over the event type, and filters written in the expr
// language, compiled once per rule change and evaluated per event.
package rules
