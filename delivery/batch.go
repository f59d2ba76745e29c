package delivery

import (
	"crypto/sha256"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/topology"
)

// BatchEventType is the event type of a batch delivery.
const BatchEventType = "hookd.batch"

// Headers of a batch delivery.
const (
	// HeaderBatchSize is how many deliveries the batch holds.
	HeaderBatchSize = "Hookd-Batch-Size"
	// HeaderBatchOps is set when the batch holds an operational event:
	// like those, it raises no operational events of its own.
	HeaderBatchOps = "Hookd-Batch-Ops"
)

// BatchID returns the id of the batch of the given members to an
// endpoint: a hash of the set of member messages (delivery id and stream
// sequence), in whatever order. Collecting the same messages again (after
// a crash before they were acknowledged) yields the same id, and the batch
// stream drops the second copy; a delivery queued anew (a manual retry) is
// a new message, so its next batch has a new id. It has the form of a
// delivery id (a batch is a delivery), its second the newest member's
// store time, which its records follow (ParseID).
func BatchID(endpointID string, members []BatchMember) string {
	keys := make([]string, len(members))
	var newest time.Time
	for i, m := range members {
		keys[i] = m.DeliveryID + "@" + strconv.FormatUint(m.Seq, 10)
		if m.Stored.After(newest) {
			newest = m.Stored
		}
	}
	slices.Sort(keys)
	sum := sha256.Sum256([]byte("batch\x00" + endpointID + "\x00" + strings.Join(keys, "\x00")))
	return composeID(topology.Fingerprint(endpointID), newest, sum[:])
}

// BatchMember is one delivery collected into a batch.
type BatchMember struct {
	// DeliveryID and Seq (its message's sequence in the endpoint stream)
	// identify the member's queueing.
	DeliveryID string
	Seq        uint64
	// Stored is when the member's message was stored.
	Stored time.Time
	// EventTime is when the member's event was accepted.
	EventTime time.Time
	// Body is the member delivery's body as stored.
	Body []byte
}

// batchOverhead bounds what BatchBody adds to its members' bodies, field
// name aside.
const batchOverhead = 256

// BatchSize is the size of the body BatchBody makes of members whose
// bodies add up to bodies bytes.
func BatchSize(field string, members, bodies int) int {
	return batchOverhead + len(field) + bodies + members
}

// BatchBody composes a batch in LangSmith's automation shape:
// {"rule_id","start_time","end_time","<field>":[...]}, where rule_id is
// the endpoint id, start and end bound the members' acceptance times (RFC
// 3339), and the list holds each member's body as a JSON value (a body that
// is not JSON as a JSON string), in the given order. It also returns start
// and end.
func BatchBody(endpointID, field string, members []BatchMember) (body []byte, start, end time.Time) {
	bodies := 0
	for i, m := range members {
		bodies += len(m.Body)
		t := m.EventTime.UTC()
		if i == 0 || t.Before(start) {
			start = t
		}
		if i == 0 || t.After(end) {
			end = t
		}
	}
	str := func(s string) []byte { b, _ := json.Marshal(s); return b }
	buf := make([]byte, 0, BatchSize(field, len(members), bodies))
	buf = append(buf, `{"rule_id":`...)
	buf = append(buf, str(endpointID)...)
	buf = append(buf, `,"start_time":"`...)
	buf = start.AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, `","end_time":"`...)
	buf = end.AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, `",`...)
	buf = append(buf, str(field)...)
	buf = append(buf, `:[`...)
	for i, m := range members {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, event.NormalizeData(m.Body)...)
	}
	buf = append(buf, "]}"...)
	return buf, start, end
}
