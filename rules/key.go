package rules

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// ErrInvalidKey wraps every reason an ordering key expression is refused.
var ErrInvalidKey = errors.New("invalid ordering key")

// Key is a compiled ordering key expression, such as `data.order_id`: events
// with equal keys are delivered in order, others in parallel. It is safe for
// concurrent use.
type Key struct {
	src     string
	program *vm.Program
	data    bool // it may read the event's data (usesData)
}

// CompileKey compiles src under the same limits as filters. An empty src
// returns a nil Key. Errors wrap ErrInvalidKey with expr's message.
func CompileKey(src string) (*Key, error) {
	if src == "" {
		return nil, nil
	}
	if len(src) > MaxSourceLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalidKey, MaxSourceLen)
	}
	program, err := expr.Compile(src, compileOptions()...)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidKey, err.Error())
	}
	return &Key{src: src, program: program, data: usesData(src)}, nil
}

// String returns the key's source.
func (k *Key) String() string {
	if k == nil {
		return ""
	}
	return k.src
}

// Key evaluates k against env and renders the result as a string: strings
// as they are, numbers and booleans in Go's notation, nil (a missing field)
// as "". A runtime error is returned with "": such events share one key,
// so they stay in order among themselves.
func (e *Evaluator) Key(k *Key, env *Env) (string, error) {
	if k == nil {
		return "", nil
	}
	out, err := e.run(k.program, k.data, env)
	if err != nil {
		return "", err
	}
	switch v := out.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case float64:
		// JSON numbers decode as float64: 42 must read "42", not "42.0".
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	default:
		return fmt.Sprint(v), nil
	}
}

// Lane maps a key to one of n lanes (1..n), the same lane for the same key
// on every router.
func Lane(key string, n int) int {
	if n <= 1 {
		return 1
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	// FNV's low bits spread short keys poorly: mix (murmur3's finaliser).
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return int(x%uint64(n)) + 1
}
