package cli

import (
	"context"
	"errors"
	"flag"
	"strconv"
	"time"
)

var deliveryGroup = group{name: "delivery", summary: "inspect and retry deliveries", cmds: []command{
	{name: "list", args: []string{"ENDPOINT_ID"}, summary: "list an endpoint's deliveries, newest first", setup: deliveryList},
	{name: "get", args: []string{"ID"}, summary: "show a delivery and its attempts", setup: deliveryGet},
	{name: "retry", args: []string{"ID"}, summary: "queue a delivery again (--force for one that succeeded)", setup: deliveryRetry},
}}

// recoverCommand is "hookd recover ENDPOINT_ID --since T".
var recoverCommand = command{name: "recover", args: []string{"ENDPOINT_ID"},
	summary: "queue again an endpoint's deliveries that did not succeed, for events accepted from --since to --until", setup: recoverRun}

func deliveryList(fs *flag.FlagSet) runFunc {
	var f deliveryFilter
	fs.StringVar(&f.status, "status", "", "only this status: pending, failed, succeeded, dead or batched")
	fs.StringVar(&f.since, "since", "", "only events accepted from this time: RFC 3339, or a duration ago (2h)")
	fs.StringVar(&f.until, "until", "", "only events accepted before this time: RFC 3339, or a duration ago")
	fs.StringVar(&f.eventType, "event-type", "", "only this event type")
	fs.IntVar(&f.limit, "limit", 0, "deliveries per page (default: the server's)")
	fs.StringVar(&f.cursor, "cursor", "", "next_cursor of the previous page")
	return func(ctx context.Context, x *invocation, args []string) error {
		now := time.Now()
		var err error
		if f.since, err = timeArg("since", f.since, now); err != nil {
			return err
		}
		if f.until, err = timeArg("until", f.until, now); err != nil {
			return err
		}
		answer, err := x.api.listDeliveries(ctx, args[0], f)
		if err != nil {
			return err
		}
		return show(x.out, answer, func(t *table, l listOf[deliveryView]) {
			t.row("ID", "EVENT_TYPE", "STATUS", "ATTEMPTS", "CREATED")
			for _, d := range l.Data {
				t.row(d.ID, d.EventType, d.Status, strconv.Itoa(d.AttemptCount), when(d.CreatedAt))
			}
			if l.HasMore {
				x.out.note("more: hookd delivery list %s --cursor %s", args[0], l.NextCursor)
			}
		})
	}
}

func deliveryGet(*flag.FlagSet) runFunc {
	return func(ctx context.Context, x *invocation, args []string) error {
		answer, err := x.api.getDelivery(ctx, args[0])
		if err != nil {
			return err
		}
		return show(x.out, answer, printDelivery)
	}
}

func deliveryRetry(fs *flag.FlagSet) runFunc {
	force := fs.Bool("force", false, "retry even a delivery that succeeded, or went into a batch")
	return func(ctx context.Context, x *invocation, args []string) error {
		answer, err := x.api.retryDelivery(ctx, args[0], *force)
		if err != nil {
			return err
		}
		return show(x.out, answer, printDelivery)
	}
}

func recoverRun(fs *flag.FlagSet) runFunc {
	since := fs.String("since", "", "from this acceptance time: RFC 3339, or a duration ago (2h) (required)")
	until := fs.String("until", "", "until this acceptance time (default: now)")
	return func(ctx context.Context, x *invocation, args []string) error {
		if *since == "" {
			return &usageError{errors.New("--since is required")}
		}
		now := time.Now()
		from, err := timeArg("since", *since, now)
		if err != nil {
			return err
		}
		to, err := timeArg("until", *until, now)
		if err != nil {
			return err
		}
		answer, err := x.api.recoverEndpoint(ctx, args[0], from, to)
		if err != nil {
			return err
		}
		return show(x.out, answer, func(t *table, r recoverResult) { t.field("requeued", strconv.Itoa(r.Requeued)) })
	}
}

// printDelivery shows a delivery, then its attempts when the answer has
// them.
func printDelivery(t *table, d deliveryView) {
	t.field("id", d.ID)
	t.field("endpoint_id", d.EndpointID)
	t.field("event_id", d.EventID)
	t.field("event_type", d.EventType)
	t.field("status", d.Status)
	t.field("attempt_count", strconv.Itoa(d.AttemptCount))
	t.field("last_status_code", statusCode(d.LastStatusCode))
	t.field("last_error", orDash(d.LastError))
	t.field("next_attempt_at", orDash(when(d.NextAttemptAt)))
	if d.BatchID != "" {
		t.field("batch_id", d.BatchID)
	}
	if d.BatchSize > 0 {
		t.field("batch_size", strconv.Itoa(d.BatchSize))
	}
	t.field("created_at", when(d.CreatedAt))
	t.field("updated_at", when(d.UpdatedAt))
	if len(d.Attempts) == 0 {
		return
	}
	t.blank()
	t.row("ATTEMPT", "TIME", "STATUS_CODE", "DURATION", "OUTCOME", "ERROR")
	for _, a := range d.Attempts {
		t.row(strconv.Itoa(a.Attempt), when(a.Time), statusCode(a.StatusCode), seconds(a.DurationSeconds), a.Outcome, orDash(a.Error))
	}
}
