package event

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestEnvelopeKeepsDataAsSent(t *testing.T) {
	e := &Event{Type: "function.executed", Time: time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("x", 3600)), Data: json.RawMessage(`{"b":1, "a":[true]}`)}
	got := string(e.Envelope())
	want := `{"type":"function.executed","timestamp":"2026-01-02T02:04:05.0000006Z","data":{"b":1, "a":[true]}}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if !json.Valid(e.Envelope()) {
		t.Fatal("envelope is not JSON")
	}
}

func TestNormalizeData(t *testing.T) {
	cases := map[string]string{
		`{"a":1}`:   `{"a":1}`,
		`[1,2]`:     `[1,2]`,
		`hello`:     `"hello"`,
		``:          `null`,
		`{"broken"`: `"{\"broken\""`,
	}
	for in, want := range cases {
		if got := string(NormalizeData([]byte(in))); got != want {
			t.Errorf("NormalizeData(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestSequenceIDIsDeterministicAndDistinct(t *testing.T) {
	created := time.Unix(1700000000, 0)
	if first, again := SequenceID(created, 7), SequenceID(created, 7); first != again {
		t.Fatal("same stream and sequence must give the same id")
	}
	if SequenceID(created, 7) == SequenceID(created, 8) || SequenceID(created, 7) == SequenceID(created.Add(time.Nanosecond), 7) {
		t.Fatal("different events share an id")
	}
}

func TestNewIDIsUniqueAndOrdered(t *testing.T) {
	a, b := NewID("evt"), NewID("evt")
	if a == b || !strings.HasPrefix(a, "evt_") || len(a) != 4+26 {
		t.Fatalf("ids %q %q", a, b)
	}
}

func TestTypeFromSubject(t *testing.T) {
	typ, err := TypeFromSubject("events.workflow.execution.fulfilled")
	if err != nil || typ != "workflow.execution.fulfilled" {
		t.Fatalf("got %q, %v", typ, err)
	}
	for _, bad := range []string{"other.x", "events.", "events.a..b", "events.a.*"} {
		if _, err := TypeFromSubject(bad); err == nil {
			t.Errorf("TypeFromSubject(%q) accepted", bad)
		}
	}
}
