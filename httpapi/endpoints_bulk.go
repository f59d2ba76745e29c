package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/tenant"
)

// POST /v1/endpoints/bulk creates many endpoints in one request: a
// platform onboarding its customers, an import, `hookd bench`. Each item
// is a POST /v1/endpoints body and goes through the same code
// (buildEndpoint, storeNewEndpoint), so validation and defaults cannot
// differ; the request counts once against the key's rate limit, each item
// against its tenant's max_endpoints.

const (
	// MaxBulkItems is the most endpoints one POST /v1/endpoints/bulk
	// takes; a longer items array is 400 naming items.
	MaxBulkItems = 1000
	// maxBulkBody bounds a bulk request's body: 1,000 endpoints of 8 KiB
	// on average. Each item is also held to maxSmallBody, the limit of
	// POST /v1/endpoints.
	maxBulkBody = 8 << 20
	// bulkParallel is how many endpoints this process creates at once, for
	// all bulk requests together: each creation is a few JetStream API
	// calls (a stream, its consumers, a KV write), and a bulk import must
	// not crowd out the routers' and workers' own calls.
	bulkParallel = 8
)

// bulkBudget is how long a bulk request goes on starting items: 40 s.
// Items not started by then are answered 503 not_attempted, for the client
// to send again, so that the answer, which alone says what was created,
// goes out well within the server's 60 s write timeout. (Atomic: a test
// shortens it while a server runs.)
var bulkBudget = func() *atomic.Int64 {
	var d atomic.Int64
	d.Store(int64(40 * time.Second))
	return &d
}()

// bulkCreateInput is the body of POST /v1/endpoints/bulk. Items stay raw
// so each is decoded on its own: a bad item is that item's error, not the
// request's.
type bulkCreateInput struct {
	Items []json.RawMessage `json:"items"`
}

// bulkCreateResult answers POST /v1/endpoints/bulk: one result per item,
// in the order of the items.
type bulkCreateResult struct {
	Created int              `json:"created"`
	Failed  int              `json:"failed"`
	Items   []bulkItemResult `json:"items"`
}

// bulkItemResult is one item's outcome: Status 201 with the endpoint (and
// its secret, as POST /v1/endpoints answers), or the status and error
// POST /v1/endpoints would have answered, its field prefixed by
// items[<index>].
type bulkItemResult struct {
	Index    int           `json:"index"`
	Status   int           `json:"status"`
	Endpoint *endpointView `json:"endpoint,omitempty"`
	Error    *apiError     `json:"error,omitempty"`
}

// bulkChunk is how many items of a bulk creation are stored before their
// events' start is read and set: small enough that an item is pending
// (router.Config.PendingHold) for a fraction of a second.
const bulkChunk = 64

