package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/internal/hookdtest"
)

// result is what one run of hookd printed and returned.
type result struct {
	code     int
	out, err string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.err)
}

// runMain runs hookd with args and the given environment (nothing of the
// process's own).
func runMain(vars map[string]string, args ...string) result {
	var out, errOut bytes.Buffer
	code := Main(args, &out, &errOut, env(vars))
	return result{code: code, out: out.String(), err: errOut.String()}
}

// cliServer is a running hookd and the CLI pointed at it.
type cliServer struct {
	t   *testing.T
	h   *hookdtest.Hookd
	key string
}

func startCLI(t *testing.T, cfg app.Config) *cliServer {
	t.Helper()
	return &cliServer{t: t, h: hookdtest.Start(t, cfg), key: hookdtest.AdminKey}
}

// run runs hookd with args, then --server and --api-key (flags may follow
// arguments).
func (c *cliServer) run(args ...string) result {
	return runMain(nil, append(args, "--server", c.h.URL, "--api-key", c.key)...)
}

// ok runs hookd, requires exit 0 and returns stdout.
func (c *cliServer) ok(args ...string) string {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.t.Fatalf("hookd %s: %s", strings.Join(args, " "), r)
	}
	return r.out
}

// json runs hookd with -o json, requires exit 0 and decodes stdout.
func (c *cliServer) json(args ...string) map[string]any {
	c.t.Helper()
	out := c.ok(append(args, "-o", "json")...)
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		c.t.Fatalf("hookd %s: stdout is not a JSON object: %v\n%s", strings.Join(args, " "), err, out)
	}
	return v
}

// fails runs hookd, requires the exit code and that stderr holds every
// want.
func (c *cliServer) fails(code int, want []string, args ...string) result {
	c.t.Helper()
	return wantFail(c.t, c.run(args...), code, want, args)
}

func wantFail(t *testing.T, r result, code int, want, args []string) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("hookd %s: want exit %d, got %s", strings.Join(args, " "), code, r)
	}
	for _, w := range want {
		if !strings.Contains(r.err, w) {
			t.Fatalf("hookd %s: stderr lacks %q: %s", strings.Join(args, " "), w, r)
		}
	}
	return r
}

// createEndpoint creates an endpoint with the CLI and returns its id once
// routers and workers see it.
func (c *cliServer) createEndpoint(args ...string) string {
	c.t.Helper()
	ep := c.json(append([]string{"endpoint", "create"}, args...)...)
	id, _ := ep["id"].(string)
	if !strings.HasPrefix(id, "ep_") {
		c.t.Fatalf("created endpoint has id %q: %v", id, ep)
	}
	c.h.WaitEndpoint(c.t, id, func(e *hookdtest.Endpoint) bool { return e != nil })
	return id
}

// field returns the value of a "name  value" line of a table.
func field(t *testing.T, table, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s+(.*?)\s*$`).FindStringSubmatch(table)
	if m == nil {
		t.Fatalf("no %q line in:\n%s", name, table)
	}
	return m[1]
}

// columns returns the cells of each line of a table.
func columns(table string) [][]string {
	var out [][]string
	for _, line := range strings.Split(strings.TrimRight(table, "\n"), "\n") {
		out = append(out, strings.Fields(line))
	}
	return out
}

// writeFile writes a file in a temporary directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// strs converts a decoded JSON array of strings.
func strs(v any) []string {
	l, _ := v.([]any)
	out := make([]string, len(l))
	for i, s := range l {
		out[i], _ = s.(string)
	}
	return out
}
