package cli

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

// envName is the environment variable behind a flag: --retry-schedule is
// HOOKD_RETRY_SCHEDULE.
func envName(flagName string) string {
	return "HOOKD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// applyEnv sets every flag not given on the command line from its
// environment variable; command-line flags win.
func applyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || given[f.Name] {
			return
		}
		name := envName(f.Name)
		v, ok := lookup(getenv, name)
		if !ok {
			return
		}
		if serr := fs.Set(f.Name, v); serr != nil {
			err = fmt.Errorf("invalid value %q for %s (flag --%s): %v", v, name, f.Name, serr)
		}
	})
	return err
}

func lookup(getenv func(string) string, name string) (string, bool) {
	if getenv == nil {
		return os.LookupEnv(name)
	}
	v := getenv(name)
	return v, v != ""
}

// durationList is a flag.Value of comma-separated durations, e.g.
// "5s,5m,30m".
type durationList []time.Duration

func (d *durationList) String() string {
	parts := make([]string, len(*d))
	for i, v := range *d {
		parts[i] = v.String()
	}
	return strings.Join(parts, ",")
}

func (d *durationList) Set(s string) error {
	var out []time.Duration
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		v, err := time.ParseDuration(p)
		if err != nil {
			return fmt.Errorf("%q is not a duration (like 100ms, 5s, 2h)", p)
		}
		if v <= 0 {
			return fmt.Errorf("%q must be positive", p)
		}
		out = append(out, v)
	}
	*d = out
	return nil
}
