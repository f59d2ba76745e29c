package rules

import (
	"math"
	"math/bits"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"github.com/hookd/hookd/internal/persist"
)

// This file finds the equalities an Index keys rules on, and reads their
// values from an event without running expr.

// root is where a path starts: env.Data, or one of the Env's string fields.
type root uint8

const (
	rootData root = iota
	rootTenant
	rootType
	rootID
)

// path is what an indexed condition compares: env.Data walked through map
// keys (`data.customer.id`, `data["id"]`), or `tenant`, `type` or `id`.
type path struct {
	root root
	keys []string // for rootData only
}

// key identifies the path among an index's paths.
func (p path) key() string {
	var b strings.Builder
	b.WriteByte('0' + byte(p.root))
	for _, k := range p.keys {
		b.WriteString(strconv.Quote(k)) // quoted, so no two paths share a key
	}
	return b.String()
}

type valueKind uint8

const (
	kindString valueKind = iota + 1
	kindNumber
	kindBool
)

// value is a literal of a condition, or the value an event has at a path,
// shaped so that two values are equal as map keys exactly when expr's `==`
// holds between them: every number is a float64, as expr compares an int and
// a float64 as float64s (42 == 42.0), and no kind equals another ("42" != 42).
type value struct {
	kind valueKind
	s    string
	f    float64 // the number, or 1 for true
}

// hash hashes v for a persist.Map, equal values alike (0 and -0 too).
func (v value) hash() uint64 {
	f := v.f
	if f == 0 {
		f = 0 // -0 == 0
	}
	return persist.StringHash(v.s) ^ bits.RotateLeft64(math.Float64bits(f)*0x9e3779b97f4a7c15, 29) ^ uint64(v.kind)
}

// cond is an equality a filter needs to be true: the value at path == lit.
type cond struct {
	path    path
	pathKey string // path.key(), computed once
	lit     value
}

// condKey identifies a condition among an index's.
type condKey struct {
	path string
	lit  value
}

func (c *cond) key() condKey { return condKey{c.pathKey, c.lit} }

func (k condKey) hash() uint64 { return persist.StringHash(k.path)*31 ^ k.lit.hash() }

// lookup says what an event's value at a path tells about a condition.
type lookup uint8

const (
	// absent: the condition is false, or its evaluation fails (a key read
	// from nil, a string or a number), which the router counts as no match.
	absent lookup = iota
	// found: the condition holds exactly for the literals equal to the value.
	found
	// unknown: a value the index does not model (data not decoded from
	// JSON); every literal may match it.
	unknown
)

// resolve reads p from env, as expr would evaluate it.
func (p path) resolve(env *Env) (value, lookup) {
	switch p.root {
	case rootTenant:
		return value{kind: kindString, s: env.Tenant}, found
	case rootType:
		return value{kind: kindString, s: env.Type}, found
	case rootID:
		return value{kind: kindString, s: env.ID}, found
	}
	cur := env.LoadData() // a condition on data: the event's is decoded now
	for _, k := range p.keys {
		switch m := cur.(type) {
		case map[string]any:
			cur = m[k] // a missing key reads as nil in expr too
		case nil, string, float64, bool, []any:
			return value{}, absent // expr fails: "cannot fetch k from ..."
		default:
			return value{}, unknown
		}
	}
	return valueOf(cur)
}

// valueOf converts a value read from data into a key (see value).
func valueOf(v any) (value, lookup) {
	var f float64
	switch x := v.(type) {
	case string:
		return value{kind: kindString, s: x}, found
	case bool:
		if x {
			f = 1
		}
		return value{kind: kindBool, f: f}, found
	case float64:
		f = x
	case nil, map[string]any, []any:
		return value{}, absent // equal to no string, number or bool literal
	// Other numbers only appear in data built by hand, not decoded from
	// JSON. Signed ints convert losslessly enough: equal ints give equal
	// float64s, and a collision only adds a candidate.
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case int32:
		f = float64(x)
	case float32:
		f = float64(x)
	default:
		// Among them, expr compares a uint64 above MaxInt as a negative int.
		return value{}, unknown
	}
	return value{kind: kindNumber, f: f}, found
}

// analyze returns the conditions src needs to be true: src itself or any
// operand of its top-level chain of `&&` / `and`, when it is `path ==
// literal` or `literal == path`, in source order. Anything else (`||`, `!`,
// `!=`, `in`, `let`, a ternary, a literal nil) yields no condition.
func analyze(src string) []cond {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil // cannot happen for a compiled filter; no condition is safe
	}
	var out []cond
	var walk func(n ast.Node)
	walk = func(n ast.Node) {
		b, ok := n.(*ast.BinaryNode)
		if !ok {
			return
		}
		switch b.Operator {
		case "&&", "and":
			walk(b.Left)
			walk(b.Right)
		case "==":
			if c, ok := equality(b.Left, b.Right); ok {
				out = append(out, c)
			} else if c, ok := equality(b.Right, b.Left); ok {
				out = append(out, c)
			}
		}
	}
	walk(tree.Node)
	return out
}

func equality(p, lit ast.Node) (cond, bool) {
	pa, ok := pathOf(p)
	if !ok {
		return cond{}, false
	}
	v, ok := literalOf(lit)
	return cond{path: pa, pathKey: pa.key(), lit: v}, ok
}

// pathOf accepts `data`, a chain of string-keyed members on it (`.k`, `?.k`,
// `["k"]`), and the identifiers tenant, type and id. At the top level of a
// filter those names can only mean the Env's fields: expr refuses `let` to
// redeclare them.
func pathOf(n ast.Node) (path, bool) {
	switch n := n.(type) {
	case *ast.ChainNode:
		return pathOf(n.Node)
	case *ast.IdentifierNode:
		switch n.Value {
		case "data":
			return path{root: rootData}, true
		case "tenant":
			return path{root: rootTenant}, true
		case "type":
			return path{root: rootType}, true
		case "id":
			return path{root: rootID}, true
		}
	case *ast.MemberNode:
		k, ok := n.Property.(*ast.StringNode)
		if !ok || n.Method {
			return path{}, false // an index (data.items[0]) or a computed key
		}
		p, ok := pathOf(n.Node)
		if !ok || p.root != rootData {
			return path{}, false
		}
		return path{root: rootData, keys: append(p.keys[:len(p.keys):len(p.keys)], k.Value)}, true
	}
	return path{}, false
}

func literalOf(n ast.Node) (value, bool) {
	switch n := n.(type) {
	case *ast.StringNode:
		return value{kind: kindString, s: n.Value}, true
	case *ast.IntegerNode:
		return value{kind: kindNumber, f: float64(n.Value)}, true
	case *ast.FloatNode:
		return value{kind: kindNumber, f: n.Value}, true
	case *ast.BoolNode:
		v, _ := valueOf(n.Value)
		return v, true
	case *ast.UnaryNode: // -1 is the unary minus applied to 1
		v, ok := literalOf(n.Node)
		if !ok || v.kind != kindNumber || (n.Operator != "-" && n.Operator != "+") {
			return value{}, false
		}
		if n.Operator == "-" {
			v.f = -v.f
		}
		return v, true
	}
	return value{}, false
}
