package router

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/hookd/hookd/rules"
)

type countingRecorder map[string]int

func (c countingRecorder) RecordRuleError(endpointID, kind string) { c[endpointID+"/"+kind]++ }

// Every rule error reaches the recorder; the log gets one WARN line per
// endpoint and kind a minute, with ids only: never the error's text, which
// may quote event data.
func TestRuleErrorsRecordedAndLoggedSparingly(t *testing.T) {
	var buf bytes.Buffer
	rec := countingRecorder{}
	errs := newRuleErrors(rec, slog.New(slog.NewTextHandler(&buf, nil)))
	secret := errors.New(`strconv.Atoi: parsing "4111-1111-1111-1111": invalid syntax`)
	for i := range 3 {
		errs.record("ep_a", fmt.Sprint("evt_", i), RuleErrorFilter, secret)
	}
	errs.record("ep_a", "evt_9", RuleErrorOrderingKey, fmt.Errorf("x: %w", rules.ErrBudget))
	errs.record("ep_b", "evt_9", RuleErrorFilter, rules.ErrNotBoolean)
	if rec["ep_a/filter"] != 3 || rec["ep_a/ordering_key"] != 1 || rec["ep_b/filter"] != 1 {
		t.Fatalf("recorded %v", rec)
	}
	logged := buf.String()
	if n := strings.Count(logged, "level=WARN"); n != 3 {
		t.Errorf("%d log lines, want 3 (one per endpoint and kind):\n%s", n, logged)
	}
	for _, want := range []string{"endpoint=ep_a", "event=evt_0", "kind=filter", `reason="run-time error"`, `reason="over its budget"`, `reason="not a boolean"`} {
		if !strings.Contains(logged, want) {
			t.Errorf("log lacks %s:\n%s", want, logged)
		}
	}
	if strings.Contains(logged, "4111") || strings.Contains(logged, "evt_1") {
		t.Errorf("logged event data or a suppressed error:\n%s", logged)
	}
	// A nil recorder set (backfills) records nothing and does not panic.
	var none *ruleErrors
	none.record("ep_a", "evt_1", RuleErrorFilter, secret)
}
