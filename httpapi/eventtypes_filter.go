package httpapi

import (
	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/rules"
	"github.com/hookd/hookd/tenant"
)

// checkFilterExamples runs an endpoint's filter on the example of every
// catalogued event type its patterns match. A filter that fails at run
// time on a typical event (say, reading a field of an object the event
// lacks) would quietly match none of them in production, so it is refused:
// 400 naming `filter`, with the type and expr's error. It runs only when
// the request sets filter or events, so an unrelated change is not
// refused for an example added since. A filter that does not compile is
// left to Validate.
func (a *API) checkFilterExamples(in *endpointInput, e *endpoint.Endpoint) error {
	if e.Filter == "" || in.Filter == nil && in.Events == nil {
		return nil
	}
	rule, err := rules.Compile(e.Events, e.Filter)
	if err != nil {
		return nil
	}
	var ev rules.Evaluator
	for _, t := range a.catalog.Examples() {
		if !rule.Patterns.Match(t.Name) {
			continue
		}
		env := &rules.Env{Type: t.Name, ID: "example", Subject: event.Subject(t.Name), Time: t.UpdatedAt,
			Data: t.ExampleData(), Headers: map[string]string{}, Tenant: tenant.Normalize(e.Tenant)}
		if _, err := ev.Match(rule.Filter, env); err != nil {
			return fieldError("filter", "fails on the example of event type %s: %v (for fields an event may lack, use ?. as in data.a?.b)", t.Name, err)
		}
	}
	return nil
}
