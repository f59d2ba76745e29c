package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// ErrInvalidTemplate wraps every reason a template is refused at compile
// time.
var ErrInvalidTemplate = errors.New("invalid template")

// Template delimiters: text between them is an expr expression.
const (
	templateOpen  = "{{"
	templateClose = "}}"
)

// Template is a string with expressions between {{ and }}, such as
// `Bearer {{ data.tenant_token }}`, rendered per event. Each expression is
// compiled under the same limits as filters. It is safe for concurrent use;
// each goroutine renders with its own Evaluator.
type Template struct {
	src   string
	parts []templatePart
}

// templatePart is literal text, or an expression when program is set.
type templatePart struct {
	text    string
	program *vm.Program
	data    bool // the expression may read the event's data (usesData)
}

// IsTemplate reports whether s holds an expression to render: whether it
// contains "{{". Any other string is used as it is.
func IsTemplate(s string) bool { return strings.Contains(s, templateOpen) }

// CompileTemplate compiles src. A src without "{{" returns a nil Template:
// it is a static value. An expression ends at the first "}}", so it cannot
// contain one; a literal "{{" is written {{ "{{" }}. Errors wrap
// ErrInvalidTemplate with expr's message.
func CompileTemplate(src string) (*Template, error) {
	if !IsTemplate(src) {
		return nil, nil
	}
	if len(src) > MaxSourceLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalidTemplate, MaxSourceLen)
	}
	t := &Template{src: src}
	rest := src
	for rest != "" {
		before, after, found := strings.Cut(rest, templateOpen)
		if before != "" {
			t.parts = append(t.parts, templatePart{text: before})
		}
		if !found {
			break
		}
		code, next, closed := strings.Cut(after, templateClose)
		if !closed {
			return nil, fmt.Errorf("%w: %q has no closing %q", ErrInvalidTemplate, templateOpen+after, templateClose)
		}
		if strings.TrimSpace(code) == "" {
			return nil, fmt.Errorf("%w: empty expression between %q and %q", ErrInvalidTemplate, templateOpen, templateClose)
		}
		program, err := expr.Compile(code, compileOptions()...)
		if err != nil {
			return nil, fmt.Errorf("%w: in %s%s%s: %s", ErrInvalidTemplate, templateOpen, code, templateClose, err.Error())
		}
		t.parts = append(t.parts, templatePart{program: program, data: usesData(code)})
		rest = next
	}
	return t, nil
}

// String returns the template's source.
func (t *Template) String() string {
	if t == nil {
		return ""
	}
	return t.src
}

// Render renders t against env: each expression's result is written as
// Text does. A runtime error (reading a field of a missing object, say) is
// returned with "": a half-rendered value is never used.
func (e *Evaluator) Render(t *Template, env *Env) (string, error) {
	if t == nil {
		return "", nil
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.program == nil {
			b.WriteString(p.text)
			continue
		}
		out, err := e.run(p.program, p.data, env)
		if err != nil {
			return "", err
		}
		b.WriteString(Text(out))
	}
	return b.String(), nil
}

// Text writes an expression's result as text: strings as they are,
// numbers in their shortest form (JSON numbers decode as float64: 42 reads
// "42"), booleans as true or false, times in RFC 3339, nil (a missing
// field) as "", and anything else (maps, arrays) as JSON.
func Text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32)
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, bool, time.Duration:
		return fmt.Sprint(v)
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	}
}
