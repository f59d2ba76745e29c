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

// errDirectGet reports a direct get the server refused.
var errDirectGet = errors.New("direct get refused")

// directGet passes each message of stream on subject (a wildcard may be
// used) stored at or after from, oldest first, to each until it returns
// false, in batches of directBatch ($JS.API.DIRECT.GET, nats.go has no
// API for batches).
func directGet(ctx context.Context, js jetstream.JetStream, stream, subject string, from time.Time, each func(*nats.Msg) bool) error {
	nc := js.Conn()
	prefix := js.Options().APIPrefix
	if prefix == "" {
		prefix = jetstream.DefaultAPIPrefix
	}
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return err
	}
	defer func() { _ = sub.Unsubscribe() }()
	req := directGetRequest{NextFor: subject, Batch: directBatch, MaxBytes: directMaxBytes}
	if from.IsZero() {
		req.Seq = 1
	} else {
		from = from.UTC()
		req.StartTime = &from
	}
	for {
		body, _ := json.Marshal(req)
		if err := nc.PublishRequest(prefix+"DIRECT.GET."+stream, inbox, body); err != nil {
			return err
		}
		var last uint64
		more := false
		for done := false; !done; {
			m, err := sub.NextMsgWithContext(ctx)
			if err != nil {
				return err
			}
			switch status := m.Header.Get("Status"); status {
			case "":
				seq, _ := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
				last = max(last, seq)
				if !each(m) {
					return nil
				}
			case "204": // end of the batch
				pending, _ := strconv.ParseUint(m.Header.Get("Nats-Num-Pending"), 10, 64)
				more = pending > 0 && last > 0
				done = true
			case "404": // nothing (more) on the subject
				return nil
			default: // 503: nobody answers direct gets (see topology's AllowDirect)
				return fmt.Errorf("%w: %s %s %s", errDirectGet, stream, status, m.Header.Get("Description"))
			}
		}
		if !more {
			return nil
		}
		req.Seq, req.StartTime = last+1, nil
	}
}
