package serverpins

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/embedded"
	"github.com/hookd/hookd/topology"
)

// start runs an embedded server on a temporary directory and returns a
// JetStream context on it as hookd's internal identity.
func start(t testing.TB) jetstream.JetStream {
	t.Helper()
	s, err := embedded.Start(embedded.Config{StoreDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	nc, err := s.Connect()
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

// apiCode returns the JetStream error code of err, 0 if it has none.
func apiCode(err error) jetstream.ErrorCode {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode
	}
	return 0
}

// The per-endpoint backlog cap: on a work-queue stream, MaxMsgsPerSubject
// with DiscardNewPerSubject refuses the publisher of a full subject (503,
// 10077 "maximum messages per subject exceeded"), which
// topology.IsStreamFull takes for backpressure, while other subjects of
// the stream still take messages; acknowledging a message makes room.
func TestWorkQueuePerSubjectCapRefusesThePublisher(t *testing.T) {
	js := start(t)
	ctx := context.Background()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "Q", Subjects: []string{"q.>"}, Retention: jetstream.WorkQueuePolicy,
		Discard: jetstream.DiscardNew, DiscardNewPerSubject: true, MaxMsgsPerSubject: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := js.Publish(ctx, "q.0.ep_full", []byte(strconv.Itoa(i))); err != nil {
			t.Fatalf("publish %d under the cap: %v", i, err)
		}
	}
	_, err = js.Publish(ctx, "q.0.ep_full", []byte("3"))
	if apiCode(err) != 10077 || !topology.IsStreamFull(err) {
		t.Fatalf("publish over the cap: %v; want error 10077 that IsStreamFull recognises", err)
	}
	if _, err := js.Publish(ctx, "q.0.ep_other", []byte("x")); err != nil {
		t.Fatalf("another endpoint's subject: %v", err)
	}
	c, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "shard-0", FilterSubject: "q.0.*", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.DoubleAck(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "q.0.ep_full", []byte("4")); err != nil {
		t.Fatalf("publish after an acknowledgement made room: %v", err)
	}
}

// Message schedules cannot serve the delivery streams: a stream with
// schedules cannot use discard-new (10052), which the backlog cap needs;
// a schedule's target must be a subject of its own stream (10190); and
// there is no relative delay form, only "@at <RFC 3339>", "@every" and
// cron (10189).
func TestMessageSchedulesRefuseDiscardNewAndOtherStreams(t *testing.T) {
	js := start(t)
	ctx := context.Background()
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "CAPPED", Subjects: []string{"capped.>"}, Retention: jetstream.WorkQueuePolicy,
		Discard: jetstream.DiscardNew, DiscardNewPerSubject: true, MaxMsgsPerSubject: 10, AllowMsgSchedules: true})
	if apiCode(err) != 10052 {
		t.Fatalf("schedules with discard new: %v; want error 10052", err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "OTHER", Subjects: []string{"other.>"}}); err != nil {
		t.Fatal(err)
	}
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "TIMERS", Subjects: []string{"timers.>"}, AllowMsgSchedules: true})
	if err != nil {
		t.Fatal(err)
	}
	schedule := func(subject, pattern, target string) error {
		m := nats.NewMsg(subject)
		m.Header.Set(jetstream.ScheduleHeader, pattern)
		m.Header.Set(jetstream.ScheduleTargetHeader, target)
		_, err := js.PublishMsg(ctx, m)
		return err
	}
	soon := "@at " + time.Now().Add(time.Second).UTC().Format(time.RFC3339)
	if err := schedule("timers.a", soon, "other.due"); apiCode(err) != 10190 {
		t.Fatalf("schedule into another stream: %v; want error 10190", err)
	}
	if err := schedule("timers.b", "@in 5s", "timers.due"); apiCode(err) != 10189 {
		t.Fatalf("relative delay: %v; want error 10189", err)
	}
	if err := schedule("timers.c", soon, "timers.due"); err != nil {
		t.Fatal(err)
	}
	// It fires into the target, tagged with its schedule's subject, and the
	// one-shot schedule message is purged.
	deadline := time.Now().Add(10 * time.Second)
	for {
		raw, err := s.GetLastMsgForSubject(ctx, "timers.due")
		if err == nil {
			if got := raw.Header.Get(jetstream.SchedulerHeader); got != "timers.c" {
				t.Fatalf("fired message's %s: %q", jetstream.SchedulerHeader, got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("schedule did not fire: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // polling the stream, not synchronising
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		_, err := s.GetLastMsgForSubject(ctx, "timers.c")
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("schedule message still stored after firing: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Why retries never wait on a shared consumer: a delivery naked with a
// delay stays in the consumer's pending list and holds one of its
// MaxAckPending places until it comes back.
func TestNakWithDelayHoldsAnAckPendingPlace(t *testing.T) {
	js := start(t)
	ctx := context.Background()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "N", Subjects: []string{"n"}, Retention: jetstream.WorkQueuePolicy})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := js.Publish(ctx, "n", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	c, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 1})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.NakWithDelay(time.Hour); err != nil {
		t.Fatal(err)
	}
	// A bounded wait for something that must not arrive.
	if m, err := c.Next(jetstream.FetchMaxWait(300 * time.Millisecond)); err == nil {
		t.Fatalf("got %q while the only place was held by a delayed nak", m.Data())
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 1 || info.NumPending != 1 {
		t.Fatalf("ack pending %d, pending %d; want 1 and 1", info.NumAckPending, info.NumPending)
	}
}

// Held consumers can be removed at any time: deleting a consumer of a
// work-queue stream leaves its messages stored (only interest retention
// drops them), and a consumer created later hands them out again.
func TestDeletingAWorkQueueConsumerKeepsItsMessages(t *testing.T) {
	js := start(t)
	ctx := context.Background()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "H", Subjects: []string{"held.>"}, Retention: jetstream.WorkQueuePolicy})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := js.Publish(ctx, "held.ep_a", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	cfg := jetstream.ConsumerConfig{Durable: "held-ep_a", FilterSubject: "held.ep_a", AckPolicy: jetstream.AckExplicitPolicy}
	c, err := s.CreateOrUpdateConsumer(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.NakWithDelay(time.Hour); err != nil { // a retry waiting in the consumer
		t.Fatal(err)
	}
	if err := s.DeleteConsumer(ctx, cfg.Durable); err != nil {
		t.Fatal(err)
	}
	if info, err := s.Info(ctx); err != nil || info.State.Msgs != 3 {
		t.Fatalf("after deleting the consumer: %v, %+v; want 3 messages kept", err, info)
	}
	c, err = s.CreateOrUpdateConsumer(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Fetch(3, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for m := range b.Messages() {
		got = append(got, string(m.Data()))
	}
	if fmt.Sprint(got) != "[0 1 2]" {
		t.Fatalf("a new consumer handed out %v; want [0 1 2], the delayed one first again", got)
	}
}

// The subject layout's constraints: consumers of a work-queue stream must
// not overlap (10100), so a per-endpoint consumer cannot take an endpoint
// out of a shard consumer's wildcard, and a work-queue stream takes no
// reading consumers (ack none or ordered: 10084), so backlogs are read
// with message gets.
func TestWorkQueueConsumersMustNotOverlapNorRead(t *testing.T) {
	js := start(t)
	ctx := context.Background()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "W", Subjects: []string{"w.>"}, Retention: jetstream.WorkQueuePolicy})
	if err != nil {
		t.Fatal(err)
	}
	ack := jetstream.AckExplicitPolicy
	if _, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "shard-0", FilterSubject: "w.q.0.*", AckPolicy: ack}); err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "one", FilterSubject: "w.q.0.ep_a", AckPolicy: ack})
	if apiCode(err) != 10100 {
		t.Fatalf("overlapping consumer: %v; want error 10100", err)
	}
	if _, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "lanes", AckPolicy: ack,
		FilterSubjects: []string{"w.ord.ep_a.1", "w.ord.ep_a.2"}}); err != nil {
		t.Fatalf("consumer with several filters beside the shard's: %v", err)
	}
	_, err = s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "reader", FilterSubject: "w.held.ep_a", AckPolicy: jetstream.AckNonePolicy})
	if apiCode(err) != 10084 {
		t.Fatalf("ack-none reader: %v; want error 10084", err)
	}
	_, err = s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"w.held.ep_a"}})
	if apiCode(err) != 10084 {
		t.Fatalf("ordered reader: %v; want error 10084", err)
	}
}

