package rules

// Rule is an endpoint's compiled routing rule: its event type patterns and
// its optional filter. It is immutable and safe to share between goroutines.
type Rule struct {
	Patterns PatternSet
	Filter   *Filter
}

// Compile parses patterns and compiles filter into a Rule. Errors wrap
// ErrInvalidPattern or ErrInvalidFilter.
func Compile(patterns []string, filter string) (*Rule, error) {
	set, err := ParsePatterns(patterns)
	if err != nil {
		return nil, err
	}
	f, err := CompileFilter(filter)
	if err != nil {
		return nil, err
	}
	return &Rule{Patterns: set, Filter: f}, nil
}

// Match reports whether an event matches the rule: its type matches a pattern
// (checked first, as it is cheap) and the filter accepts env.
func (r *Rule) Match(e *Evaluator, env *Env) (bool, error) {
	if !r.Patterns.Match(env.Type) {
		return false, nil
	}
	return e.Match(r.Filter, env)
}
