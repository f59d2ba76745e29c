package rules

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
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

// compileOptions are every filter's and key's (and transform's and
// template's): the environment, the size limit, the budgets' rewrite
// (bound.go), and no builtin whose answer depends on when it runs, so that
// an event routes the same whenever (and however often) it is routed.
func compileOptions() []expr.Option {
	return append(append([]expr.Option{expr.Env(Env{}), expr.MaxNodes(MaxNodes)}, disableBuiltins()...), budgetOptions()...)
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
	// meter counts the budgets of the run in progress; set by the
	// Evaluator running it (so an Env is run by one Evaluator at a time).
	meter *meter
	// deferred: Data is still to be decoded from raw (DeferData), and
	// report told if it reads as null.
	deferred bool
	raw      []byte
	report   DataReporter
}

// Filter is a compiled filter expression. It is safe for concurrent use;
// each goroutine evaluating filters should own a Evaluator.
type Filter struct {
	src     string
	program *vm.Program
	// conds are the equalities the filter needs to be true (see analyze),
	// found once here rather than each time an Index files the rule.
	conds []cond
	// data: the filter may read the event's data (usesData).
	data bool
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
	// Not expr.AsBool: it turns a nil result into false, and a filter
	// that reads a field an event lacks should show as a rule error
	// (ErrNotBoolean), not quietly match nothing. Its compile-time check
	// is kept: a result known not to be a boolean is refused.
	program, err := expr.Compile(src, compileOptions()...)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidFilter, err.Error())
	}
	if t := program.Node().Type(); t != nil && t.Kind() != reflect.Bool && t.Kind() != reflect.Interface {
		return nil, fmt.Errorf("%w: expected bool, but got %s", ErrInvalidFilter, t)
	}
	return &Filter{src: src, program: slim(program), conds: analyze(src), data: usesData(src)}, nil
}

// slim returns p without its syntax tree, which expr keeps only for
// Program.Node and which is half of a small filter's memory (about 500 of
// 1,100 bytes for `data.tenant == "t-1"`): a node with 100,000 endpoints
// keeps 100,000 filters. vm.NewProgram cannot be given back a program's
// variable count or functions (they are unexported), so only a program
// whose bytecode uses neither is rebuilt; any other is kept whole. The VM
// reads nothing else that is left out (the debug names serve Disassemble
// only, the span expr's profiling, which is off).
func slim(p *vm.Program) *vm.Program {
	for _, op := range p.Bytecode {
		switch op {
		case vm.OpStore, vm.OpLoadVar, vm.OpLoadFunc, vm.OpCall0, vm.OpCall1, vm.OpCall2, vm.OpCall3,
			vm.OpProfileStart, vm.OpProfileEnd:
			return p
		}
	}
	// The compiler grows these slices by appending: copies without the
	// spare capacity save another 60 bytes or so.
	return vm.NewProgram(p.Source(), nil, slices.Clone(p.Locations()), 0,
		slices.Clone(p.Constants), slices.Clone(p.Bytecode), slices.Clone(p.Arguments), nil, nil, nil)
}

// String returns the filter's source.
func (f *Filter) String() string {
	if f == nil {
		return ""
	}
	return f.src
}

// Evaluator runs filters. It reuses one expr VM and one budget meter, so
// it must not be shared between goroutines.
type Evaluator struct {
	vm    vm.VM
	meter meter
}

// ErrNotBoolean reports a filter whose result, on some event, is neither
// true nor false (a field the event lacks is nil): a rule error, like any
// other run-time error.
var ErrNotBoolean = errors.New("filter result is not true or false")

// Match reports whether env satisfies f; a nil filter always matches. A
// run-time error (such as reading a field of a missing object, a result
// that is not a boolean, ErrNotBoolean, or a run over its budget,
// ErrBudget) is returned with a false result: the event does not match.
func (e *Evaluator) Match(f *Filter, env *Env) (bool, error) {
	if f == nil {
		return true, nil
	}
	out, err := e.run(f.program, f.data, env)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("%w: it is %s (for a field an event may lack, write data.x ?? false)", ErrNotBoolean, kindOf(out))
	}
	return b, nil
}

// kindOf names a value's kind for an error, without its value (which is
// event data).
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "nil"
	case string:
		return "a string"
	case float64, int:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}

// run runs every program under its budgets (MemoryBudget, WorkBudget and
// the others), counted afresh for each run; expr's VM turns a panic inside
// a run into an error. A run over a budget returns an error wrapping
// ErrBudget. data says the program may read the event's data: deferred
// data is decoded first (outside the budgets, as it always was).
func (e *Evaluator) run(p *vm.Program, data bool, env *Env) (any, error) {
	if data {
		env.LoadData()
	}
	e.vm.MemoryBudget = MemoryBudget
	e.meter.reset()
	env.meter = &e.meter
	out, err := e.vm.Run(p, env)
	env.meter = nil
	if err != nil && !errors.Is(err, ErrBudget) && strings.Contains(err.Error(), "memory budget exceeded") {
		// expr's own budget panics with a string.
		err = fmt.Errorf("%w: %w", ErrBudget, err)
	}
	return out, err
}
