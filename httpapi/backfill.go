package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/router"
	"github.com/hookd/hookd/rules"
)

// historyInput selects stored events: the window of acceptance times, and
// how many matches to show.
type historyInput struct {
	Since      string `json:"since"`
	Until      string `json:"until"`
	SampleSize int    `json:"sample_size"`
	// Tenant whose events a rule test counts (admin keys; default: the
	// default tenant, or a tenant key's own).
	Tenant string `json:"tenant"`
}

// window reads since, until and sample_size.
func (in *historyInput) window() (router.Window, error) {
	if in.SampleSize < 0 || in.SampleSize > router.MaxSample {
		return router.Window{}, fieldError("sample_size", "must be from 0 (default 5) to %d", router.MaxSample)
	}
	return parseWindow(in.Since, in.Until)
}

// parseWindow reads a window of acceptance times: since is required,
// until defaults to now.
func parseWindow(sinceRaw, untilRaw string) (router.Window, error) {
	if sinceRaw == "" {
		return router.Window{}, fieldError("since", "required: the start of the window, RFC 3339")
	}
	since, err := parseTime("since", sinceRaw)
	if err != nil {
		return router.Window{}, err
	}
	until, err := parseTime("until", untilRaw)
	if err != nil {
		return router.Window{}, err
	}
	if until.IsZero() {
		until = time.Now()
	}
	if until.Before(since) {
		return router.Window{}, fieldError("until", "is before since")
	}
	return router.Window{Since: since, Until: until}, nil
}

// ruleHistory answers how many stored events a rule would have matched.
func (a *API) ruleHistory(w http.ResponseWriter, r *http.Request, rule *rules.Rule, in *historyInput) {
	win, err := in.window()
	if err != nil {
		writeError(w, err)
		return
	}
	tenantID, err := accessOf(r).tenantFor(in.Tenant)
	if err != nil {
		writeError(w, err)
		return
	}
	// As a dry run of a backfill: bounded, and over when the client goes.
	ctx, cancel := context.WithTimeout(r.Context(), maxBackfill)
	defer cancel()
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(maxBackfill + time.Minute))
	out, err := router.RuleHistory(ctx, a.topo, tenantID, rule, win, router.BackfillOptions{SampleSize: in.SampleSize, Logger: a.log})
	if err != nil {
		writeError(w, natsError("stored events not read", err))
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// maxBackfill bounds one backfill or dry run; a longer window is split.
const maxBackfill = 30 * time.Minute

type backfillInput struct {
	historyInput
	DryRun bool `json:"dry_run"`
}

// backfill delivers to an endpoint the stored events of its tenant, in a
// window, that its current rule matches and that it has no delivery for
// yet: a new endpoint catches up on history. A dry run answers 200 with
// the count and a sample; a backfill 202 once every delivery is queued.
func (a *API) backfill(w http.ResponseWriter, r *http.Request) {
	var in backfillInput
	if err := decodeBody(w, r, maxSmallBody, &in); err != nil {
		writeError(w, err)
		return
	}
	if in.Tenant != "" {
		writeError(w, fieldError("tenant", "not accepted here: a backfill reads the endpoint's own tenant's events"))
		return
	}
	win, err := in.window()
	if err != nil {
		writeError(w, err)
		return
	}
	ep, err := a.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if ep.Ordered() && !in.DryRun {
		// History would arrive after newer events already delivered.
		writeError(w, &apiError{Status: http.StatusConflict, Code: "ordered_endpoint",
			Message: "an ordered endpoint cannot be backfilled: old events would arrive after newer ones (dry_run still counts)"})
		return
	}
	// A backfill that has begun queueing finishes even if the client goes
	// away (its HTTP answer may come after the client's timeout): half a
	// window would be harder to reason about than all of it.
	ctx := r.Context()
	if !in.DryRun {
		ctx = context.WithoutCancel(ctx)
	}
	// Scanning a day of a busy stream takes longer than the server's write
	// timeout allows an answer: this one may take up to maxBackfill.
	ctx, cancel := context.WithTimeout(ctx, maxBackfill)
	defer cancel()
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(maxBackfill + time.Minute))
	out, err := router.Backfill(ctx, a.topo, endpoint.Compile(ep), win,
		router.BackfillOptions{DryRun: in.DryRun, SampleSize: in.SampleSize, Logger: a.log, Sealer: a.store.Sealer()})
	if err != nil {
		writeError(w, natsError("backfill stopped after queueing some deliveries (see the endpoint's deliveries)", err))
		return
	}
	status := http.StatusAccepted
	if in.DryRun {
		status = http.StatusOK
	} else {
		a.log.Info("endpoint backfilled", "endpoint", ep.ID, "since", win.Since, "until", win.Until, "matched", out.Matched, "queued", out.Queued)
	}
	writeJSON(w, status, out)
}