// Why the held stream sets MaxConsumers: nats-server refuses a stream's
// 1,001st consumer (10026) unless the stream (or the account) sets a
// positive limit of its own; -1 does not opt out.
func TestStreamsTakeAThousandConsumersUnlessTheySayOtherwise(t *testing.T) {
	js := start(t)
	ctx := context.Background()
	for _, limit := range []int{-1, 1001} {
		name := "C" + strconv.Itoa(limit+1)
		// In memory, and without work-queue retention (whose overlap check
		// makes creating consumers quadratic): the limit is the same.
		s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{name + ".>"}, Storage: jetstream.MemoryStorage, MaxConsumers: limit})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 1000 {
			if _, err := s.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: "c" + strconv.Itoa(i), FilterSubject: name + "." + strconv.Itoa(i), AckPolicy: jetstream.AckExplicitPolicy, MemoryStorage: true}); err != nil {
				t.Fatalf("MaxConsumers %d, consumer %d: %v", limit, i, err)
			}
		}
		_, err = s.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: "c1000", FilterSubject: name + ".1000", AckPolicy: jetstream.AckExplicitPolicy, MemoryStorage: true})
		switch {
		case limit < 0 && apiCode(err) != 10026:
			t.Fatalf("1,001st consumer without a limit of the stream's own: %v; want error 10026", err)
		case limit > 0 && err != nil:
			t.Fatalf("1,001st consumer with MaxConsumers %d: %v", limit, err)
		}
	}
}

