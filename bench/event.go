package bench

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// EventType is the type of every event the bench publishes.
const EventType = "bench.event"

// payload is a bench event's data. Sched is the time the event was
// scheduled to be sent (Unix ns): latency counts from it, not from when
// the driver got round to sending, so a stalled pipeline cannot hide its
// queueing (no coordinated omission).
type payload struct {
	Tenant string `json:"tenant"`
	Seq    int64  `json:"seq"`
	Sched  int64  `json:"sched_ns"`
	Pad    string `json:"pad,omitempty"`
}

// appendEvent renders the data of event seq for endpoint k of n.
func appendEvent(buf []byte, seq int64, endpoints int, sched int64, pad string) []byte {
	buf = append(buf[:0], `{"tenant":"t-`...)
	buf = strconv.AppendInt(buf, seq%int64(endpoints), 10)
	buf = append(buf, `","seq":`...)
	buf = strconv.AppendInt(buf, seq, 10)
	buf = append(buf, `,"sched_ns":`...)
	buf = strconv.AppendInt(buf, sched, 10)
	if pad != "" {
		buf = append(buf, `,"pad":"`...)
		buf = append(buf, pad...)
		buf = append(buf, '"')
	}
	return append(buf, '}')
}

// deliveredEvent reads seq and the scheduled time out of a delivery body:
// the Standard Webhooks envelope {"type":...,"timestamp":...,"data":{...}}.
func deliveredEvent(body []byte) (seq, sched int64, ok bool) {
	i := bytes.Index(body, []byte(`"data":`))
	if i < 0 {
		return 0, 0, false
	}
	var p payload
	if err := json.Unmarshal(body[i+len(`"data":`):len(body)-1], &p); err != nil {
		return 0, 0, false
	}
	return p.Seq, p.Sched, true
}
