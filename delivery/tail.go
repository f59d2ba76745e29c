package delivery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Record is a delivery log record with its place in the log: the
// sequence of its message, which the records group-committed with it
// share.
type Record struct {
	Seq uint64
	Attempt
}

// maxTailScan bounds the records one Tail call reads, matching or not, so
// that a filtered tail over a busy log answers quickly: the caller goes on
// from the returned sequence.
const maxTailScan = 2000

// Tail returns the records of every endpoint written after sequence
// after, oldest first, keeping those keep accepts, and the sequence to
// pass next time: whole messages (their records share a sequence) until
// limit records are kept, so a message may take it a little past limit.
// After 0 (or beyond the log's end, as after a reset) starts at the newest
// limit messages. It reads the log stream only: the legacy attempts
// stream receives nothing new.
func (l *Log) Tail(ctx context.Context, after uint64, limit int, keep func(Attempt) bool) ([]Record, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	info, err := l.log.Info(ctx)
	if err != nil {
		return nil, after, fmt.Errorf("delivery log: %w", err)
	}
	last := info.State.LastSeq
	if after == 0 || after > last {
		after = 0
		if last > uint64(limit) {
			after = last - uint64(limit)
		}
	}
	if after >= last {
		return []Record{}, last, nil
	}
	cons, err := l.log.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   after + 1,
		// Polled every few seconds by every open dashboard: the server
		// drops each one soon after, not 5 minutes later.
		InactiveThreshold: orderedConsumerIdle,
	})
	if err != nil {
		return nil, after, fmt.Errorf("delivery log: %w", err)
	}
	out := []Record{}
	next := after
	// Asking for exactly what is there returns as soon as it arrived;
	// records written meanwhile are the next call's.
	left := min(cons.CachedInfo().NumPending, maxTailScan)
	for left > 0 && len(out) < limit && ctx.Err() == nil {
		batch, err := cons.Fetch(int(left), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, after, fmt.Errorf("delivery log: %w", err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			meta, err := m.Metadata()
			if err != nil || len(out) >= limit {
				continue // drained, not taken: next stays before it
			}
			next = meta.Sequence.Stream
			DecodeRecords(m.Data(), func(a Attempt) {
				if keep(a) {
					out = append(out, Record{Seq: next, Attempt: a})
				}
			})
		}
		if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return nil, after, fmt.Errorf("delivery log: %w", err)
		}
		if n == 0 {
			break // records aged out under us: what was read stands
		}
		left -= uint64(min(n, int(left)))
	}
	return out, next, nil
}
