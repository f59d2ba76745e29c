// Package event owns what hookd knows about an event: its identity, type,
// acceptance time and JSON data, how it is read from a NATS message, and the
// envelope an endpoint receives.
package event
