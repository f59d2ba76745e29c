package topology

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/embedded"
)

func startJetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	ns, err := embedded.Start(embedded.Config{StoreDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := ns.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func streamConfig(t *testing.T, js jetstream.JetStream, name string) jetstream.StreamConfig {
	t.Helper()
	s, err := js.Stream(context.Background(), name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.Config
}

func wantLimits(t *testing.T, cfg jetstream.StreamConfig, msgs, bytes int64) {
	t.Helper()
	if cfg.MaxMsgs != msgs || cfg.MaxBytes != bytes || cfg.Discard != jetstream.DiscardNew {
		t.Errorf("stream %s: max_msgs %d, max_bytes %d, discard %v; want %d, %d, new",
			cfg.Name, cfg.MaxMsgs, cfg.MaxBytes, cfg.Discard, msgs, bytes)
	}
}

// The events stream and every endpoint stream carry their limits with
// discard-new (so a full stream refuses, never drops), the events stream
// keeps its max age, and the zero config takes the documented defaults
// (no byte limits: nats-server would reserve them out of its storage).
func TestStreamLimits(t *testing.T) {
	ctx := context.Background()
	t.Run("defaults", func(t *testing.T) {
		js := startJetStream(t)
		topo, err := New(js, Config{})
		if err != nil {
			t.Fatal(err)
		}
		if err := topo.EnsureCore(ctx); err != nil {
			t.Fatal(err)
		}
		events := streamConfig(t, js, unprefixed.EventsStream())
		wantLimits(t, events, DefaultEventsMaxMsgs, -1)
		if events.MaxAge != topo.Config().EventsMaxAge || events.MaxAge == 0 {
			t.Errorf("events max age %v, want %v", events.MaxAge, topo.Config().EventsMaxAge)
		}
		held := streamConfig(t, js, unprefixed.HeldStream())
		if held.MaxMsgsPerSubject != DefaultEndpointMaxMsgs || held.MaxBytes != -1 || held.Retention != jetstream.WorkQueuePolicy {
			t.Errorf("held stream %+v", held)
		}
	})

	t.Run("configured, and applied to existing streams", func(t *testing.T) {
		js := startJetStream(t)
		// Streams as a hookd without limits made them: no limits, discard old.
		old, _ := New(js, Config{})
		if err := old.EnsureCore(ctx); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{unprefixed.EventsStream()} {
			cfg := streamConfig(t, js, name)
			cfg.MaxMsgs, cfg.MaxBytes, cfg.Discard = -1, -1, jetstream.DiscardOld
			if _, err := js.UpdateStream(ctx, cfg); err != nil {
				t.Fatal(err)
			}
		}
		if cfg := streamConfig(t, js, unprefixed.EventsStream()); cfg.Discard != jetstream.DiscardOld || cfg.MaxMsgs != -1 {
			t.Fatalf("events stream not reset: %+v", cfg)
		}

		topo, _ := New(js, Config{EventsMaxMsgs: 20, EventsMaxBytes: 1 << 20, EndpointMaxMsgs: 10, DeliveriesMaxBytes: 64 << 10})
		if err := topo.EnsureCore(ctx); err != nil {
			t.Fatal(err)
		}
		wantLimits(t, streamConfig(t, js, unprefixed.EventsStream()), 20, 1<<20)
		for _, name := range []string{unprefixed.HeldStream(), unprefixed.BatchesStream()} {
			if c := streamConfig(t, js, name); c.MaxMsgsPerSubject != 10 || c.MaxBytes != 64<<10 || !c.DiscardNewPerSubject {
				t.Errorf("stream %s: %+v", name, c)
			}
		}

		// Stored as asked: a second start updates nothing.
		for _, want := range topo.coreStreams() {
			s, err := js.Stream(ctx, want.Name)
			if err != nil {
				t.Fatal(err)
			}
			if !sameStream(s.CachedInfo().Config, want) {
				t.Errorf("stream %s: stored %+v differs from wanted %+v", want.Name, s.CachedInfo().Config, want)
			}
		}
		// The other streams keep discarding old records.
		for _, name := range []string{unprefixed.DeadStream(), unprefixed.AttemptsStream(), unprefixed.IndexStream()} {
			if d := streamConfig(t, js, name).Discard; d != jetstream.DiscardOld {
				t.Errorf("stream %s: discard %v, want old", name, d)
			}
		}
	})
}

// A stream at its limit refuses with an error IsStreamFull recognises; a
// message too large for the stream, or no stream at all, is not "full".
func TestIsStreamFull(t *testing.T) {
	ctx := context.Background()
	js := startJetStream(t)
	mk := func(name string, cfg jetstream.StreamConfig) {
		t.Helper()
		cfg.Name, cfg.Subjects, cfg.Discard, cfg.Storage = name, []string{strings.ToLower(name)}, jetstream.DiscardNew, jetstream.FileStorage
		if _, err := js.CreateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	mk("MSGS", jetstream.StreamConfig{MaxMsgs: 2})
	mk("WQ", jetstream.StreamConfig{MaxMsgs: 2, Retention: jetstream.WorkQueuePolicy})
	mk("BYTES", jetstream.StreamConfig{MaxBytes: 4096})
	mk("SMALL", jetstream.StreamConfig{MaxMsgSize: 16})

	fill := func(subject string, body []byte) error {
		t.Helper()
		for i := range 100 {
			if _, err := js.Publish(ctx, subject, body); err != nil {
				if i == 0 {
					t.Fatalf("%s: the first publish failed: %v", subject, err)
				}
				return err
			}
		}
		t.Fatalf("%s: never full", subject)
		return nil
	}
	for _, subject := range []string{"msgs", "wq"} {
		if err := fill(subject, []byte("x")); !IsStreamFull(err) {
			t.Errorf("%s at its max messages: %v, IsStreamFull false", subject, err)
		}
	}
	if err := fill("bytes", make([]byte, 1000)); !IsStreamFull(err) {
		t.Errorf("at its max bytes: %v, IsStreamFull false", err)
	}
	_, err := js.Publish(ctx, "small", make([]byte, 100))
	if err == nil || IsStreamFull(err) {
		t.Errorf("message over max_msg_size: %v, IsStreamFull %v", err, IsStreamFull(err))
	}
	_, err = js.Publish(ctx, "nostream", []byte("x"))
	if err == nil || IsStreamFull(err) {
		t.Errorf("no stream: %v, IsStreamFull %v", err, IsStreamFull(err))
	}
	if IsStreamFull(nil) || IsStreamFull(nats.ErrTimeout) {
		t.Error("IsStreamFull of nil or a timeout")
	}
}
