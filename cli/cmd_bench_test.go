package cli

import (
	"bytes"
	"strings"
	"testing"
)

// A bad --failing-backlog is a usage error naming the flag, before
// anything starts: negative, beyond the per-endpoint backlog cap, or
// without a fixed --rate (at saturation the latencies it compares are the
// driver's own queue); so is --failing-wait without it.
func TestBenchFailingBacklogErrorsNameTheFlag(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--rate", "100", "--failing-backlog", "-1"},
		{"bench", "--rate", "100", "--failing-backlog", "1000001"},
		{"bench", "--failing-backlog", "100000"},
		{"bench", "--rate", "max", "--failing-backlog", "100000"},
		{"bench", "--rate", "100", "--failing-wait", "2m"},
	} {
		var out, errOut bytes.Buffer
		if code := Main(args, &out, &errOut, env(nil)); code != 2 || !strings.Contains(errOut.String(), "--failing-") {
			t.Errorf("%v: exit %d %q, want 2 naming the flag", args, code, errOut.String())
		}
	}
}
