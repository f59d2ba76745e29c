package rules

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"reflect"
	"regexp/syntax"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
)

// Every run of an expression (a filter, an ordering key, a transform, one
// expression of a header template) has budgets, counted per run by its
// Evaluator, so that one hostile expression costs at most some tens of
// milliseconds and megabytes whatever the event:
//
//   - MemoryBudget: expr's own count of elements in ranges, arrays and maps
//     the run builds.
//   - WorkBudget: the run's work, in units of about a nanosecond: loops
//     (a closure such as all, any, map, filter or reduce costs, when it
//     starts, its array's length times the size of its body), and what
//     builtins and operators read (replace, toJSON, `contains`, `matches`,
//     comparisons of computed strings, ...), each at its own cost per
//     byte or element.
//   - ByteBudget: bytes of strings builtins and operators build (replace,
//     repeat, join, toJSON, `+`, ...). A builtin whose result would not
//     fit is refused before it builds anything.
//   - ElementBudget: elements of the arrays and maps builtins build
//     (split, fromJSON, keys, concat, sort, ...), the same bound as
//     MemoryBudget.
//
// A run over a budget fails with an error wrapping ErrBudget; the process
// never runs out of memory for it. How each builtin and operator is
// charged is in bound.go (which rewrites each expression at compile time)
// and below.
const (
	// WorkBudget bounds one run's work (see above): about 50 ms. An
	// ordinary filter uses a few hundred units; a pass over the longest
	// array an event can hold (about 500,000 elements in 1 MiB) a few
	// million; the JSON of a 1 MiB event about 16 million.
	WorkBudget = 50_000_000
	// ByteBudget bounds the bytes of strings one run's builtins and
	// operators build: 16 MiB, many times the largest event.
	ByteBudget = 16 << 20
	// ElementBudget bounds the elements of arrays and maps one run's
	// builtins build.
	ElementBudget = MemoryBudget
	// MaxPatternLen bounds a `matches` pattern computed at run time (a
	// literal pattern is bounded by MaxSourceLen): compiling a regular
	// expression costs memory in proportion to its length.
	MaxPatternLen = 4096
)

// What things cost in WorkBudget units (about a nanosecond each, measured
// on the builtins: see BENCHMARKS.md).
const (
	costNode  = 8      // a syntax node of a closure's body, run once
	costElem  = 8      // an element of an array or map walked or compared
	costByte  = 1      // a byte compared, copied, searched or counted
	costCase  = 8      // a byte of upper() or lower()
	costJSON  = 8      // a byte of toJSON's or string()'s result (bounded by jsonSize)
	costParse = 32     // a byte of JSON decoded, of a pattern compiled, or a part split out
	costRegex = 12     // a byte of text per instruction of a regular expression
	costZone  = 50_000 // loading a time zone (timezone(), date() with a zone)
)

// ErrBudget reports a run that went over one of its budgets (see
// WorkBudget): the expression, not the event, is at fault, and the same
// event fails the same way every time.
var ErrBudget = errors.New("expression over its budget")

// meter counts one run's use of its budgets.
type meter struct {
	work, bytes, elems int
}

func (m *meter) reset() { *m = meter{} }

func (m *meter) spend(n int) error {
	if n < 0 || n > WorkBudget-m.work {
		m.work = WorkBudget
		return fmt.Errorf("%w: more than %d units of work", ErrBudget, WorkBudget)
	}
	m.work += n
	return nil
}

func (m *meter) build(n int) error {
	if n < 0 || n > ByteBudget-m.bytes {
		return fmt.Errorf("%w: more than %d bytes of strings built", ErrBudget, ByteBudget)
	}
	m.bytes += n
	return nil
}

func (m *meter) elem(n int) error {
	if n < 0 || n > ElementBudget-m.elems {
		return fmt.Errorf("%w: more than %d elements of arrays and maps built", ErrBudget, ElementBudget)
	}
	m.elems += n
	return nil
}

