package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/delivery"
)

// A delivery handed out again may be one whose worker died between the
// two steps of a transition (docs/engine.md §6; FaultPoint names them):
// after storing its record and before settling it, after storing its
// dead letter and before acknowledging it, after storing its copy in the
// held subject and before acknowledging the original. preflight takes it
// over so that it is neither lost nor sent twice: a stored success is
// acknowledged (the log check), a stored dead end is dead-lettered again
// under the same Nats-Msg-Id (deadAgain), and a queue delivery whose copy
// may wait in the held subject is moved again (copyMayWait).

// moveAgainTimeout bounds the read of a held subject's newest message.
const moveAgainTimeout = 10 * time.Second

// copyMayWait reports whether a queue delivery handed out again may have
// a copy in its endpoint's held subject: its held subject's newest
// message was stored after it (less delivery.ClockMargin: the queue and
// held streams' leaders may be different servers), or that could not be
// read. Such a delivery is moved again, not attempted: if a copy is there,
// its Nats-Msg-Id (topology.QueueMoveID) drops the second one, and the
// copy is the one delivery. Asked before the log is read: a copy that has
// left the held subject was settled, so its record is in the log by the
// time the log is read.
func (w *Worker) copyMayWait(ctx context.Context, endpointID string, msg jetstream.Msg, meta *jetstream.MsgMetadata) bool {
	if meta.NumDelivered < 2 || !w.fromQueue(msg) {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, moveAgainTimeout)
	defer cancel()
	stored, found, err := w.newestStored(ctx, w.names.HeldStream(), w.names.HeldSubject(endpointID))
	if err != nil {
		w.log.Warn("held subject unreadable; moving a delivery handed out again", "endpoint", endpointID, "err", err)
		return true
	}
	return found && !stored.Before(meta.Timestamp.Add(-delivery.ClockMargin))
}

// msgGetResponse is the answer to $JS.API.STREAM.MSG.GET, the fields used.
type msgGetResponse struct {
	Error *struct {
		Code        int                 `json:"code"`
		ErrCode     jetstream.ErrorCode `json:"err_code"`
		Description string              `json:"description"`
	} `json:"error"`
	Message *struct {
		Time time.Time `json:"time"`
	} `json:"message"`
}

// newestStored returns when the newest message of stream on subject was
// stored, found false if there is none. Asked of the stream's leader
// (STREAM.MSG.GET, not a direct get, which a replica lagging behind may
// answer): a copy stored is seen.
func (w *Worker) newestStored(ctx context.Context, stream, subject string) (time.Time, bool, error) {
	prefix := w.js.Options().APIPrefix
	if prefix == "" {
		prefix = jetstream.DefaultAPIPrefix
	}
	req, _ := json.Marshal(map[string]string{"last_by_subj": subject})
	m, err := w.js.Conn().RequestWithContext(ctx, prefix+"STREAM.MSG.GET."+stream, req)
	if err != nil {
		return time.Time{}, false, err
	}
	var resp msgGetResponse
	if err := json.Unmarshal(m.Data, &resp); err != nil {
		return time.Time{}, false, fmt.Errorf("newest message of %s: %w", subject, err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrCode == jetstream.JSErrCodeMessageNotFound:
		return time.Time{}, false, nil
	case resp.Error != nil:
		return time.Time{}, false, fmt.Errorf("newest message of %s: %s", subject, resp.Error.Description)
	case resp.Message == nil:
		return time.Time{}, false, fmt.Errorf("newest message of %s: empty answer", subject)
	}
	return resp.Message.Time, true, nil
}

// deadAgain settles a delivery handed out again whose log says its
// queueing is dead: its worker died after the record, before
// acknowledging it, perhaps before storing the dead letter. The dead letter
// is stored again from the record: same attempt number, so same
// Nats-Msg-Id, dropped if the first was stored. The delivery is not sent
// again.
func (w *Worker) deadAgain(ctx context.Context, msg jetstream.Msg, a *attempt, rec delivery.Attempt) settlement {
	rec.DeliveryID, rec.EndpointID = a.rec.DeliveryID, a.rec.EndpointID
	if err := w.deadLetter(ctx, msg, rec); err != nil {
		w.log.Error("dead letter failed", "endpoint", rec.EndpointID, "delivery", rec.DeliveryID, "err", err)
		return nakAfter(5 * time.Second)
	}
	return ackIt
}
