package rules

import (
	"errors"
	"fmt"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// Limits on a filter's source, so one hostile rule cannot make every event
// expensive to route.
const (
	// MaxSourceLen is the longest filter source accepted, in bytes.
	MaxSourceLen = 4096
	// MaxNodes is the largest syntax tree accepted.
	MaxNodes = 500
	// MemoryBudget bounds what one run may allocate, counted by expr's VM
	// in elements of ranges, arrays, maps and strings built: a tenth of
	// expr's default, so hostile rules (nested `all` over huge ranges)
	// fail in milliseconds, still far above what filtering an event needs
	// (the event's data is decoded outside the budget).
	MemoryBudget = 100_000
)

// compileOptions are every filter's and key's: the environment, the size
// limit, and no builtin whose answer depends on when it runs, so that an
// event routes the same whenever (and however often) it is routed.
func compileOptions() []expr.Option {
	return []expr.Option{expr.Env(Env{}), expr.MaxNodes(MaxNodes), expr.DisableBuiltin("now")}
}

// ErrInvalidFilter wraps every reason a filter is refused at compile time;
// the wrapped message is expr's, with line and column.
var ErrInvalidFilter = errors.New("invalid filter")

// Env is what a filter sees: `type`, `id`, `subject`, `time`, `data` (the
// decoded JSON body), `headers`, `tenant` and `source` (a CloudEvent's
// source attribute, "" for other events).
type Env struct {
	Type    string            `expr:"type"`
	ID      string            `expr:"id"`
	Subject string            `expr:"subject"`
	Time    time.Time         `expr:"time"`
	Data    any               `expr:"data"`
	Headers map[string]string `expr:"headers"`
	Tenant  string            `expr:"tenant"`
	Source  string            `expr:"source"`
}

// Filter is a compiled filter expression. It is safe for concurrent use;
// each goroutine evaluating filters should own a Evaluator.
type Filter struct {
	src     string
	program *vm.Program
}

// CompileFilter compiles src, which must yield a boolean. An empty src
// returns a nil Filter, which matches everything. Errors wrap
// ErrInvalidFilter and carry expr's message with line and column.
func CompileFilter(src string) (*Filter, error) {
	if src == "" {
		return nil, nil
	}
	if len(src) > MaxSourceLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalidFilter, MaxSourceLen)
	}
	program, err := expr.Compile(src, append(compileOptions(), expr.AsBool())...)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidFilter, err.Error())
	}
	return &Filter{src: src, program: program}, nil
}

// String returns the filter's source.
func (f *Filter) String() string {
	if f == nil {
		return ""
	}
	return f.src
}

// Evaluator runs filters. It reuses one expr VM, so it must not be shared
// between goroutines.
type Evaluator struct {
	vm vm.VM
}

// Match reports whether env satisfies f; a nil filter always matches. A
// runtime error (such as reading a field of a missing object) is returned
// with a false result: the event does not match.
func (e *Evaluator) Match(f *Filter, env *Env) (bool, error) {
	if f == nil {
		return true, nil
	}
	out, err := e.run(f.program, env)
	if err != nil {
		return false, err
	}
	b, _ := out.(bool)
	return b, nil
}

// run runs every program under MemoryBudget; expr's VM turns a panic
// inside a run into an error.
func (e *Evaluator) run(p *vm.Program, env *Env) (any, error) {
	e.vm.MemoryBudget = MemoryBudget
	return e.vm.Run(p, env)
}
