package cli

import (
	"context"
	"errors"
	"flag"
	"strconv"
	"time"
)

// backfillCommand is "hookd backfill ENDPOINT_ID --since T".
var backfillCommand = command{name: "backfill", args: []string{"ENDPOINT_ID"},
	summary: "deliver to an endpoint the stored events from --since to --until its rule matches and it has no delivery for", setup: backfillRun}

// windowFlags are --since, --until and --sample-size.
type windowFlags struct {
	since, until string
	sampleSize   int
}

func (f *windowFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.since, "since", "", "from this acceptance time: RFC 3339, or a duration ago (2h)")
	fs.StringVar(&f.until, "until", "", "until this acceptance time (default: now)")
	fs.IntVar(&f.sampleSize, "sample-size", 0, "matching events to show, up to 100 (default: the server's, 5)")
}

func (f *windowFlags) window() (historyWindow, error) {
	now := time.Now()
	since, err := timeArg("since", f.since, now)
	if err != nil {
		return historyWindow{}, err
	}
	until, err := timeArg("until", f.until, now)
	if err != nil {
		return historyWindow{}, err
	}
	return historyWindow{since: since, until: until, sampleSize: f.sampleSize}, nil
}

func backfillRun(fs *flag.FlagSet) runFunc {
	var f windowFlags
	f.register(fs)
	dryRun := fs.Bool("dry-run", false, "only count and sample the matches")
	return func(ctx context.Context, x *invocation, args []string) error {
		if f.since == "" {
			return &usageError{errors.New("--since is required")}
		}
		w, err := f.window()
		if err != nil {
			return err
		}
		answer, err := x.api.backfill(ctx, args[0], w, *dryRun)
		if err != nil {
			return err
		}
		return show(x.out, answer, func(t *table, r historyView) {
			r.print(t)
			t.field("already_queued", strconv.Itoa(r.AlreadyQueued))
			t.field("queued", strconv.Itoa(r.Queued))
		})
	}
}

// historyView is the answer of a backfill or of a rule test over stored
// events.
type historyView struct {
	Scanned       int `json:"scanned"`
	Matched       int `json:"matched"`
	AlreadyQueued int `json:"already_queued"`
	Queued        int `json:"queued"`
	Sample        []struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		Time string `json:"time"`
	} `json:"sample"`
}

func (r historyView) print(t *table) {
	t.field("scanned", strconv.Itoa(r.Scanned))
	t.field("matched", strconv.Itoa(r.Matched))
	for i, s := range r.Sample {
		t.field("sample["+strconv.Itoa(i)+"]", s.ID+" "+s.Type+" "+when(s.Time))
	}
}
