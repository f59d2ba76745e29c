package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/rules"
	"github.com/hookd/hookd/tenant"
)

// testEvent is an event as a rule test gives it.
type testEvent struct {
	ID      string            `json:"id"`
	Type    string            `json:"type"`
	Subject string            `json:"subject"`
	Time    *time.Time        `json:"time"`
	Data    json.RawMessage   `json:"data"`
	Headers map[string]string `json:"headers"`
	Tenant  string            `json:"tenant"`
	Source  string            `json:"source"`
}

func (e *testEvent) env() (*rules.Env, error) {
	env := &rules.Env{ID: e.ID, Type: e.Type, Subject: e.Subject, Headers: e.Headers, Tenant: tenant.Normalize(e.Tenant), Source: e.Source}
	if env.Subject == "" && e.Type != "" {
		env.Subject = event.Subject(e.Type)
	}
	if e.Time != nil {
		env.Time = *e.Time
	} else {
		env.Time = time.Now().UTC()
	}
	if len(e.Data) > 0 {
		if err := json.Unmarshal(e.Data, &env.Data); err != nil {
			return nil, fieldError("event.data", "not JSON: %v", err)
		}
	}
	return env, nil
}

type filterResult struct {
	Matched bool   `json:"matched"`
	Error   string `json:"error"`
}

func match(rule *rules.Rule, ev *testEvent) (filterResult, error) {
	env, err := ev.env()
	if err != nil {
		return filterResult{}, err
	}
	var e rules.Evaluator
	ok, err := rule.Match(&e, env)
	out := filterResult{Matched: ok}
	if err != nil {
		out.Error = err.Error()
	}
	return out, nil
}

type ruleTestInput struct {
	Filter string     `json:"filter"`
	Events []string   `json:"events"`
	Event  *testEvent `json:"event"`
	historyInput
}

// testRule answers whether a filter (and optional type patterns) matches an
// event, or why it does not compile.
func (a *API) testRule(w http.ResponseWriter, r *http.Request) {
	var in ruleTestInput
	if err := decodeBody(w, r, MaxEventBody, &in); err != nil {
		writeError(w, err)
		return
	}
	for i, p := range in.Events {
		if _, err := rules.ParsePattern(p); err != nil {
			writeError(w, fieldError(fmt.Sprintf("events[%d]", i), "%v", err))
			return
		}
	}
	rule, err := rules.Compile(in.Events, in.Filter)
	if err != nil {
		writeError(w, fieldError("filter", "%v", err))
		return
	}
	if in.Since != "" {
		if in.Event != nil {
			writeError(w, fieldError("event", "give event (test one event) or since (count stored events), not both"))
			return
		}
		a.ruleHistory(w, r, rule, &in.historyInput)
		return
	}
	if in.Event == nil {
		in.Event = &testEvent{}
	}
	out, err := match(rule, in.Event)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

type filterTestInput struct {
	Event testEvent `json:"event"`
}

// testEndpointFilter runs an endpoint's stored rule against an event.
func (a *API) testEndpointFilter(w http.ResponseWriter, r *http.Request) {
	var in filterTestInput
	if err := decodeBody(w, r, MaxEventBody, &in); err != nil {
		writeError(w, err)
		return
	}
	ep, err := a.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	rule, err := rules.Compile(ep.Events, ep.Filter)
	if err != nil {
		writeError(w, &apiError{Status: http.StatusConflict, Code: "conflict", Message: "the endpoint's stored rule no longer compiles: " + err.Error()})
		return
	}
	in.Event.Tenant = ep.Tenant // the endpoint only ever sees its tenant's events
	out, err := match(rule, &in.Event)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}