func (a *API) createEndpointsBulk(w http.ResponseWriter, r *http.Request) {
	started := time.Now()
	var in bulkCreateInput
	if err := decodeBody(w, r, maxBulkBody, &in); err != nil {
		writeError(w, err)
		return
	}
	switch {
	case in.Items == nil:
		writeError(w, fieldError("items", "is required: an array of endpoints, each as POST /v1/endpoints takes it"))
		return
	case len(in.Items) == 0:
		writeError(w, fieldError("items", "is empty: give 1 to %d endpoints", MaxBulkItems))
		return
	case len(in.Items) > MaxBulkItems:
		writeError(w, fieldError("items", "has %d endpoints, at most %d per request: split them over several requests", len(in.Items), MaxBulkItems))
		return
	}
	// From here on, the answer is 200 with a result per item: once one
	// endpoint may exist, only that answer says which do.
	results := make([]bulkItemResult, len(in.Items))
	fail := func(i int, err error) {
		results[i] = bulkItemResult{Index: i, Error: itemError(i, err)}
		results[i].Status = results[i].Error.Status
	}

	acc := accessOf(r)
	built := make([]*endpoint.Endpoint, len(in.Items))
	for i, raw := range in.Items {
		e, err := a.buildBulkItem(acc, raw)
		if err != nil {
			fail(i, err)
			continue
		}
		built[i] = e
	}

	// Quotas are read once per tenant and taken in item order: with room
	// for two, the first two valid items of the tenant are created.
	type quotaRead struct {
		q   *endpointQuota
		err error
	}
	quotas := map[string]*quotaRead{}
	for i, e := range built {
		if e == nil {
			continue
		}
		id := tenant.Normalize(e.Tenant)
		qr := quotas[id]
		if qr == nil {
			q, err := a.endpointQuota(r.Context(), id)
			qr = &quotaRead{q: q, err: err}
			quotas[id] = qr
		}
		err := qr.err
		if err == nil {
			err = qr.q.take()
		}
		if err != nil {
			fail(i, err)
			built[i] = nil
		}
	}

	deadline := started.Add(time.Duration(bulkBudget.Load()))
	// An item begun is finished even if the client goes away: it leaves
	// either the endpoint or nothing.
	ctx := context.WithoutCancel(r.Context())
	// Items go in chunks, each stored, then given where its events begin
	// (one read of the events stream per chunk): routers hold events for
	// an endpoint still pending for at most router.Config.PendingHold, so
	// no item may stay pending for the whole request.
	stored := make([]uint64, len(built)) // revisions of the stored items
	for from := 0; from < len(built); from += bulkChunk {
		to := min(from+bulkChunk, len(built))
		var wg sync.WaitGroup
		for i := from; i < to; i++ {
			e := built[i]
			if e == nil {
				continue
			}
			if err := a.bulkSlot(r.Context(), deadline); err != nil {
				fail(i, err)
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-a.bulkSlots }()
				rev, err := a.putNewEndpoint(ctx, e)
				if err != nil {
					fail(i, err)
					return
				}
				stored[i] = rev
			}()
		}
		wg.Wait()
		var pos []int
		var list []newEndpoint
		for i := from; i < to; i++ {
			if rev := stored[i]; rev != 0 {
				pos = append(pos, i)
				list = append(list, newEndpoint{e: built[i], rev: rev})
			}
		}
		if len(list) == 0 {
			continue
		}
		for j, err := range a.routeFrom(ctx, list) {
			i := pos[j]
			if err != nil {
				fail(i, err)
				continue
			}
			v := view(built[i], true)
			results[i] = bulkItemResult{Index: i, Status: http.StatusCreated, Endpoint: &v}
		}
	}

	out := bulkCreateResult{Items: results}
	for _, res := range results {
		if res.Status == http.StatusCreated {
			out.Created++
		} else {
			out.Failed++
		}
	}
	a.log.Info("endpoints created in bulk", "created", out.Created, "failed", out.Failed, "took", time.Since(started).Round(time.Millisecond))
	// Items begun before the budget ran out may have taken a while: the
	// answer must still go out, or the client cannot know what exists.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(30 * time.Second))
	writeJSON(w, http.StatusOK, out)
}

// buildBulkItem decodes one item as POST /v1/endpoints decodes its body
// and builds the endpoint it asks for.
func (a *API) buildBulkItem(acc access, raw json.RawMessage) (*endpoint.Endpoint, error) {
	if len(raw) > maxSmallBody {
		return nil, &apiError{Status: http.StatusRequestEntityTooLarge, Code: "too_large",
			Message: fmt.Sprintf("item larger than %d bytes, the limit of one endpoint", maxSmallBody)}
	}
	if bytes.Equal(raw, []byte("null")) {
		return nil, &apiError{Status: http.StatusBadRequest, Code: "invalid_json", Message: "item must be a JSON object, not JSON null"}
	}
	var in endpointInput
	if err := decodeStrict(bytes.NewReader(raw), "item", maxSmallBody, &in); err != nil {
		return nil, err
	}
	return a.buildEndpoint(acc, &in)
}

// bulkSlot waits for one of the process's bulkParallel creation slots
// (released by receiving from a.bulkSlots). Past deadline, or once the
// client is gone, the item is not attempted: 503 not_attempted, nothing
// of it exists, and sending it again is safe.
func (a *API) bulkSlot(ctx context.Context, deadline time.Time) error {
	wait := time.Until(deadline)
	if wait <= 0 {
		return notAttempted()
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case a.bulkSlots <- struct{}{}:
		return nil
	case <-timer.C:
		return notAttempted()
	case <-ctx.Done():
		return &apiError{Status: http.StatusServiceUnavailable, Code: "not_attempted", Message: "not attempted: the request was cancelled"}
	}
}

func notAttempted() *apiError {
	return &apiError{Status: http.StatusServiceUnavailable, Code: "not_attempted",
		Message: fmt.Sprintf("not attempted: the request ran out of its %s; send this item again (fewer items per request finish sooner)", time.Duration(bulkBudget.Load()))}
}

// itemError is err as the error of item i: a copy (err may be a shared
// value) whose field is prefixed by items[i], or is items[i] when err
// names no field.
func itemError(i int, err error) *apiError {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: err.Error()}
	}
	out := *ae
	prefix := fmt.Sprintf("items[%d]", i)
	if out.Field == "" {
		out.Field = prefix
	} else {
		out.Field = prefix + "." + out.Field
	}
	return &out
}
