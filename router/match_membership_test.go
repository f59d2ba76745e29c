package router

import (
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/rules"
)

// An endpoint is matched by the events stored from its RoutedFromSeq on
// (0: every event); one still being created holds an event its rule
// matches, for PendingHold, then is skipped.
func TestMatchRoutesEventsStoredAfterCreation(t *testing.T) {
	at := func(id string, from uint64, events ...string) *endpoint.Compiled {
		rule, err := rules.Compile(events, "")
		if err != nil {
			t.Fatal(err)
		}
		return &endpoint.Compiled{Endpoint: &endpoint.Endpoint{ID: id, RoutedFromSeq: from}, Rule: rule}
	}
	always, later := at("ep_always", 0, "order.*"), at("ep_later", 10, "order.*")
	pending, pendingOther := at("ep_pending", endpoint.RoutedFromPending, "order.*"), at("ep_pending_other", endpoint.RoutedFromPending, "invoice.*")
	snap := endpoint.NewSnapshot([]*endpoint.Compiled{always, later, pending, pendingOther})
	env := &rules.Env{Type: "order.paid"}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ids := func(ts []target) []string {
		var out []string
		for _, t := range ts {
			out = append(out, t.ep.ID)
		}
		return out
	}

	r, ev := quietRouter(), &rules.Evaluator{}
	r.creating = newCreating(time.Hour, log)
	if targets, held := r.match(snap, env, ev, false, 12); held != pending || targets != nil {
		t.Fatalf("with an endpoint being created: targets %v, held for %v; want none, held for ep_pending", ids(targets), held)
	}
	if targets, held := r.match(snap, &rules.Env{Type: "invoice.paid"}, ev, false, 12); held != pendingOther || targets != nil {
		t.Fatalf("invoice event: targets %v, held for %v; want held for ep_pending_other", ids(targets), held)
	}

	r.creating = newCreating(0, log) // the creations failed: no more holding
	for seq, want := range map[uint64][]string{1: {"ep_always"}, 9: {"ep_always"}, 10: {"ep_always", "ep_later"}, 11: {"ep_always", "ep_later"}} {
		targets, held := r.match(snap, env, ev, false, seq)
		if held != nil || !slices.Equal(ids(targets), want) {
			t.Errorf("event at %d: targets %v, held for %v; want %v", seq, ids(targets), held, want)
		}
	}
}
