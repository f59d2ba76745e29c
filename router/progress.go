package router

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/event"
)

// progress is what a failed routing of an event achieved: the endpoints
// its deliveries reached. A retry routes only to the rest, so an endpoint
// stream that stays full for longer than the duplicate window cannot make
// the others receive the event again.
type progress struct {
	Reached []string `json:"reached"`
}

func progressKey(ordered bool, seq uint64) string {
	lane := "p."
	if ordered {
		lane = "o."
	}
	return lane + strconv.FormatUint(seq, 10)
}

// reached returns the endpoints an earlier routing of the event reached;
// none for a first routing, which costs no lookup.
func (r *Router) reached(ctx context.Context, m jetstream.Msg, e *event.Event, ordered bool) map[string]bool {
	if r.routing == nil {
		return nil
	}
	if meta, err := m.Metadata(); err != nil || meta.NumDelivered < 2 {
		return nil
	}
	entry, err := r.routing.Get(ctx, progressKey(ordered, e.Seq))
	if err != nil {
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			r.log.Warn("routing progress unreadable: the retry goes to every endpoint", "event", e.ID, "err", err)
		}
		return nil
	}
	var p progress
	if json.Unmarshal(entry.Value(), &p) != nil {
		return nil
	}
	out := make(map[string]bool, len(p.Reached))
	for _, id := range p.Reached {
		out[id] = true
	}
	return out
}

// remember records the endpoints reached so far, when some were not: the
// common, all-reached case costs nothing.
func (r *Router) remember(ctx context.Context, e *event.Event, ordered bool, before map[string]bool, targets []target) {
	if r.routing == nil || !slices.ContainsFunc(targets, func(t target) bool { return t.err != nil }) {
		return
	}
	p := progress{}
	for id := range before {
		p.Reached = append(p.Reached, id)
	}
	for _, t := range targets {
		if t.err == nil {
			p.Reached = append(p.Reached, t.ep.ID)
		}
	}
	b, _ := json.Marshal(p)
	if _, err := r.routing.Put(ctx, progressKey(ordered, e.Seq), b); err != nil {
		r.log.Warn("routing progress not recorded: the retry goes to every endpoint", "event", e.ID, "err", err)
	}
}
