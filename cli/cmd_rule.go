package cli

import (
	"context"
	"errors"
	"flag"
)

var ruleGroup = group{name: "rule", summary: "try routing rules", cmds: []command{
	{name: "test", args: []string{"EXPR"}, summary: "show whether filter EXPR (and --pattern) matches the event in --event FILE", setup: ruleTest},
}}

func ruleTest(fs *flag.FlagSet) runFunc {
	file := fs.String("event", "", `file holding the event, {"type":...,"data":...} (required)`)
	var patterns stringList
	fs.Var(&patterns, "pattern", "event type pattern the event must also match, as an endpoint's --event (repeatable)")
	return func(ctx context.Context, x *invocation, args []string) error {
		if *file == "" {
			return &usageError{errors.New("--event FILE is required")}
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