// read charges reading n bytes at cost per byte.
func (m *meter) read(n, cost int) error { return m.spend(mul(n, cost)) }

// mul multiplies sizes, saturating instead of overflowing (a saturated
// charge is always over budget).
func mul(a, b int) int {
	if a <= 0 || b <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > math.MaxInt {
		return math.MaxInt
	}
	return int(lo)
}

// log2 is the number of comparisons a sort of n elements makes per
// element, at least 1.
func log2(n int) int { return max(bits.Len(uint(n)), 1) }

// The functions bound.go's rewrite calls. Each takes the run's
// environment ($env) first, where the Evaluator put the run's meter.
const (
	fnLoop  = "__hookd_loop"  // ($env, body nodes, array): before a closure
	fnCall  = "__hookd_call"  // ($env, builtin, args...): before a builtin
	fnOp    = "__hookd_op"    // ($env, operator, left, right): before an operator
	fnValue = "__hookd_value" // ($env, kind, value) value: a key or sort value
)

// errShadowed reports an expression that shadowed $env (`let $env = ...`):
// its budgets cannot be counted, so it cannot run.
var errShadowed = fmt.Errorf("%w: $env is redefined, so the run's budget cannot be counted", ErrBudget)

func meterOf(env any) (*meter, error) {
	e, ok := env.(*Env)
	if !ok || e.meter == nil {
		return nil, errShadowed
	}
	return e.meter, nil
}

// budgetOptions registers the functions the rewrite calls, and the
// rewrite itself.
func budgetOptions() []expr.Option {
	return []expr.Option{
		expr.Function(fnLoop, func(args ...any) (any, error) {
			m, err := meterOf(args[0])
			if err != nil {
				return nil, err
			}
			return true, chargeLoop(m, args[1].(int), args[2], args[3].(string))
		}),
		expr.Function(fnCall, func(args ...any) (any, error) {
			m, err := meterOf(args[0])
			if err != nil {
				return nil, err
			}
			return true, chargeBuiltin(m, args[1].(string), args[2:])
		}),
		expr.Function(fnOp, func(args ...any) (any, error) {
			m, err := meterOf(args[0])
			if err != nil {
				return nil, err
			}
			return true, chargeOp(m, args[1].(string), args[2], args[3])
		}),
		// The value's own type is the call's, so the rewrite changes no
		// type the checker sees.
		func(c *conf.Config) {
			c.Functions[fnValue] = &builtin.Function{
				Name: fnValue,
				Func: func(args ...any) (any, error) {
					m, err := meterOf(args[0])
					if err != nil {
						return nil, err
					}
					return args[3], chargeValue(m, args[1].(string), args[2], args[3])
				},
				Validate: func(args []reflect.Type) (reflect.Type, error) {
					if len(args) != 4 {
						return nil, fmt.Errorf("%s takes 4 arguments", fnValue)
					}
					return args[3], nil
				},
			}
		},
		expr.Patch(&bound{}),
	}
}

// chargeLoop charges a closure over coll whose body has k nodes: every
// iteration it may run (an early exit is not refunded). A sortBy also pays
// its comparisons; groupBy, sortBy, map and filter build as many elements.
func chargeLoop(m *meter, k int, coll any, name string) error {
	n := length(coll)
	if err := m.spend(mul(mul(n, k), costNode)); err != nil {
		return err
	}
	switch name {
	case "sortBy":
		return errors.Join(m.spend(mul(mul(n, log2(n)), costElem)), m.elem(n))
	case "groupBy", "map", "filter":
		return m.elem(n)
	}
	return nil
}

// chargeValue charges a value a closure computes per element for a
// groupBy key (hashed: its bytes) or a sortBy key (compared about log2(n)
// times, n the array's length).
func chargeValue(m *meter, kind string, n, v any) error {
	s, ok := v.(string)
	if !ok {
		return nil
	}
	if kind == "sort" {
		return m.read(mul(len(s), log2(length(n))), costByte)
	}
	return m.read(len(s), costByte)
}

