package rules

import (
	"reflect"
	"strconv"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
)

// bound rewrites every compiled expression so that what it costs is
// charged to its run's budgets (see WorkBudget) before it is spent. expr
// bounds only the elements of the ranges, arrays and maps a run builds; a
// string builtin (replace, repeat, ...) or a loop over an event's arrays
// was free. The rewrite keeps each builtin and operator as expr runs it,
// with expr's own type checks, and puts a charge before it:
//
//	replace(data.s, "", data.s)
//	  becomes let #1 = data.s; let #2 = data.s;
//	          (__hookd_call($env, "replace", #1, "", #2); replace(#1, "", #2))
//
// so the charge sees the evaluated arguments and refuses a result over
// budget before it is built. Names starting with # cannot be written in
// an expression, so no user variable collides with them.
//
//   - A closure builtin (all, any, map, filter, reduce, ...) is charged its
//     array's length times its body's size when it starts; a sortBy or
//     groupBy also the keys it compares or hashes.
//   - Every other builtin that reads or builds strings or arrays is charged
//     by chargeBuiltin; the ones that cost a step or less (cheapBuiltins)
//     are left as they are; any other is disabled (see disabledBuiltins).
//   - An operator whose cost grows with its operands is charged by
//     chargeOp: `+` unless an operand is a number, `contains`, `matches`,
//     `in` over a computed array, `startsWith`/`endsWith` against a
//     computed prefix, comparisons between two computed values, and a
//     computed map key (`data[k]`). A comparison with a literal or a
//     number costs at most the literal's length and stays as it is: a
//     typical filter (`data.status == "paid" && data.total > 100`) runs
//     exactly as before.
type bound struct{ vars int }

func (b *bound) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.BuiltinNode:
		if _, ok := closures[n.Name]; ok {
			b.closure(node, n)
		} else if charged[n.Name] {
			b.builtin(node, n)
		}
	case *ast.BinaryNode:
		b.binary(node, n)
	case *ast.MemberNode:
		if !cheap(n.Property) {
			n.Property = call(fnValue, str("key"), &ast.NilNode{}, n.Property)
		}
	}
}

// closures are the builtins that run a closure over an array.
var closures = map[string]bool{
	"all": true, "none": true, "any": true, "one": true, "filter": true, "map": true, "count": true, "sum": true,
	"find": true, "findIndex": true, "findLast": true, "findLastIndex": true, "groupBy": true, "sortBy": true, "reduce": true,
}

// charged are the builtins chargeBuiltin charges.
var charged = map[string]bool{
	"len": true, "get": true,
	"trim": true, "trimPrefix": true, "trimSuffix": true, "upper": true, "lower": true, "split": true, "splitAfter": true,
	"replace": true, "repeat": true, "join": true, "indexOf": true, "lastIndexOf": true, "hasPrefix": true, "hasSuffix": true,
	"int": true, "float": true, "string": true, "max": true, "min": true, "mean": true, "median": true,
	"toJSON": true, "fromJSON": true, "toBase64": true, "fromBase64": true, "duration": true, "date": true, "timezone": true,
	"take": true, "keys": true, "values": true, "toPairs": true, "fromPairs": true,
	"reverse": true, "uniq": true, "concat": true, "flatten": true, "sort": true,
}

// cheapBuiltins cost a step or less whatever their arguments.
var cheapBuiltins = map[string]bool{
	"type": true, "abs": true, "ceil": true, "floor": true, "round": true, "first": true, "last": true,
	"bitnot": true, "bitand": true, "bitor": true, "bitxor": true, "bitnand": true, "bitshl": true, "bitshr": true, "bitushr": true,
}

// disabledBuiltins are the builtins no expression may use: `now`, whose
// answer depends on when the event is routed, and any builtin this
// version of hookd does not know how to charge (a newer expr's).
var disabledBuiltins = func() []string {
	out := []string{"now"}
	for _, f := range builtin.Builtins {
		if !closures[f.Name] && !charged[f.Name] && !cheapBuiltins[f.Name] && f.Name != "now" {
			out = append(out, f.Name)
		}
	}
	return out
}()

func disableBuiltins() []expr.Option {
	opts := make([]expr.Option, 0, len(disabledBuiltins))
	for _, name := range disabledBuiltins {
		opts = append(opts, expr.DisableBuiltin(name))
	}
	return opts
}

func (b *bound) closure(node *ast.Node, n *ast.BuiltinNode) {
	if len(n.Arguments) == 0 {
		return
	}
	args, lets := b.hoist(n.Arguments[:1])
	n.Arguments[0] = args[0]
	body := 1
	if len(n.Arguments) > 1 {
		if p, ok := n.Arguments[1].(*ast.PredicateNode); ok {
			body = countNodes(p.Node)
			switch n.Name {
			case "sortBy":
				// A sort compares each key about log2(n) times: the
				// charge gets the array.
				p.Node = call(fnValue, str("sort"), copyLiteral(args[0]), p.Node)
			case "groupBy":
				p.Node = call(fnValue, str("group"), &ast.NilNode{}, p.Node)
			}
		}
	}
	check := call(fnLoop, &ast.IntegerNode{Value: body}, copyLiteral(args[0]), str(n.Name))
	ast.Patch(node, lets(&ast.SequenceNode{Nodes: []ast.Node{check, n}}))
}

