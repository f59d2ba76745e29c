package httpapi

import (
	"context"
	"sync"

	"github.com/hookd/hookd/endpoint"
)

// newEndpoint is an endpoint stored by putNewEndpoint, at revision rev,
// whose events do not begin anywhere yet.
type newEndpoint struct {
	e   *endpoint.Endpoint
	rev uint64
}

// routeFrom completes the creation of endpoints stored by
// putNewEndpoint: it reads the events stream's last sequence L once, then
// stores L+1 as where each endpoint's events begin (RoutedFromSeq). An
// endpoint gets exactly the events stored after that read, whatever the
// routers' lag: each was stored after the endpoint was visible to routers,
// which wait until their view has every endpoint stored before an event
// (see package router). Earlier events reach it by backfill. The result
// has an error (an *apiError) per endpoint, nil for those created; a
// failed one is removed again, stream and all.
func (a *API) routeFrom(ctx context.Context, list []newEndpoint) []error {
	errs := make([]error, len(list))
	if len(list) == 0 {
		return errs
	}
	// The read comes after every put of list was acknowledged: one read
	// serves a whole bulk request.
	s, err := a.js.Stream(ctx, a.topo.Names().EventsStream())
	if err != nil {
		for i, n := range list {
			a.discardNew(ctx, n.e)
			errs[i] = natsError("endpoint not stored: the events stream's position not read", err)
		}
		return errs
	}
	from := s.CachedInfo().State.LastSeq + 1
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(bulkParallel, len(list)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				e := list[i].e
				if err := a.store.RouteFrom(ctx, e, list[i].rev, from); err != nil {
					a.discardNew(ctx, e)
					errs[i] = natsError("endpoint not stored", err)
					continue
				}
				a.log.Info("endpoint created", "endpoint", e.ID, "url", endpoint.RedactedURL(e.URL), "routed_from_seq", from)
			}
		}()
	}
	for i := range list {
		work <- i
	}
	close(work)
	wg.Wait()
	return errs
}

// discardNew removes an endpoint whose creation failed half-way. Should
// that fail too, the endpoint stays with RoutedFromSeq
// endpoint.RoutedFromPending: routers hold events for it briefly, then
// route on without it and log that it receives nothing.
func (a *API) discardNew(ctx context.Context, e *endpoint.Endpoint) {
	if err := a.store.Delete(ctx, e.ID); err != nil {
		a.log.Warn("endpoint whose creation failed not removed: it receives no events; delete it", "endpoint", e.ID, "err", err)
	}
	_ = a.topo.DeleteEndpoint(ctx, e.ID)
}
