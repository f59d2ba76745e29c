// Package natstest starts a real embedded nats-server for the tests of
// the packages below app: internal/hookdtest starts a whole hookd, and
// imports app, so those packages cannot use it without an import cycle.
package natstest

import (
	"io"
	"log/slog"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/embedded"
)

// Start starts an embedded JetStream server storing in a temporary
// directory and returns a JetStream context on an in-process connection
// to it (js.Conn() is the connection). The connection and the server are
// closed when the test ends; the server's logs are discarded. opts are
// the JetStream context's.
func Start(tb testing.TB, opts ...jetstream.JetStreamOpt) jetstream.JetStream {
	tb.Helper()
	ns, err := embedded.Start(embedded.Config{StoreDir: tb.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(ns.Shutdown)
	nc, err := ns.Connect()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return js
}
