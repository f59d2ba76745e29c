package event

// MaxDepth is the deepest nesting of arrays and objects an event's data may
// have. Deeper data costs filters and decoders time for no purpose a
// webhook has; the API refuses it, and routers give filters null for it.
const MaxDepth = 64

// TooDeep reports whether JSON data nests arrays and objects deeper than
// MaxDepth. It scans the bytes once, without decoding.
func TooDeep(data []byte) bool {
	depth := 0
	inString, escaped := false, false
	for _, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			if depth++; depth > MaxDepth {
				return true
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return false
}
