package rules

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidPattern reports an event type pattern that is not a valid
// NATS-style subject pattern.
var ErrInvalidPattern = errors.New("invalid event type pattern")

// Pattern matches event types the way NATS matches subjects: tokens are
// separated by dots, "*" matches exactly one token and a final ">" matches
// one or more tokens. "workflow.>" matches "workflow.execution.fulfilled".
type Pattern struct {
	src    string
	tokens []string
}

// ParsePattern validates and parses src.
func ParsePattern(src string) (Pattern, error) {
	if src == "" {
		return Pattern{}, fmt.Errorf("%w: empty", ErrInvalidPattern)
	}
	tokens := strings.Split(src, ".")
	for i, tok := range tokens {
		switch {
		case tok == "":
			return Pattern{}, fmt.Errorf("%w: %q has an empty token", ErrInvalidPattern, src)
		case tok == ">" && i != len(tokens)-1:
			return Pattern{}, fmt.Errorf("%w: %q has \">\" before its last token", ErrInvalidPattern, src)
		case tok != "*" && tok != ">" && strings.ContainsAny(tok, " \t\r\n*>"):
			return Pattern{}, fmt.Errorf("%w: %q has a wildcard inside a token or white space", ErrInvalidPattern, src)
		}
	}
	return Pattern{src: src, tokens: tokens}, nil
}

// String returns the pattern's source.
func (p Pattern) String() string { return p.src }

// Match reports whether the event type typ matches the pattern.
func (p Pattern) Match(typ string) bool {
	rest, exhausted := typ, typ == ""
	for _, tok := range p.tokens {
		if tok == ">" {
			return !exhausted
		}
		if exhausted {
			return false
		}
		var cur string
		var more bool
		cur, rest, more = strings.Cut(rest, ".")
		exhausted = !more
		if tok != "*" && tok != cur {
			return false
		}
	}
	return exhausted
}

// PatternSet is an endpoint's list of patterns; an empty set matches every
// event type but hookd's own.
type PatternSet []Pattern

// reservedPrefix starts the types of hookd's operational events. Only a
// pattern that names it ("hookd.>", "hookd.endpoint.*") matches them: an
// endpoint that takes every event ("*", ">", or no pattern) does not get
// hookd's operational events unasked.
const reservedPrefix = "hookd."

// ParsePatterns parses every source in srcs.
func ParsePatterns(srcs []string) (PatternSet, error) {
	set := make(PatternSet, 0, len(srcs))
	for _, s := range srcs {
		p, err := ParsePattern(s)
		if err != nil {
			return nil, err
		}
		set = append(set, p)
	}
	return set, nil
}

// Match reports whether any pattern matches typ, or the set is empty.
func (s PatternSet) Match(typ string) bool {
	reserved := strings.HasPrefix(typ, reservedPrefix)
	if len(s) == 0 {
		return !reserved
	}
	for _, p := range s {
		if reserved && p.tokens[0] != "hookd" {
			continue
		}
		if p.Match(typ) {
			return true
		}
	}
	return false
}
