// Package jsmsg holds helpers for JetStream messages shared by routers
// and workers.
package jsmsg

import "github.com/nats-io/nats.go/jetstream"

// withMetadata is a message whose metadata was read once.
type withMetadata struct {
	jetstream.Msg
	meta *jetstream.MsgMetadata
	err  error
}

// Metadata returns what the message's Metadata returned when
// WithMetadata wrapped it.
func (m *withMetadata) Metadata() (*jetstream.MsgMetadata, error) { return m.meta, m.err }

// WithMetadata returns m with its metadata read now, once: JetStream's
// Msg.Metadata parses the reply subject into a new MsgMetadata at every
// call, and one delivery or one routing asks several times (the fence,
// decoding, the delivery log, settling). The metadata a message is handed
// out with never changes; callers must not modify what Metadata returns.
// Everything else is m's.
func WithMetadata(m jetstream.Msg) jetstream.Msg {
	if _, ok := m.(*withMetadata); ok {
		return m
	}
	meta, err := m.Metadata()
	return &withMetadata{Msg: m, meta: meta, err: err}
}
