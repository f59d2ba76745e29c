package delivery

import (
	"context"
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
	out := []Record{}
	next, scanned := after, 0
	err = readStream(ctx, l.log, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   after + 1,
		// Polled every few seconds by every open dashboard: the server
		// drops each one soon after.
		InactiveThreshold: orderedConsumerIdle,
	}, func(m jetstream.Msg, seq uint64) bool {
		next = seq
		DecodeRecords(m.Data(), func(a Attempt) {
			if keep(a) {
				out = append(out, Record{Seq: seq, Attempt: a})
			}
		})
		scanned++
		return len(out) < limit && scanned < maxTailScan
	})
	if err != nil {
		return nil, after, fmt.Errorf("delivery log: %w", err)
	}
	return out, next, nil
}