// chargeOp charges a binary operator on its evaluated operands, before it
// runs (see bound.go for which operators are rewritten).
func chargeOp(m *meter, op string, a, b any) error {
	switch op {
	case "+":
		// Concatenation builds a string of both lengths; numbers cost
		// nothing.
		sa, okA := a.(string)
		sb, okB := b.(string)
		if okA && okB {
			return errors.Join(m.build(len(sa)+len(sb)), m.read(len(sa)+len(sb), costByte))
		}
		return nil
	case "contains", "key":
		return m.read(strLen(a), costByte)
	case "startsWith", "endsWith":
		return m.read(min(strLen(a), strLen(b)), costByte)
	case "in":
		switch reflect.ValueOf(b).Kind() {
		case reflect.Slice, reflect.Array:
			// Each element is compared with the needle.
			return m.chargeSize(b)
		default:
			// A map lookup hashes the needle.
			return m.read(strLen(a), costByte)
		}
	case "matches":
		return chargeMatch(m, a, b)
	default: // comparisons: they stop at the shorter operand
		if sa, ok := a.(string); ok {
			return m.read(min(len(sa), strLen(b)), costByte)
		}
		return m.chargeSize(a)
	}
}

// chargeMatch charges a regular expression match: Go's engine runs in time
// proportional to the text's length times the compiled program's size,
// and a pattern computed at run time is compiled every time. pattern is
// the pattern, or for a literal one its program size (computed once, at
// compile time).
func chargeMatch(m *meter, text, pattern any) error {
	insts, ok := pattern.(int)
	if !ok {
		p, isString := pattern.(string)
		if !isString {
			return nil // expr refuses it
		}
		if len(p) > MaxPatternLen {
			return fmt.Errorf("%w: a pattern longer than %d bytes", ErrBudget, MaxPatternLen)
		}
		if err := m.read(len(p), costParse); err != nil {
			return err
		}
		insts = programSize(p)
	}
	return m.read(mul(strLen(text), insts), costRegex)
}

// programSize is the size of the program a pattern compiles to; 1 for a
// pattern that does not compile (expr reports the error).
func programSize(pattern string) int {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return 1
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 1
	}
	return len(prog.Inst)
}

// dateLayouts is how many layouts date() tries without one.
const dateLayouts = 8

