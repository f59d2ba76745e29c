package jsmsg

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/internal/natstest"
)

// counting counts the Metadata calls that reach a real message.
type counting struct {
	jetstream.Msg
	n int
}

func (c *counting) Metadata() (*jetstream.MsgMetadata, error) {
	c.n++
	return c.Msg.Metadata()
}

// A wrapped message answers Metadata as the message does, having asked it
// once, and settles the message itself.
func TestWithMetadataReadsOnce(t *testing.T) {
	js := natstest.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := js.Publish(ctx, "t.a", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	cons, err := s.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(3, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	seq := uint64(0)
	for m := range batch.Messages() {
		seq++
		want, err := m.Metadata()
		if err != nil {
			t.Fatal(err)
		}
		c := &counting{Msg: m}
		w := WithMetadata(c)
		if WithMetadata(w) != w {
			t.Fatal("a wrapped message wrapped again")
		}
		for range 3 {
			got, err := w.Metadata()
			if err != nil || *got != *want || got.Sequence.Stream != seq {
				t.Fatalf("metadata %+v, %v; want %+v", got, err, want)
			}
		}
		if c.n != 1 {
			t.Fatalf("the message was asked its metadata %d times, want once", c.n)
		}
		if string(w.Data()) != "x" || w.Subject() != "t.a" {
			t.Fatalf("data %q subject %q", w.Data(), w.Subject())
		}
		if err := w.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if seq != 3 {
		t.Fatalf("%d messages, want 3", seq)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 0 || info.AckFloor.Stream != 3 {
		t.Fatalf("ack pending %d, ack floor %d: the wrapped messages were not acknowledged", info.NumAckPending, info.AckFloor.Stream)
	}
}