// BenchmarkAckWithIdleConsumers measures what every acknowledgement on a
// work-queue stream pays per other consumer of the stream (nats-server
// asks each whether it still needs the message): why the shared queue
// streams carry only their shard consumers and held consumers are few.
//
//	go test -run '^$' -bench AckWithIdleConsumers -benchtime 5000x ./internal/serverpins/
func BenchmarkAckWithIdleConsumers(b *testing.B) {
	for _, idle := range []int{0, 250, 1000} {
		b.Run("idle="+strconv.Itoa(idle), func(b *testing.B) {
			js := start(b)
			ctx := context.Background()
			s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "A", Subjects: []string{"a.>"}, Retention: jetstream.WorkQueuePolicy, MaxConsumers: idle + 10})
			if err != nil {
				b.Fatal(err)
			}
			for i := range idle {
				if _, err := s.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: "held-" + strconv.Itoa(i), FilterSubject: "a.held." + strconv.Itoa(i), AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
					b.Fatal(err)
				}
			}
			c, err := s.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: "shard", FilterSubject: "a.q.*", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: b.N + 1})
			if err != nil {
				b.Fatal(err)
			}
			for i := range b.N {
				if _, err := js.PublishAsync("a.q."+strconv.Itoa(i%100), []byte("x")); err != nil {
					b.Fatal(err)
				}
			}
			<-js.PublishAsyncComplete()
			b.ResetTimer()
			for got := 0; got < b.N; {
				batch, err := c.Fetch(min(500, b.N-got), jetstream.FetchMaxWait(5*time.Second))
				if err != nil {
					b.Fatal(err)
				}
				for m := range batch.Messages() {
					if err := m.DoubleAck(ctx); err != nil {
						b.Fatal(err)
					}
					got++
				}
			}
		})
	}
}
