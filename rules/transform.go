package rules

import (
	"errors"
	"fmt"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// ErrInvalidTransform wraps every reason a transform is refused at compile
// time; the wrapped message is expr's, with line and column.
var ErrInvalidTransform = errors.New("invalid transform")

// Transform is a compiled expression that builds a delivery's body from an
// event, such as `{"title": "Execution " + data.name, "url": data.url}`.
// It is compiled under the same limits as filters (size, environment, no
// `now`), so a transform costs no more per event than a filter could. It is
// safe for concurrent use; each goroutine runs it with its own Evaluator.
type Transform struct {
	src     string
	program *vm.Program
	data    bool // it may read the event's data (usesData)
}

// CompileTransform compiles src, whose result may be of any type. An empty
// src returns a nil Transform. Errors wrap ErrInvalidTransform.
func CompileTransform(src string) (*Transform, error) {
	if src == "" {
		return nil, nil
	}
	if len(src) > MaxSourceLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalidTransform, MaxSourceLen)
	}
	program, err := expr.Compile(src, compileOptions()...)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidTransform, err.Error())
	}
	return &Transform{src: src, program: program, data: usesData(src)}, nil
}

// String returns the transform's source.
func (t *Transform) String() string {
	if t == nil {
		return ""
	}
	return t.src
}

// Transform runs t against env and returns its result as expr built it:
// a map, a slice, a string, a number, a bool or nil. A nil Transform
// yields nil. The caller decides how the result is encoded.
func (e *Evaluator) Transform(t *Transform, env *Env) (any, error) {
	if t == nil {
		return nil, nil
	}
	return e.run(t.program, t.data, env)
}
