package endpoint

import (
	"errors"
	"testing"
	"time"
)

func TestBatchDefaultsAndValidation(t *testing.T) {
	if got := (Batch{}).WithDefaults(); got != (Batch{MaxEvents: 100, MaxWait: 10 * time.Second, Field: "events"}) {
		t.Fatalf("defaults %+v", got)
	}
	if got := (Batch{MaxEvents: 7, MaxWait: time.Minute, Field: "runs"}).WithDefaults(); got.MaxEvents != 7 || got.MaxWait != time.Minute || got.Field != "runs" {
		t.Fatalf("set fields overridden: %+v", got)
	}
	base := Endpoint{URL: "https://x.example", Secret: NewSecret()}
	for _, c := range []struct {
		batch    Batch
		ordering string
		field    string // "" when valid
	}{
		{Batch{}, "", ""},
		{Batch{MaxEvents: 1, MaxWait: time.Second, Field: "runs"}, "", ""},
		{Batch{MaxEvents: 1000, MaxWait: 15 * time.Minute, Field: "my-list_2"}, "", ""},
		{Batch{MaxEvents: -1}, "", "batch.max_events"},
		{Batch{MaxEvents: 1001}, "", "batch.max_events"},
		{Batch{MaxWait: 999 * time.Millisecond}, "", "batch.max_wait"},
		{Batch{MaxWait: 15*time.Minute + 1}, "", "batch.max_wait"},
		{Batch{Field: "end_time"}, "", "batch.field"},
		{Batch{Field: "a b"}, "", "batch.field"},
		{Batch{Field: "-x"}, "", "batch.field"},
		{Batch{}, OrderingOrdered, "batch"},
	} {
		e := base
		b := c.batch
		e.Batch, e.Ordering = &b, c.ordering
		_, err := e.Validate()
		var fe *FieldError
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%+v: %v", c.batch, err)
		case c.field != "" && (!errors.As(err, &fe) || fe.Field != c.field):
			t.Errorf("%+v ordering %q: error %v, want one naming %s", c.batch, c.ordering, err, c.field)
		}
	}
	e := base
	if e.Batched() || e.Layout().Batched {
		t.Fatal("an endpoint without batch is batched")
	}
	e.Batch = &Batch{}
	if !e.Batched() || !e.Layout().Batched {
		t.Fatal("an endpoint with batch is not batched")
	}
}

// A batch cannot go to a chat format (one message per request) or carry
// a header rendered per event.
func TestBatchRefusesChatFormatsAndTemplates(t *testing.T) {
	for _, e := range []Endpoint{
		{URL: "https://x.example", Secret: NewSecret(), Batch: &Batch{}, Format: "slack"},
		{URL: "https://x.example", Secret: NewSecret(), Batch: &Batch{}, Format: "teams"},
		{URL: "https://x.example", Secret: NewSecret(), Batch: &Batch{}, Headers: map[string]string{"X-Token": "{{ data.token }}"}},
	} {
		var fe *FieldError
		if _, err := e.Validate(); !errors.As(err, &fe) || fe.Field != "batch" {
			t.Errorf("format %q headers %v: %v, want a batch field error", e.Format, e.Headers, err)
		}
	}
	ok := Endpoint{URL: "https://x.example", Secret: NewSecret(), Batch: &Batch{}, Format: "raw", Headers: map[string]string{"X-Token": "static-0123456789"}}
	if _, err := ok.Validate(); err != nil {
		t.Fatalf("raw with a static header: %v", err)
	}
}
