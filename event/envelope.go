package event

import (
	"encoding/json"
	"time"
)

// Envelope renders the body an endpoint receives:
// {"type":"...","timestamp":"<RFC 3339>","data":...}. Data is copied as the
// producer sent it, so its formatting and key order are preserved.
func (e *Event) Envelope() []byte {
	typ, _ := json.Marshal(e.Type)
	data := e.Data
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	buf := make([]byte, 0, len(typ)+len(data)+64)
	buf = append(buf, `{"type":`...)
	buf = append(buf, typ...)
	buf = append(buf, `,"timestamp":"`...)
	buf = e.Time.UTC().AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, `","data":`...)
	buf = append(buf, data...)
	buf = append(buf, '}')
	return buf
}