// chargeBuiltin charges a builtin call on its evaluated arguments, before
// it runs: what it reads, and what it would build, refused before it is
// built. Arguments of a type the builtin refuses cost nothing: expr
// reports the error. The builtins not listed here cost nothing that grows
// with their arguments (see cheapBuiltins in bound.go).
func chargeBuiltin(m *meter, name string, args []any) error {
	arg := func(i int) any {
		if i < len(args) {
			return args[i]
		}
		return nil
	}
	s := strLen(arg(0))
	switch name {
	case "len":
		// The length of a string is counted in runes.
		return m.read(s, costByte)
	case "get":
		// A map lookup hashes the key.
		return m.read(strLen(arg(1)), costByte)
	case "trim", "trimPrefix", "trimSuffix", "indexOf", "lastIndexOf", "int", "float", "duration":
		// They read their string; what they return is a part of it or
		// a number.
		return m.read(s+strLen(arg(1)), costByte)
	case "hasPrefix", "hasSuffix":
		return m.read(min(s, strLen(arg(1))), costByte)
	case "upper", "lower":
		// Case mapping can grow a string by half (ȿ to Ȿ).
		return errors.Join(m.build(s+s/2), m.read(s, costCase))
	case "toBase64":
		return errors.Join(m.build((s+2)/3*4), m.read(s, 2*costByte))
	case "fromBase64":
		return errors.Join(m.build(s), m.read(s, 3*costByte))
	case "split", "splitAfter":
		return chargeSplit(m, arg(0), arg(1), arg(2), len(args))
	case "replace":
		return chargeReplace(m, arg(0), arg(1), arg(2))
	case "repeat":
		n, ok := toInt(arg(1))
		if !ok || n < 0 {
			return nil
		}
		return errors.Join(m.build(mul(s, n)), m.read(mul(s, n), costByte))
	case "join":
		return chargeJoin(m, arg(0), arg(1))
	case "toJSON", "string":
		// string() is fmt's %v, never longer than the JSON of the value
		// (but slower to build).
		n := jsonSize(arg(0), ByteBudget-m.bytes+1)
		cost := costJSON
		if name == "string" {
			cost *= 2
		}
		return errors.Join(m.build(n), m.read(n, cost))
	case "fromJSON":
		return errors.Join(m.read(s, costParse), m.elem(jsonElements(arg(0))))
	case "date":
		if err := m.read(mul(s+strLen(arg(1)), dateLayouts), costByte); err != nil {
			return err
		}
		if len(args) == 3 {
			return m.spend(costZone)
		}
		return nil
	case "timezone":
		return m.spend(costZone + s)
	case "max", "min", "mean":
		return m.chargeSize(args)
	case "median":
		n := countLeaves(args, WorkBudget)
		return errors.Join(m.spend(mul(mul(n, log2(n)), costElem)), m.elem(n))
	case "keys", "values", "reverse", "fromPairs":
		return chargeArray(m, length(arg(0)), 1)
	case "toPairs":
		return chargeArray(m, length(arg(0)), 3)
	case "take":
		n, ok := toInt(arg(1))
		if !ok {
			return nil
		}
		return chargeArray(m, min(max(n, 0), length(arg(0))), 1)
	case "concat":
		n := 0
		for _, a := range args {
			n += length(a)
		}
		return chargeArray(m, n, 1)
	case "flatten":
		return chargeArray(m, countLeaves(arg(0), ElementBudget+1), 1)
	case "uniq":
		// Each element is compared with every one kept so far.
		n := length(arg(0))
		return errors.Join(m.spend(mul(mul(n, n), costElem)), m.elem(n))
	case "sort":
		n := length(arg(0))
		// Strings are compared byte by byte.
		return errors.Join(m.spend(mul(mul(n, log2(n)), costElem)), m.elem(n), m.read(mul(stringBytes(arg(0)), log2(n)), costByte))
	}
	return nil
}

func chargeArray(m *meter, n, per int) error {
	return errors.Join(m.spend(mul(n, costElem)), m.elem(mul(n, per)))
}

func chargeSplit(m *meter, s, sep, limit any, nargs int) error {
	str, ok1 := s.(string)
	sp, ok2 := sep.(string)
	if !ok1 || !ok2 {
		return nil
	}
	if err := m.read(len(str), costByte); err != nil {
		return err
	}
	n := utf8.RuneCountInString(str)
	if sp != "" {
		n = strings.Count(str, sp) + 1
	}
	if nargs == 3 {
		if l, ok := toInt(limit); ok && l >= 0 {
			n = min(n, l)
		}
	}
	// Each part is a string header of its own.
	return errors.Join(m.elem(n), m.spend(mul(n, costParse)))
}

func chargeReplace(m *meter, s, old, repl any) error {
	str, ok1 := s.(string)
	o, ok2 := old.(string)
	r, ok3 := repl.(string)
	if !ok1 || !ok2 || !ok3 {
		return nil
	}
	// Counting the matches reads the string; the result is then known
	// before it is built.
	if err := m.read(len(str), costByte); err != nil {
		return err
	}
	n := utf8.RuneCountInString(str) + 1
	if o != "" {
		n = strings.Count(str, o)
	}
	grow := mul(n, len(r))
	if grow == math.MaxInt {
		return m.build(grow)
	}
	out := len(str) - n*len(o) + grow
	return errors.Join(m.build(out), m.read(out, costByte), m.spend(mul(n, costParse)))
}

func chargeJoin(m *meter, arr, sep any) error {
	n := length(arr)
	if err := m.spend(mul(n, costElem)); err != nil {
		return err
	}
	total := mul(max(n-1, 0), strLen(sep))
	v := reflect.ValueOf(arr)
	if k := v.Kind(); k == reflect.Slice || k == reflect.Array {
		for i := range n {
			total += strLen(v.Index(i).Interface())
			if total > ByteBudget {
				break
			}
		}
	}
	return errors.Join(m.build(total), m.read(total, costByte))
}

