package delivery

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestBatchID(t *testing.T) {
	a := BatchMember{DeliveryID: "dlv_a", Seq: 1}
	b := BatchMember{DeliveryID: "dlv_b", Seq: 2}
	id := BatchID("ep_1", []BatchMember{a, b})
	if !strings.HasPrefix(id, "dlv_") || len(id) != 30 {
		t.Fatalf("id %q is not in the form of a delivery id", id)
	}
	if BatchID("ep_1", []BatchMember{b, a}) != id {
		t.Fatal("the id depends on the members' order")
	}
	requeued := b
	requeued.Seq = 9 // the same delivery queued anew
	for name, other := range map[string]string{
		"another endpoint":  BatchID("ep_2", []BatchMember{a, b}),
		"fewer members":     BatchID("ep_1", []BatchMember{a}),
		"a member requeued": BatchID("ep_1", []BatchMember{a, requeued}),
	} {
		if other == id {
			t.Errorf("%s gives the same batch id", name)
		}
	}
}

func TestBatchBody(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 1, 28, 54, 734491000, time.UTC)
	members := []BatchMember{
		{EventTime: t0.Add(2 * time.Second), Body: []byte(`{"type":"a","data":{"n":1}}`)},
		{EventTime: t0, Body: []byte("not json")},
		{EventTime: t0.Add(time.Second), Body: nil},
	}
	body, start, end := BatchBody("ep_1", "runs", members)
	if !start.Equal(t0) || !end.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("start %s end %s, want the earliest and latest member", start, end)
	}
	want := `{"rule_id":"ep_1","start_time":"2026-11-27T01:28:54.734491Z","end_time":"2026-11-27T01:28:56.734491Z",` +
		`"runs":[{"type":"a","data":{"n":1}},"not json",null]}`
	if string(body) != want {
		t.Fatalf("body\n%s\nwant\n%s", body, want)
	}
	if !json.Valid(body) || len(body) > BatchSize("runs", len(members), len(members[0].Body)+len("not json")) {
		t.Fatalf("body invalid or larger than BatchSize: %d", len(body))
	}
}
