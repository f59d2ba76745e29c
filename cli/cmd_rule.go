package cli

import (
	"context"
	"errors"
	"flag"
)

var ruleGroup = group{name: "rule", summary: "try routing rules", cmds: []command{
	{name: "test", args: []string{"EXPR"}, summary: "show whether filter EXPR (and --pattern) matches the event in --event FILE, or how many stored events from --since it matches", setup: ruleTest},
}}

func ruleTest(fs *flag.FlagSet) runFunc {
	file := fs.String("event", "", `file holding the event, {"type":...,"data":...} (this or --since)`)
	var patterns stringList
	fs.Var(&patterns, "pattern", "event type pattern the event must also match, as an endpoint's --event (repeatable)")
	var w windowFlags
	w.register(fs)
	return func(ctx context.Context, x *invocation, args []string) error {
		if (*file == "") == (w.since == "") {
			return &usageError{errors.New("give --event FILE (one event) or --since (stored events)")}
		}
		if w.since != "" {
			win, err := w.window()
			if err != nil {
				return err
			}
			answer, err := x.api.testRuleHistory(ctx, args[0], patterns, win)
			if err != nil {
				return err
			}
			return show(x.out, answer, func(t *table, r historyView) { r.print(t) })
		}
		ev, err := jsonObjectFile("event", *file)
		if err != nil {
			return err
		}
		answer, err := x.api.testRule(ctx, args[0], patterns, ev)
		if err != nil {
			return err
		}
		return show(x.out, answer, printMatch)
	}
}