// chargeSize charges walking v: its elements and its strings' bytes. The
// walk stops once over budget.
func (m *meter) chargeSize(v any) error {
	left := max(WorkBudget-m.work, 0) + 1
	w := walker{limit: left/costElem + 1, byteLimit: left}
	w.walk(v, 0)
	return m.spend(mul(w.nodes, costElem) + w.bytes)
}

// walker sizes a value: nodes (elements and map entries) and the bytes of
// its strings, up to limits.
type walker struct {
	nodes, bytes     int
	limit, byteLimit int
}

func (w *walker) done() bool { return w.nodes > w.limit || w.bytes > w.byteLimit }

func (w *walker) walk(v any, depth int) {
	if w.done() || depth > 256 {
		return
	}
	switch x := v.(type) {
	case nil, bool, int, float64:
		return
	case string:
		w.bytes += len(x)
	case []any:
		for _, e := range x {
			w.nodes++
			w.walk(e, depth+1)
			if w.done() {
				return
			}
		}
	case map[string]any:
		for k, e := range x {
			w.nodes++
			w.bytes += len(k)
			w.walk(e, depth+1)
			if w.done() {
				return
			}
		}
	default:
		w.walkReflect(reflect.ValueOf(v), depth)
	}
}

func (w *walker) walkReflect(rv reflect.Value, depth int) {
	switch rv.Kind() {
	case reflect.String:
		w.bytes += rv.Len()
	case reflect.Slice, reflect.Array:
		for i := range rv.Len() {
			w.nodes++
			w.walk(rv.Index(i).Interface(), depth+1)
			if w.done() {
				return
			}
		}
	case reflect.Map:
		it := rv.MapRange()
		for it.Next() {
			w.nodes++
			w.walk(it.Key().Interface(), depth+1)
			w.walk(it.Value().Interface(), depth+1)
			if w.done() {
				return
			}
		}
	case reflect.Pointer, reflect.Interface:
		if !rv.IsNil() {
			w.walk(rv.Elem().Interface(), depth+1)
		}
	case reflect.Struct:
		for i := range rv.NumField() {
			if rv.Type().Field(i).IsExported() {
				w.nodes++
				w.walk(rv.Field(i).Interface(), depth+1)
			}
		}
	}
}

// jsonSize bounds the length of toJSON(v), which indents by two spaces a
// level and escapes <, > and & as \u003c: every byte of a string as
// escaped, every element a line of its own, every number at most 24
// bytes. It stops counting past limit (returning math.MaxInt).
func jsonSize(v any, limit int) int {
	j := jsonSizer{limit: limit}
	j.sizeAny(v, 0)
	if j.n > j.limit {
		return math.MaxInt
	}
	return j.n
}

type jsonSizer struct{ n, limit int }

var timeType = reflect.TypeOf(time.Time{})

// sizeAny sizes the values JSON decoding makes without reflection (most of
// what expressions see), anything else with it.
func (j *jsonSizer) sizeAny(v any, depth int) {
	if j.n > j.limit || depth > 1000 {
		j.n = math.MaxInt
		return
	}
	switch x := v.(type) {
	case nil:
		j.n += 4
	case bool:
		j.n += 5
	case string:
		j.n += 2 + escapedLen(x)
	case float64:
		j.n += floatLen(x)
	case []any:
		j.n += 2 + 2*depth + 1
		for _, e := range x {
			j.n += 2*(depth+1) + 2
			j.sizeAny(e, depth+1)
			if j.n > j.limit {
				return
			}
		}
	case map[string]any:
		j.n += 2 + 2*depth + 1
		for k, e := range x {
			j.n += 2*(depth+1) + 2 + 2 + 2 + escapedLen(k)
			j.sizeAny(e, depth+1)
			if j.n > j.limit {
				return
			}
		}
	default:
		j.size(reflect.ValueOf(v), depth)
	}
}

