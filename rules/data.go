package rules

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"github.com/hookd/hookd/event"
)

// An event's data is the one part of Env that costs to build: decoding
// its JSON is most of what routing an event to an endpoint without a
// data filter costs. So an Env can hold the data undecoded (DeferData),
// and it is decoded the first time something reads it: an expression
// that names `data` (UsesData, known at compile time), an Index
// condition on a data path, or a caller through LoadData. An event whose
// endpoints read no data is never decoded.

// Errors a deferred decoding reports (DataReporter) when data reads as
// null: the body is still delivered as sent, and retrying cannot help.
var (
	// ErrDataTooDeep: the data nests deeper than event.MaxDepth.
	ErrDataTooDeep = errors.New("event data nested too deep for filters")
	// ErrDataUndecodable: Go cannot hold the data (a number such as 1e999).
	ErrDataUndecodable = errors.New("event data not decodable for filters")
)

// DataReporter is told why data deferred with DeferData reads as null
// (ErrDataTooDeep, ErrDataUndecodable), for a log line.
type DataReporter interface {
	DataNull(env *Env, err error)
}

// DeferData sets env's data to be decoded from raw, JSON, when it is
// first read; until then Data is nil. Data that nests too deep or that Go
// cannot hold reads as null, and report (nil: none) is told why. An Env
// is decoded by whichever goroutine reads it first: like running it, that
// is one goroutine at a time.
func (env *Env) DeferData(raw []byte, report DataReporter) {
	env.Data, env.raw, env.report, env.deferred = nil, raw, report, true
}

// LoadData decodes the data DeferData deferred, once, and returns Data.
// Code outside this package that reads Data of an Env it did not fill
// itself calls it first.
func (env *Env) LoadData() any {
	if !env.deferred {
		return env.Data
	}
	raw, report := env.raw, env.report
	env.raw, env.report, env.deferred = nil, nil, false
	var err error
	if event.TooDeep(raw) {
		err = ErrDataTooDeep
	} else if uerr := json.Unmarshal(raw, &env.Data); uerr != nil {
		env.Data, err = nil, fmt.Errorf("%w: %w", ErrDataUndecodable, uerr)
	}
	if err != nil && report != nil {
		report.DataNull(env, err)
	}
	return env.Data
}

// usesData reports whether the expression src may read the event's data:
// whether it names `data`, or `$env`, through which any field can be read
// (by a computed name too). It is conservative: a source that does not
// parse counts as reading it. It looks at the source as written, not at
// the compiled tree, where the budgets' rewrite (bound.go) passes $env to
// its own functions, which read only the run's meter.
func usesData(src string) (uses bool) {
	tree, err := parser.Parse(src)
	if err != nil {
		return true
	}
	defer func() {
		if recover() != nil {
			uses = true // a node ast.Walk does not know
		}
	}()
	v := &dataRefs{}
	ast.Walk(&tree.Node, v)
	return v.found
}

// dataRefs finds the identifiers through which data can be read.
type dataRefs struct{ found bool }

func (v *dataRefs) Visit(node *ast.Node) {
	if id, ok := (*node).(*ast.IdentifierNode); ok && (id.Value == "data" || id.Value == "$env") {
		v.found = true
	}
}

// UsesData reports whether the filter may read the event's data; a nil
// filter reads nothing.
func (f *Filter) UsesData() bool { return f != nil && f.data }

// UsesData reports whether the rule's filter may read the event's data.
func (r *Rule) UsesData() bool { return r != nil && r.Filter.UsesData() }

// UsesData reports whether the key may read the event's data; a nil key
// reads nothing.
func (k *Key) UsesData() bool { return k != nil && k.data }

// UsesData reports whether the transform may read the event's data; a
// nil transform reads nothing.
func (t *Transform) UsesData() bool { return t != nil && t.data }

// UsesData reports whether any expression of the template may read the
// event's data; a nil template reads nothing.
func (t *Template) UsesData() bool {
	if t == nil {
		return false
	}
	for _, p := range t.parts {
		if p.program != nil && p.data {
			return true
		}
	}
	return false
}
