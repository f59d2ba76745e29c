package bench

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/topology"
)

// drive is what the driver published.
type drive struct {
	acked      []bool // by seq: JetStream acknowledged it
	published  int64  // acknowledged
	rejected   int64  // refused or unanswered
	start, end time.Time
	// next is the seq after the last one sent: where a later drive starts,
	// so a late delivery of this one can never pass for one of the next.
	next int64
}

type inflight struct {
	seq int64
	f   jetstream.PubAckFuture
}

// driveEvents publishes events numbered from first for cfg.Duration:
// open-loop at cfg.Rate, each carrying its scheduled send time, or when the
// rate is 0 as fast as the pipeline delivers them (each then carries its
// send time), at most cfg.SaturationWindow ahead of delivered (the
// receiver's count of this drive's deliveries).
func driveEvents(ctx context.Context, js jetstream.JetStream, names topology.Names, cfg Config, first int64, delivered func() int64) (*drive, error) {
	d := &drive{}
	pending := make(chan inflight, 1<<14)
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for p := range pending {
			for int64(len(d.acked)) <= p.seq {
				d.acked = append(d.acked, make([]bool, max(len(d.acked), 1024))...)
			}
			select {
			case <-p.f.Ok():
				d.acked[p.seq] = true
				d.published++
			case <-p.f.Err():
				d.rejected++
			}
		}
	}()
	subject := names.EventSubject(EventType)
	pad := strings.Repeat("x", max(cfg.PayloadBytes-80, 0))
	var interval time.Duration
	if cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) / cfg.Rate)
	}
	d.start = time.Now()
	seq := first
	var err error
	for err == nil && ctx.Err() == nil {
		now := time.Now()
		elapsed := now.Sub(d.start)
		if elapsed >= cfg.Duration {
			break
		}
		due := seq + 256 // saturation: publish in runs, the window paces them
		if interval > 0 {
			due = first + int64(elapsed/interval) + 1
		} else if seq-first-delivered() > cfg.SaturationWindow {
			time.Sleep(time.Millisecond) // pacing the drive to the deliveries, not a synchronisation
			continue
		}
		for ; seq < due; seq++ {
			sched := now
			if interval > 0 {
				sched = d.start.Add(time.Duration(seq-first) * interval)
			}
			// A fresh buffer each: the client keeps the message until acked.
			data := appendEvent(nil, seq, cfg.Endpoints, sched.UnixNano(), pad)
			var f jetstream.PubAckFuture
			if f, err = js.PublishAsync(subject, data, jetstream.WithStallWait(time.Minute)); err != nil {
				break
			}
			pending <- inflight{seq, f}
		}
		if interval > 0 {
			next := d.start.Add(time.Duration(seq-first) * interval)
			if wait := time.Until(next); wait > 0 {
				time.Sleep(min(wait, time.Millisecond)) // the schedule, not a synchronisation
			}
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		err = errors.Join(err, errors.New("driver: publishes still unacknowledged after 30s"))
	}
	d.end, d.next = time.Now(), seq
	close(pending)
	<-collected
	return d, err
}