func (j *jsonSizer) size(rv reflect.Value, depth int) {
	if j.n > j.limit || depth > 1000 {
		j.n = math.MaxInt
		return
	}
	if !rv.IsValid() {
		j.n += 4
		return
	}
	if rv.Type() == timeType {
		j.n += 40
		return
	}
	switch rv.Kind() {
	case reflect.Bool:
		j.n += 5
	case reflect.String:
		j.n += 2 + escapedLen(rv.String())
	case reflect.Slice, reflect.Array:
		j.n += 2 + 2*depth + 1
		for i := range rv.Len() {
			j.n += 2*(depth+1) + 2
			j.size(rv.Index(i), depth+1)
			if j.n > j.limit {
				return
			}
		}
	case reflect.Map:
		j.n += 2 + 2*depth + 1
		it := rv.MapRange()
		for it.Next() {
			j.n += 2*(depth+1) + 2 + 2
			j.size(it.Key(), depth+1)
			j.size(it.Value(), depth+1)
			if j.n > j.limit {
				return
			}
		}
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			j.n += 4
			return
		}
		if rv.Kind() == reflect.Interface {
			j.sizeAny(rv.Elem().Interface(), depth)
			return
		}
		j.size(rv.Elem(), depth)
	case reflect.Struct:
		j.n += 2 + 2*depth + 1
		for i := range rv.NumField() {
			if f := rv.Type().Field(i); f.IsExported() {
				j.n += 2*(depth+1) + 2 + 2 + 2 + escapedLen(f.Name) + len(f.Tag)
				j.size(rv.Field(i), depth+1)
			}
		}
	case reflect.Float64, reflect.Float32:
		j.n += floatLen(rv.Float())
	default: // other numbers, and what JSON cannot encode (an error then)
		j.n += 24
	}
}

// floatLen bounds the length of a JSON number: its digits for a whole
// number (what JSON numbers mostly are), else the longest a float64 takes.
func floatLen(f float64) int {
	if f != math.Trunc(f) || math.Abs(f) >= 1e15 {
		return 24
	}
	n := 1
	if f < 0 {
		n, f = 2, -f
	}
	for f >= 10 {
		f /= 10
		n++
	}
	return n
}

// escapedLen is how long s is once escaped in JSON (with HTML escaping):
// six bytes for a control character, <, > or &, or each byte of invalid
// UTF-8.
func escapedLen(s string) int {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				n += 6
			case c == '"' || c == '\\':
				n += 2
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			n += 6
		} else {
			n += size
		}
		i += size
	}
	return n
}

// jsonElements bounds the elements fromJSON(s) builds: one per two bytes
// at most.
func jsonElements(s any) int {
	str, ok := s.(string)
	if !ok {
		return 0
	}
	return len(str)/2 + 1
}

// countLeaves counts the values in v, nested arrays flattened, up to limit.
func countLeaves(v any, limit int) int {
	w := walker{limit: limit, byteLimit: math.MaxInt}
	w.walk(v, 0)
	return w.nodes
}

// stringBytes sums the lengths of an array's strings.
func stringBytes(v any) int {
	w := walker{limit: WorkBudget + 1, byteLimit: WorkBudget + 1}
	w.walk(v, 0)
	return w.bytes
}

func strLen(v any) int {
	if s, ok := v.(string); ok {
		return len(s)
	}
	return 0
}

// length is the length of an array, map or string; 0 for anything else.
func length(v any) int {
	switch x := v.(type) {
	case []any:
		return len(x)
	case string:
		return len(x)
	case map[string]any:
		return len(x)
	case nil:
		return 0
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map, reflect.String:
		return rv.Len()
	}
	return 0
}

func toInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case int64:
		return int(x), true
	case float64:
		if x >= math.MaxInt {
			return math.MaxInt, true
		}
		return int(x), true
	case time.Duration:
		return int(x), true
	}
	return 0, false
}
