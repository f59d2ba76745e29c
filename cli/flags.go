package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// defaultServer is where client commands find hookd by default.
const defaultServer = "http://127.0.0.1:8080"

// commonFlags are the flags of every client command.
type commonFlags struct {
	server, apiKey, output string
}

func (f *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.server, "server", defaultServer, "hookd API base URL (env HOOKD_SERVER)")
	fs.StringVar(&f.apiKey, "api-key", "", "API key (env HOOKD_API_KEY)")
	fs.StringVar(&f.output, "o", "table", "output: table or json (the server's answer)")
	fs.StringVar(&f.output, "output", "table", "same as -o")
}

func (f *commonFlags) printer(stdout, stderr io.Writer) (*printer, error) {
	switch f.output {
	case "table":
		return &printer{w: stdout, errw: stderr}, nil
	case "json":
		return &printer{w: stdout, errw: stderr, json: true}, nil
	default:
		return nil, fmt.Errorf("-o must be table or json, not %q", f.output)
	}
}

// applyEnvTo is applyEnv for the named flags only: a client command's own
// flags (--timeout, --data, --name...) must not pick up the variables of
// the server's flags of the same name.
func applyEnvTo(fs *flag.FlagSet, getenv Env, names ...string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, name := range names {
		if given[name] {
			continue
		}
		env := envName(name)
		v, ok := lookup(getenv, env)
		if !ok {
			continue
		}
		if err := fs.Set(name, v); err != nil {
			return fmt.Errorf("invalid value %q for %s (flag --%s): %w", v, env, name, err)
		}
	}
	return nil
}

// given reports whether the flag name was on the command line.
func given(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// stringList is a repeatable flag; an empty value gives an empty list
// (to clear a list in an update).
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(s string) error {
	if *l == nil {
		*l = []string{}
	}
	if s != "" {
		*l = append(*l, s)
	}
	return nil
}

// pairMap is a repeatable "key<sep>value" flag; an empty value gives an
// empty map (to clear it in an update).
type pairMap struct {
	sep  string // ":" for headers, "=" for metadata
	form string // shown in errors, e.g. "'Name: value'"
	m    map[string]string
}

func (p *pairMap) String() string {
	if p == nil || len(p.m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(p.m))
	for k := range p.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + p.sep + p.m[k]
	}
	return strings.Join(parts, ",")
}

func (p *pairMap) Set(s string) error {
	if p.m == nil {
		p.m = map[string]string{}
	}
	if s == "" {
		return nil
	}
	k, v, ok := strings.Cut(s, p.sep)
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		return fmt.Errorf("%q is not of the form %s", s, p.form)
	}
	if p.sep == ":" {
		v = strings.TrimSpace(v)
	}
	p.m[k] = v
	return nil
}

// jsonArg reads a flag's JSON value: inline, or "@file.json" for a file.
func jsonArg(flagName, v string) (json.RawMessage, error) {
	raw := []byte(v)
	if name, ok := strings.CutPrefix(v, "@"); ok {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, &usageError{fmt.Errorf("--%s: %w", flagName, err)}
		}
		raw = b
	}
	if !json.Valid(raw) {
		return nil, &usageError{fmt.Errorf("--%s: not valid JSON: %s", flagName, snippet(raw))}
	}
	return json.RawMessage(raw), nil
}

// jsonObjectFile reads a file holding one JSON object.
func jsonObjectFile(flagName, name string) (json.RawMessage, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, &usageError{fmt.Errorf("--%s: %w", flagName, err)}
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil || obj == nil {
		return nil, &usageError{fmt.Errorf("--%s: %s does not hold a JSON object", flagName, name)}
	}
	return json.RawMessage(b), nil
}

// timeArg turns a flag's time into RFC 3339: an RFC 3339 time as is, or a
// duration meaning that long ago ("2h" is two hours before now).
func timeArg(flagName, v string, now time.Time) (string, error) {
	if v == "" {
		return "", nil
	}
	if _, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return v, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d).UTC().Format(time.RFC3339Nano), nil
	}
	return "", &usageError{fmt.Errorf("--%s: %q is neither an RFC 3339 time (2026-11-26T23:17:33Z) nor a duration ago (2h)", flagName, v)}
}

// durationArg checks a flag's Go duration and returns it as given.
func durationArg(flagName, v string) (string, error) {
	if _, err := time.ParseDuration(v); err != nil {
		return "", &usageError{fmt.Errorf("--%s: %q is not a duration like 30s or 24h", flagName, v)}
	}
	return v, nil
}

// errNothingToUpdate is an update without a field to change.
var errNothingToUpdate = errors.New("nothing to update: give at least one flag, e.g. --url or --filter")