func (b *bound) builtin(node *ast.Node, n *ast.BuiltinNode) {
	args, lets := b.hoist(n.Arguments)
	n.Arguments = args
	checkArgs := []ast.Node{str(n.Name)}
	for _, a := range args {
		checkArgs = append(checkArgs, copyLiteral(a))
	}
	ast.Patch(node, lets(&ast.SequenceNode{Nodes: []ast.Node{call(fnCall, checkArgs...), n}}))
}

func (b *bound) binary(node *ast.Node, n *ast.BinaryNode) {
	var right ast.Node // what the charge gets for the right operand
	switch n.Operator {
	case "+":
		if numeric(n.Left) || numeric(n.Right) || literal(n.Left) && literal(n.Right) {
			return
		}
	case "==", "!=", "<", ">", "<=", ">=":
		if cheap(n.Left) || cheap(n.Right) {
			return
		}
	case "contains":
		if literal(n.Left) {
			return
		}
	case "startsWith", "endsWith":
		if literal(n.Right) {
			return
		}
	case "in":
		switch r := n.Right.(type) {
		case *ast.ArrayNode, *ast.MapNode, *ast.ConstantNode:
			return // bounded by the expression's size
		case *ast.BinaryNode:
			if r.Operator == ".." {
				return // a range: expr counts its elements
			}
		}
	case "matches":
		if literal(n.Left) {
			return
		}
		if s, ok := n.Right.(*ast.StringNode); ok {
			// A literal pattern is compiled once: its size is known now.
			right = &ast.IntegerNode{Value: programSize(s.Value)}
		}
	default:
		return
	}
	ops, lets := b.hoist([]ast.Node{n.Left, n.Right})
	n.Left, n.Right = ops[0], ops[1]
	if right == nil {
		right = copyLiteral(ops[1])
	}
	check := call(fnOp, str(n.Operator), copyLiteral(ops[0]), right)
	ast.Patch(node, lets(&ast.SequenceNode{Nodes: []ast.Node{check, n}}))
}

// hoist evaluates every operand that is not a literal once, into a
// variable: the charge and the builtin or operator then both read it. It
// returns the operands to use and a function that wraps an expression in
// the variables' declarations, in order.
func (b *bound) hoist(operands []ast.Node) ([]ast.Node, func(ast.Node) ast.Node) {
	out := make([]ast.Node, len(operands))
	type decl struct {
		name  string
		value ast.Node
	}
	var decls []decl
	for i, op := range operands {
		if literal(op) {
			out[i] = op
			continue
		}
		b.vars++
		name := "#hookd" + strconv.Itoa(b.vars)
		decls = append(decls, decl{name, op})
		out[i] = &ast.IdentifierNode{Value: name}
	}
	return out, func(e ast.Node) ast.Node {
		for i := len(decls) - 1; i >= 0; i-- {
			e = &ast.VariableDeclaratorNode{Name: decls[i].name, Value: decls[i].value, Expr: e}
		}
		return e
	}
}

// call calls one of the charging functions with $env first.
func call(fn string, args ...ast.Node) ast.Node {
	return &ast.CallNode{Callee: &ast.IdentifierNode{Value: fn}, Arguments: append([]ast.Node{&ast.IdentifierNode{Value: "$env"}}, args...)}
}

func str(s string) ast.Node { return &ast.StringNode{Value: s} }

// copyLiteral returns a node reading the same value: a new node for a
// literal (a node has one parent), the same variable otherwise.
func copyLiteral(n ast.Node) ast.Node {
	switch x := n.(type) {
	case *ast.StringNode:
		return &ast.StringNode{Value: x.Value}
	case *ast.IntegerNode:
		return &ast.IntegerNode{Value: x.Value}
	case *ast.FloatNode:
		return &ast.FloatNode{Value: x.Value}
	case *ast.BoolNode:
		return &ast.BoolNode{Value: x.Value}
	case *ast.NilNode:
		return &ast.NilNode{}
	case *ast.IdentifierNode:
		return &ast.IdentifierNode{Value: x.Value}
	}
	return n
}

// literal reports a literal scalar: its size is bounded by the source's.
func literal(n ast.Node) bool {
	switch n.(type) {
	case *ast.StringNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NilNode:
		return true
	}
	return false
}

// numeric reports a number literal, or a value the checker knows to be a
// number.
func numeric(n ast.Node) bool {
	switch n.(type) {
	case *ast.IntegerNode, *ast.FloatNode:
		return true
	}
	t := n.Type()
	if t == nil {
		return false
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// cheap reports an operand that makes a comparison cost at most a
// constant: a literal, a number or a boolean.
func cheap(n ast.Node) bool {
	if literal(n) || numeric(n) {
		return true
	}
	t := n.Type()
	return t != nil && t.Kind() == reflect.Bool
}

// countNodes is the size of a closure's body, what one iteration costs in
// steps.
func countNodes(n ast.Node) int {
	c := &counter{}
	ast.Walk(&n, c)
	return max(c.n, 1)
}

type counter struct{ n int }

func (c *counter) Visit(*ast.Node) { c.n++ }
