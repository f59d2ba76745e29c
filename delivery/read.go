package delivery

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Reads of a stream's messages (the delivery log's records) go through a
// consumer made for the read and gone after it. nats.go's ordered
// consumer makes a new consumer at every Fetch and pulls from it at once;
// on a cluster that consumer lives on one server, and the client's server
// may not know of its pull subject yet when the pull request arrives, in
// which case the request is answered "no responders" (the server keeps no
// request for a subscription not known yet). That happened to about one
// read in ten on a healthy three-node cluster, and after every heal or
// leader change, so the read APIs answered 503 at random. readStream
// makes one consumer per read and pulls from it again when told "no
// responders" (shortly after, its subject is known everywhere); it makes
// the consumer again from where the read got to when the consumer is gone
// (its server stopped), or when a message was skipped (what the ordered
// consumer would have done).

// Bounds of one read's retries: a pull answered "no responders" is made
// again after readRetryFirst, doubling up to readRetryMax; after
// readRecreateAfter such answers in a row the consumer is made again;
// after readMaxFailures (about 3 s) the read fails.
const (
	readRetryFirst    = 10 * time.Millisecond
	readRetryMax      = 500 * time.Millisecond
	readRecreateAfter = 4
	readMaxFailures   = 10
)

// readFetchWait bounds one pull: asking for no more than is left returns
// as soon as it arrived; this only ends a pull whose consumer went quiet.
const readFetchWait = 2 * time.Second

// readStream passes every message of stream that cfg selects (its filter,
// deliver policy and start) to each, with its stream sequence, oldest
// first, until each returns false or none are left; ctx bounds it.
func readStream(ctx context.Context, stream jetstream.Stream, cfg jetstream.OrderedConsumerConfig, each func(jetstream.Msg, uint64) bool) error {
	r := &streamReader{stream: stream, cfg: cfg, prefix: fmt.Sprintf("hookd_read_%016x", rand.Uint64())}
	defer r.drop()
	if err := r.create(ctx); err != nil {
		return err
	}
	retry := readRetryFirst
	failures := 0
	// again handles a pull that failed for want of the consumer: wait,
	// pull again, make the consumer again every readRecreateAfter
	// failures (or at once when it is gone or skipped a message), and
	// give up after readMaxFailures in a row.
	again := func(err error) error {
		if failures++; failures > readMaxFailures {
			return err
		}
		gone := errors.Is(err, errReadGap) || errors.Is(err, errReadLost) ||
			errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound)
		if !errors.Is(err, errReadGap) {
			if werr := sleepCtx(ctx, jitter(retry)); werr != nil {
				return fmt.Errorf("%w (after %w)", werr, err)
			}
			retry = min(2*retry, readRetryMax)
		}
		if gone || failures%readRecreateAfter == 0 {
			return r.create(ctx)
		}
		return nil
	}
	for r.left > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, stop, err := r.fetch(each)
		switch {
		case stop:
			return nil
		case err == nil && n > 0:
			failures, retry = 0, readRetryFirst
		case err == nil:
			// Nothing came: ask the server what is really left rather
			// than return a partial answer (a consumer whose server went
			// away answers neither: made again).
			info, err := r.cons.Info(ctx)
			if err != nil {
				if err := again(fmt.Errorf("%w: %w", errReadLost, err)); err != nil {
					return err
				}
				continue
			}
			r.left = info.NumPending
		case retryableRead(err):
			if err := again(err); err != nil {
				return err
			}
		default:
			return err
		}
	}
	return nil
}

// errReadGap reports a message skipped by a read's consumer (its consumer
// sequence jumped): the read goes on with a new consumer from the last
// message passed.
var errReadGap = errors.New("a message was skipped")

// errReadLost reports a read's consumer that neither handed out messages
// nor answered for its state: made again.
var errReadLost = errors.New("the read's consumer does not answer")

// retryableRead reports a failed pull that says nothing of the data: no
// server answered for the consumer yet (or any more), it is gone, or it
// skipped a message.
func retryableRead(err error) bool {
	return errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrConsumerDeleted) ||
		errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrNoHeartbeat) ||
		errors.Is(err, errReadGap)
}

type streamReader struct {
	stream jetstream.Stream
	cfg    jetstream.OrderedConsumerConfig
	prefix string
	serial int
	cons   jetstream.Consumer
	// lastStream is the stream sequence of the last message passed (0:
	// none yet), lastCons its consumer sequence on cons.
	lastStream, lastCons uint64
	// left is how many messages cons has still to hand out.
	left uint64
}

// create makes the read's consumer, from the start cfg says or after the
// last message passed, and drops the one before.
func (r *streamReader) create(ctx context.Context) error {
	r.drop()
	r.serial++
	cc := jetstream.ConsumerConfig{
		// Named, so that a create retried after a lost answer finds the
		// same consumer rather than leaving one behind.
		Name:              fmt.Sprintf("%s_%d", r.prefix, r.serial),
		AckPolicy:         jetstream.AckNonePolicy,
		DeliverPolicy:     r.cfg.DeliverPolicy,
		OptStartSeq:       r.cfg.OptStartSeq,
		OptStartTime:      r.cfg.OptStartTime,
		InactiveThreshold: r.cfg.InactiveThreshold,
		MemoryStorage:     true,
		Replicas:          1,
	}
	if len(r.cfg.FilterSubjects) == 1 {
		cc.FilterSubject = r.cfg.FilterSubjects[0]
	} else {
		cc.FilterSubjects = r.cfg.FilterSubjects
	}
	if r.lastStream > 0 {
		cc.DeliverPolicy, cc.OptStartSeq, cc.OptStartTime = jetstream.DeliverByStartSequencePolicy, r.lastStream+1, nil
	}
	cons, err := r.stream.CreateOrUpdateConsumer(ctx, cc)
	if err != nil {
		return err
	}
	r.cons, r.lastCons, r.left = cons, 0, cons.CachedInfo().NumPending
	return nil
}

// drop deletes the current consumer, if any, without waiting: the server
// would drop it after its InactiveThreshold anyway.
func (r *streamReader) drop() {
	if r.cons == nil {
		return
	}
	name := r.cons.CachedInfo().Name
	r.cons = nil
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.stream.DeleteConsumer(ctx, name)
	}()
}

// fetch pulls up to r.left messages (1,000 at most) and passes them to
// each; it returns how many it passed, whether each asked to stop, and
// what failed.
func (r *streamReader) fetch(each func(jetstream.Msg, uint64) bool) (int, bool, error) {
	batch, err := r.cons.Fetch(int(min(r.left, 1000)), jetstream.FetchMaxWait(readFetchWait))
	if err != nil {
		return 0, false, err
	}
	n, stop := 0, false
	var gap bool
	for m := range batch.Messages() {
		if stop || gap {
			continue // the batch is read out, not taken
		}
		meta, err := m.Metadata()
		if err != nil {
			continue
		}
		if meta.Sequence.Consumer != r.lastCons+1 {
			gap = true // what follows is read again from a new consumer
			continue
		}
		n++
		r.lastCons, r.lastStream = meta.Sequence.Consumer, meta.Sequence.Stream
		r.left = meta.NumPending
		stop = !each(m, meta.Sequence.Stream)
	}
	if stop {
		return n, true, nil
	}
	if gap {
		return n, false, errReadGap
	}
	if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return n, false, err
	}
	return n, false, nil
}

// jitter returns d give or take a fifth, so that many readers told "no
// responders" at once do not ask again in step.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration(rand.Int64N(int64(d)/5*2+1)) - d/5
}

// sleepCtx waits d or until ctx ends (its error).
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
