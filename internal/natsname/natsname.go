// Package natsname checks the ids and names hookd builds NATS subjects,
// stream names and key-value keys from, before any reaches the server. It
// imports nothing of hookd's, so every package that touches NATS can use
// it (topology spells the names themselves).
package natsname

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Bounds on the ids and names hookd builds subjects, stream names and
// key-value keys from. JetStream's API carries them in request subjects,
// and a subject longer than the server's control line (4 KiB) makes the
// server close the whole connection, which every part of a process shares:
// whatever a request names is checked against these first.
const (
	// MaxTokenLen is the longest id used as one subject token or in a
	// stream name (endpoint, tenant, key and delivery ids; hookd's own are
	// under 32 bytes). Stream names also name directories on disk, which
	// file systems cap at 255 bytes.
	MaxTokenLen = 128
	// MaxKeyLen is the longest key-value key: an event type name (255, see
	// event.ValidateType) is the longest hookd stores.
	MaxKeyLen = 255
)

// ErrInvalidName reports an id or name that cannot be a subject token,
// stream name or key-value key: too long, empty, or with a character
// outside those ValidToken and ValidKey allow. Nothing by that name can
// exist, so callers answer "not found" (or "invalid") and never pass it
// to JetStream.
var ErrInvalidName = errors.New("not a valid id or name")

// ValidToken checks that s can be one subject token and part of a stream
// name: 1 to MaxTokenLen of A-Z a-z 0-9 _ -. No wildcard, dot or space can
// pass, so an id never widens a subject filter. Errors wrap
// ErrInvalidName.
func ValidToken(s string) error {
	if s == "" || len(s) > MaxTokenLen {
		return fmt.Errorf("%w: %s: must be 1 to %d characters", ErrInvalidName, Truncate(s), MaxTokenLen)
	}
	for i := 0; i < len(s); i++ {
		if !tokenByte(s[i]) {
			return fmt.Errorf("%w: %s: only A-Z a-z 0-9 _ - are allowed", ErrInvalidName, Truncate(s))
		}
	}
	return nil
}

// ValidKey checks that s can be a key-value key: 1 to MaxKeyLen bytes of
// dot-separated, non-empty tokens of A-Z a-z 0-9 _ - = / (the key-value
// store's own alphabet). Errors wrap ErrInvalidName.
func ValidKey(s string) error {
	if s == "" || len(s) > MaxKeyLen {
		return fmt.Errorf("%w: %s: must be 1 to %d characters", ErrInvalidName, Truncate(s), MaxKeyLen)
	}
	for _, tok := range strings.Split(s, ".") {
		if tok == "" {
			return fmt.Errorf("%w: %s: has an empty token", ErrInvalidName, Truncate(s))
		}
		for i := 0; i < len(tok); i++ {
			if c := tok[i]; !tokenByte(c) && c != '=' && c != '/' {
				return fmt.Errorf("%w: %s: only A-Z a-z 0-9 _ - = / and dots between tokens are allowed", ErrInvalidName, Truncate(s))
			}
		}
	}
	return nil
}

func tokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// truncateAt is how much of a refused name errors quote.
const truncateAt = 64

// Truncate quotes s for an error message, cut to its first 64 bytes: a
// refused name may be kilobytes long, and errors end up in answers and
// logs.
func Truncate(s string) string {
	if len(s) <= truncateAt {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:truncateAt]) + fmt.Sprintf("... (%d bytes)", len(s))
}
