// Package rules owns how an endpoint decides whether an event concerns it:
// NATS-style patterns over the event type, and filters written in the expr
// language, compiled once per rule change and evaluated per event. The
// other expressions an endpoint holds over the event (ordering keys,
// payload transforms and header templates) are compiled and run here too,
// under the same limits and environment.
package rules
