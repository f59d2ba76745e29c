package event

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// Any body a producer sends becomes a JSON value, and the delivery's
// envelope is valid JSON carrying exactly that value.
func FuzzNormalizeDataAndEnvelope(f *testing.F) {
	for _, seed := range []string{``, `{}`, `{"a":[1,2,{"b":null}]}`, `not json`, "\xff\xfe", `"str"`, `1e999`, `{"a":`, "[\"\\ud800\"]"} {
		f.Add([]byte(seed), "order.paid")
	}
	f.Fuzz(func(t *testing.T, body []byte, typ string) {
		data := NormalizeData(body)
		if !json.Valid(data) {
			t.Fatalf("NormalizeData(%q) = %q: not JSON", body, data)
		}
		var v any
		_ = json.Unmarshal(data, &v) // may fail (1e999): the router then filters on null
		env := (&Event{ID: "evt", Type: typ, Time: time.Unix(0, 0), Data: data}).Envelope()
		var got struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(env, &got); err != nil {
			t.Fatalf("envelope %q is not JSON: %v", env, err)
		}
		if !bytes.Equal(compact(t, got.Data), compact(t, data)) {
			t.Fatalf("envelope data %q, want %q", got.Data, data)
		}
		_, _ = ParseSubject(typ)
		_ = ValidateType(typ)
	})
}

func compact(t *testing.T, b []byte) []byte {
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
