package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/internal/natsname"
	"github.com/hookd/hookd/topology"
)

// A routed delivery has no log record until its first attempt: while it
// waits in the delivery streams (topology.Topology.EndpointSubjects) it is
// pending, and what the log would have said is read from its message's
// headers. The delivery streams are work queues, which take no reading
// consumers: they are read by batched direct gets (the streams allow
// them), which never disturb the consumers handing the deliveries out.

// directBatch is how many messages one direct get asks for, and
// directMaxBytes bounds the bytes of its answer: deliveries are up to
// 1 MiB each, and only their headers are needed.
const (
	directBatch    = 256
	directMaxBytes = 4 << 20
)

// queuedTimeout bounds a read of one endpoint's backlog.
const queuedTimeout = 30 * time.Second

// Queued calls each with the pending record of every delivery waiting for
// an endpoint that was stored at or after from (zero: all), stream by
// stream and oldest first in each, until each returns false. A delivery
// waiting twice (a move caught between its copy and the original's
// acknowledgement) is passed once. An endpoint id that is not a token is
// natsname.ErrInvalidName.
func Queued(ctx context.Context, topo *topology.Topology, endpointID string, from time.Time, each func(Attempt) bool) error {
	if err := natsname.ValidToken(endpointID); err != nil {
		return fmt.Errorf("delivery backlog: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, queuedTimeout)
	defer cancel()
	seen := map[string]bool{}
	stop := false
	subjects, err := topo.EndpointSubjects(ctx, endpointID)
	if err != nil {
		return fmt.Errorf("delivery backlog of %s: %w", endpointID, err)
	}
	for _, ss := range subjects {
		err := directGet(ctx, topo.JetStream(), ss.Stream, ss.Subject, from, func(m *nats.Msg) bool {
			a, ok := queuedRecord(endpointID, m)
			if !ok || seen[a.DeliveryID] {
				return true
			}
			seen[a.DeliveryID] = true
			stop = !each(a)
			return !stop
		})
		if err != nil {
			return fmt.Errorf("delivery backlog of %s: %w", endpointID, err)
		}
		if stop {
			return nil
		}
	}
	return nil
}

// queuedRecord is the pending record of a waiting delivery message, as
// routing used to log it: the headers say which delivery it is, its store
// time is when it was queued.
func queuedRecord(endpointID string, m *nats.Msg) (Attempt, bool) {
	h := m.Header
	a := Attempt{DeliveryID: h.Get(HeaderDeliveryID), EventID: h.Get(HeaderEventID), EventType: h.Get(HeaderEventType),
		EndpointID: endpointID, Outcome: OutcomePending}
	if a.DeliveryID == "" {
		return a, false
	}
	a.EventSeq, _ = strconv.ParseUint(h.Get(HeaderEventSeq), 10, 64)
	a.EventTime, _ = time.Parse(time.RFC3339Nano, h.Get(HeaderEventTime))
	a.Lane, _ = strconv.Atoi(h.Get(HeaderLane))
	a.BatchSize, _ = strconv.Atoi(h.Get(HeaderBatchSize))
	a.Number, _ = strconv.Atoi(h.Get(HeaderAttemptBase))
	a.Queue = a.Number
	a.Time, _ = time.Parse(time.RFC3339Nano, h.Get(jetstream.TimeStampHeaer))
	return a, true
}

// directGetRequest is the server's JSApiMsgGetRequest, the fields used.
type directGetRequest struct {
	Seq       uint64     `json:"seq,omitempty"`
	NextFor   string     `json:"next_by_subj"`
	Batch     int        `json:"batch"`
	MaxBytes  int        `json:"max_bytes,omitempty"`
	StartTime *time.Time `json:"start_time,omitempty"`
}

// errDirectUnanswered reports a direct get no server answered: none
// subscribes to the stream's direct gets (a replica stops answering them
// while it is not current, after a heal or a restart, and a stream may
// not allow them), or the one asked did not answer within directWait (its
// route is dead and not yet dropped).
var errDirectUnanswered = errors.New("direct get unanswered")

// directWait bounds the wait for the first answer to one direct get: a
// replica answers in milliseconds; a request routed to one cut off is
// never answered.
const directWait = 2 * time.Second

// directGet passes each message of stream on subject (a wildcard may be
// used) stored at or after from, oldest first, to each until it returns
// false, in batches of directBatch ($JS.API.DIRECT.GET, nats.go has no
// API for batches), any replica answering. When none does, it reads on
// from the stream's leader one message at a time (leaderGet): slower, but
// the backlog is readable as long as the stream has a leader.
func directGet(ctx context.Context, js jetstream.JetStream, stream, subject string, from time.Time, each func(*nats.Msg) bool) error {
	last, err := directGetBatches(ctx, js, stream, subject, from, each)
	if !errors.Is(err, errDirectUnanswered) {
		return err
	}
	return leaderGet(ctx, js, stream, subject, last+1, from, each)
}

// directGetBatches is directGet by direct gets only; it returns the
// sequence of the last message passed (0: none), and errDirectUnanswered
// when no replica answered.
func directGetBatches(ctx context.Context, js jetstream.JetStream, stream, subject string, from time.Time, each func(*nats.Msg) bool) (uint64, error) {
	nc := js.Conn()
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return 0, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	req := directGetRequest{NextFor: subject, Batch: directBatch, MaxBytes: directMaxBytes}
	if from.IsZero() {
		req.Seq = 1
	} else {
		from = from.UTC()
		req.StartTime = &from
	}
	var last uint64
	for {
		body, _ := json.Marshal(req)
		if err := nc.PublishRequest(apiPrefix(js)+"DIRECT.GET."+stream, inbox, body); err != nil {
			return last, err
		}
		more := false
		for answered, done := false, false; !done; answered = true {
			m, err := nextAnswer(ctx, sub, answered)
			if err != nil {
				return last, err
			}
			switch status := m.Header.Get("Status"); status {
			case "":
				seq, _ := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
				last = max(last, seq)
				if !each(m) {
					return last, nil
				}
			case "204": // end of the batch
				pending, _ := strconv.ParseUint(m.Header.Get("Nats-Num-Pending"), 10, 64)
				more = pending > 0 && last > 0
				done = true
			case "404": // nothing (more) on the subject
				return last, nil
			case "503": // no responders: nobody answers direct gets now
				return last, fmt.Errorf("%w: %s", errDirectUnanswered, stream)
			default:
				return last, fmt.Errorf("direct get of %s refused: %s %s", stream, status, m.Header.Get("Description"))
			}
		}
		if !more {
			return last, nil
		}
		req.Seq, req.StartTime = last+1, nil
	}
}

// nextAnswer waits for the next message of a direct get's answer: the
// first within directWait, the rest (streamed right behind it) until ctx
// ends.
func nextAnswer(ctx context.Context, sub *nats.Subscription, answered bool) (*nats.Msg, error) {
	wctx := ctx
	if !answered {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, directWait)
		defer cancel()
	}
	m, err := sub.NextMsgWithContext(wctx)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		// nats.go turns the server's 503 status into this error.
		return nil, fmt.Errorf("%w: %w", errDirectUnanswered, err)
	case err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
		return nil, fmt.Errorf("%w within %s", errDirectUnanswered, directWait)
	}
	return m, err
}

