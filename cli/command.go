package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// command is one API client command, e.g. "endpoint create".
type command struct {
	name    string   // "create"
	args    []string // required arguments, e.g. {"ID"}
	summary string
	// setup registers the command's own flags and returns what runs it.
	setup func(fs *flag.FlagSet) runFunc
}

// runFunc runs a command once its flags and arguments are parsed.
type runFunc func(ctx context.Context, x *invocation, args []string) error

// invocation is what a running command uses.
type invocation struct {
	api *client
	out *printer
	fs  *flag.FlagSet // parsed, for Visit
}

// group is a command with subcommands, e.g. "endpoint".
type group struct {
	name, summary string
	cmds          []command
}

// groups are the client commands with subcommands.
var groups = []group{endpointGroup, deliveryGroup, eventGroup, ruleGroup, keyGroup, tenantGroup, eventTypeGroup}

func findGroup(name string) (group, bool) {
	for _, g := range groups {
		if g.name == name {
			return g, true
		}
	}
	return group{}, false
}

// runGroup runs "hookd <group> <command> [flags] [args]".
func runGroup(ctx context.Context, g group, args []string, stdout, stderr io.Writer, getenv Env) error {
	if len(args) == 0 {
		g.usage(stderr)
		return &usageError{fmt.Errorf("hookd %s needs a command: %s", g.name, g.names())}
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		g.usage(stdout)
		return nil
	}
	for _, c := range g.cmds {
		if c.name == args[0] {
			return runCommand(ctx, g.name+" "+c.name, c, args[1:], stdout, stderr, getenv)
		}
	}
	return &usageError{fmt.Errorf("unknown command %q for hookd %s: one of %s", args[0], g.name, g.names())}
}

func (g group) names() string {
	names := make([]string, len(g.cmds))
	for i, c := range g.cmds {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

func (g group) usage(w io.Writer) {
	_, _ = fmt.Fprintf(w, "hookd %s: %s\n\nUsage:\n", g.name, g.summary)
	for _, c := range g.cmds {
		_, _ = fmt.Fprintf(w, "  hookd %s %s\n      %s\n", g.name, c.synopsis(), c.summary)
	}
	_, _ = fmt.Fprintf(w, "\nRun \"hookd %s <command> --help\" for its flags.\n", g.name)
}

func (c command) synopsis() string {
	return strings.Join(append(append([]string{c.name}, c.args...), "[flags]"), " ")
}

// runCommand parses a command's flags (before, between or after its
// arguments), sets up the client and runs it.
func runCommand(ctx context.Context, path string, c command, args []string, stdout, stderr io.Writer, getenv Env) error {
	fs := flag.NewFlagSet("hookd "+path, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common commonFlags
	common.register(fs)
	run := c.setup(fs)
	synopsis := "hookd " + strings.TrimSuffix(path, c.name) + c.synopsis()
	fs.Usage = func() {
		_, _ = fmt.Fprintf(fs.Output(), "Usage: %s\n\n%s\n\nFlags:\n", synopsis, c.summary)
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err}
	}
	if len(pos) < len(c.args) {
		return &usageError{fmt.Errorf("missing %s argument (usage: %s)", c.args[len(pos)], synopsis)}
	}
	if len(pos) > len(c.args) {
		return &usageError{fmt.Errorf("unexpected argument %q (usage: %s)", pos[len(c.args)], synopsis)}
	}
	for i, a := range pos {
		if strings.HasSuffix(c.args[i], "ID") && strings.TrimSpace(a) == "" {
			return &usageError{fmt.Errorf("%s argument is empty", c.args[i])}
		}
	}
	if err := applyEnvTo(fs, getenv, "server", "api-key"); err != nil {
		return &usageError{err}
	}
	out, err := common.printer(stdout, stderr)
	if err != nil {
		return &usageError{err}
	}
	api, err := newClient(common.server, common.apiKey)
	if err != nil {
		return &usageError{fmt.Errorf("--server: %w", err)}
	}
	return run(ctx, &invocation{api: api, out: out, fs: fs}, pos)
}

// parseInterspersed parses flags anywhere among the arguments, so
// "hookd endpoint get ID -o json" works; after "--" everything is an
// argument.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
