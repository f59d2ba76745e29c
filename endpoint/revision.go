package endpoint

import (
	"context"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// revisions tracks the endpoints bucket's revision (its stream sequence)
// up to which a Registry's Snapshot has applied every change, for
// WaitRevision.
type revisions struct {
	mu      sync.Mutex
	applied uint64
	grew    chan struct{} // closed when applied grows; nil until someone waits
}

// advance records entries as applied: called after the snapshot holding
// them is visible.
func (v *revisions) advance(entries []jetstream.KeyValueEntry) {
	var top uint64
	for _, e := range entries {
		top = max(top, e.Revision())
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if top <= v.applied {
		return
	}
	v.applied = top
	if v.grew != nil {
		close(v.grew)
		v.grew = nil
	}
}

// AppliedRevision is the endpoints bucket's revision (stream sequence) up
// to which Snapshot reflects every change; 0 before the first is applied.
// The watch delivers changes in revision order, so every change at or
// below it is applied.
func (r *Registry) AppliedRevision() uint64 {
	r.rev.mu.Lock()
	defer r.rev.mu.Unlock()
	return r.rev.applied
}

// WaitRevision returns once Snapshot reflects every change of the
// endpoints bucket up to revision rev (AppliedRevision >= rev), or ctx's
// error. Routers use it so that an event stored after an endpoint was put
// is never routed against a view without it. rev must be a revision the
// bucket holds a message at (its last one, say), or the wait ends only
// with a later change.
func (r *Registry) WaitRevision(ctx context.Context, rev uint64) error {
	for {
		r.rev.mu.Lock()
		if r.rev.applied >= rev {
			r.rev.mu.Unlock()
			return nil
		}
		if r.rev.grew == nil {
			r.rev.grew = make(chan struct{})
		}
		grew := r.rev.grew
		r.rev.mu.Unlock()
		select {
		case <-grew:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