func apiPrefix(js jetstream.JetStream) string {
	if p := js.Options().APIPrefix; p != "" {
		return p
	}
	return jetstream.DefaultAPIPrefix
}

// leaderWait bounds one request to a stream's leader.
const leaderWait = 5 * time.Second

// leaderGetRequest is the server's JSApiMsgGetRequest for one message.
type leaderGetRequest struct {
	Seq       uint64     `json:"seq,omitempty"`
	NextFor   string     `json:"next_by_subj"`
	StartTime *time.Time `json:"start_time,omitempty"`
}

// leaderGetResponse is the server's JSApiMsgGetResponse.
type leaderGetResponse struct {
	Message *struct {
		Subject  string    `json:"subject"`
		Sequence uint64    `json:"seq"`
		Header   []byte    `json:"hdrs"`
		Data     []byte    `json:"data"`
		Time     time.Time `json:"time"`
	} `json:"message"`
	Error *jetstream.APIError `json:"error"`
}

// leaderGet is directGet through the stream leader ($JS.API.STREAM.MSG.GET,
// one message per request: the server takes no batch there), from
// sequence seq when above 1, else from time from (zero: the start). The
// messages passed carry the headers a direct get's do (sequence, store
// time).
func leaderGet(ctx context.Context, js jetstream.JetStream, stream, subject string, seq uint64, from time.Time, each func(*nats.Msg) bool) error {
	nc := js.Conn()
	req := leaderGetRequest{NextFor: subject, Seq: max(seq, 1)}
	if seq <= 1 && !from.IsZero() {
		from = from.UTC()
		req.Seq, req.StartTime = 0, &from
	}
	for {
		body, _ := json.Marshal(req)
		// A stream with no leader is answered by nobody: bounded, as the
		// API's own requests are.
		rctx, cancel := context.WithTimeout(ctx, leaderWait)
		raw, err := nc.RequestWithContext(rctx, apiPrefix(js)+"STREAM.MSG.GET."+stream, body)
		cancel()
		if err != nil {
			return fmt.Errorf("stream %s leader: %w", stream, err)
		}
		var resp leaderGetResponse
		if err := json.Unmarshal(raw.Data, &resp); err != nil {
			return fmt.Errorf("stream %s leader: %w", stream, err)
		}
		if resp.Error != nil {
			if resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound {
				return nil // nothing (more) on the subject
			}
			return fmt.Errorf("stream %s leader: %w", stream, resp.Error)
		}
		if resp.Message == nil {
			return fmt.Errorf("stream %s leader: an answer without a message", stream)
		}
		m := nats.NewMsg(resp.Message.Subject)
		m.Data = resp.Message.Data
		if len(resp.Message.Header) > 0 {
			if m.Header, err = nats.DecodeHeadersMsg(resp.Message.Header); err != nil {
				return fmt.Errorf("stream %s leader: message %d: %w", stream, resp.Message.Sequence, err)
			}
		}
		m.Header.Set(jetstream.SequenceHeader, strconv.FormatUint(resp.Message.Sequence, 10))
		m.Header.Set(jetstream.TimeStampHeaer, resp.Message.Time.UTC().Format(time.RFC3339Nano))
		if !each(m) {
			return nil
		}
		req.Seq, req.StartTime = resp.Message.Sequence+1, nil
	}
}
