package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// A NATS client or cluster port in use stops serve at once with an error
// naming the flag and the address, instead of a 30 s wait.
func TestServeFailsAtOnceOnABusyNATSPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().String()
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"--nats-listen", busy}, "--nats-listen " + busy},
		{[]string{"--nats-listen", "127.0.0.1:0", "--cluster-name", "c", "--server-name", "n1", "--cluster", busy, "--routes", "nats://" + busy}, "--cluster " + busy},
	} {
		args := append([]string{"--data", t.TempDir(), "--http", "127.0.0.1:0", "--log-level", "error"}, c.args...)
		var out bytes.Buffer
		begin := time.Now()
		err := runServe(context.Background(), "serve", args, &syncWriter{w: &out}, &syncWriter{w: &out}, env(nil))
		took := time.Since(begin)
		if err == nil || !strings.Contains(err.Error(), c.flag) || !strings.Contains(err.Error(), "address already in use") {
			t.Errorf("%v: err = %v, want one naming %q and the reason", c.args, err, c.flag)
		}
		if took > 5*time.Second {
			t.Errorf("%v: failed after %s, want at once", c.args, took)
		}
	}
}

// --queue-streams takes a divisor of the shard count: anything else stops
// serve before it starts, with a usage error naming the flag; a valid value
// reaches the topology's configuration.
func TestServeQueueStreamsFlag(t *testing.T) {
	for _, bad := range []string{"3", "5", "-1", "8"} {
		args := []string{"--data", t.TempDir(), "--http", "127.0.0.1:0", "--nats-listen", "", "--log-level", "error", "--queue-streams", bad}
		var out bytes.Buffer
		err := runServe(context.Background(), "serve", args, &syncWriter{w: &out}, &syncWriter{w: &out}, env(nil))
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--queue-streams must be 1, 2 or 4") || !strings.Contains(err.Error(), bad) {
			t.Errorf("--queue-streams %s: %v, want a usage error naming the flag", bad, err)
		}
	}
	var f serveFlags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	f.register(fs)
	if err := fs.Parse([]string{"--queue-streams", "2"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := f.config("serve", io.Discard)
	if err != nil || cfg.Topology.QueueStreams != 2 {
		t.Fatalf("--queue-streams 2: %d, %v", cfg.Topology.QueueStreams, err)
	}
}
