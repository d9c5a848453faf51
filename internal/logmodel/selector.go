package logmodel

import (
	"fmt"
	"regexp"
)

// The selector and filter vocabulary every query speaks: the store's
// queries, LogQL's selectors and pushed-down filters, tail sessions and the
// archive's policies all say which entries they want with these types.

// MatchType is the operator of a label (or metadata) matcher.
type MatchType uint8

// The matcher operators. Regular expressions are fully anchored.
const (
	MatchEqual     MatchType = iota // =
	MatchNotEqual                   // !=
	MatchRegexp                     // =~
	MatchNotRegexp                  // !~
)

// String returns the operator as LogQL writes it.
func (t MatchType) String() string {
	switch t {
	case MatchNotEqual:
		return "!="
	case MatchRegexp:
		return "=~"
	case MatchNotRegexp:
		return "!~"
	}
	return "="
}

// Matcher compares one label (or metadata key) with a value. An absent label
// compares as the empty string, as in Prometheus and Loki. A Matcher is a
// plain value; Compile readies it to run.
type Matcher struct {
	Type  MatchType
	Name  string
	Value string
}

// String renders the matcher with the value Go-quoted.
func (m Matcher) String() string { return fmt.Sprintf("%s%s%q", m.Name, m.Type, m.Value) }

// Compile readies the matcher to run, compiling a regular expression fully
// anchored.
func (m Matcher) Compile() (*CompiledMatcher, error) {
	c := &CompiledMatcher{Matcher: m}
	if m.Type == MatchRegexp || m.Type == MatchNotRegexp {
		re, err := regexp.Compile("^(?:" + m.Value + ")$")
		if err != nil {
			return nil, &MatcherError{Matcher: m, Err: err}
		}
		c.re = re
	}
	return c, nil
}

// MatcherError is a matcher whose regular expression does not compile.
type MatcherError struct {
	Matcher Matcher
	Err     error
}

func (e *MatcherError) Error() string { return fmt.Sprintf("matcher %s: %v", e.Matcher, e.Err) }

func (e *MatcherError) Unwrap() error { return e.Err }

// CompileMatchers compiles each matcher.
func CompileMatchers(ms []Matcher) ([]*CompiledMatcher, error) {
	out := make([]*CompiledMatcher, len(ms))
	for i, m := range ms {
		c, err := m.Compile()
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// CompiledMatcher is a Matcher ready to run; it is safe for concurrent use.
type CompiledMatcher struct {
	Matcher
	re *regexp.Regexp
}

// Matches reports whether v satisfies the matcher.
func (m *CompiledMatcher) Matches(v string) bool {
	switch m.Type {
	case MatchEqual:
		return v == m.Value
	case MatchNotEqual:
		return v != m.Value
	case MatchRegexp:
		return m.re.MatchString(v)
	default:
		return !m.re.MatchString(v)
	}
}

// LineFilterType selects how a line filter compares.
type LineFilterType uint8

// The line filter types.
const (
	// LineContains keeps lines that contain Value.
	LineContains LineFilterType = iota
	// LineNotContains drops lines that contain Value.
	LineNotContains
	// LineContainsFold keeps lines that contain Value, ignoring ASCII case.
	LineContainsFold
	// LineNotContainsFold drops lines that contain Value, ignoring ASCII case.
	LineNotContainsFold
	// LineRegexp keeps lines that match the Go regular expression Value,
	// unanchored.
	LineRegexp
	// LineNotRegexp drops lines that match Value.
	LineNotRegexp
	// LineToken keeps lines holding Value as whole tokens: the text of Value
	// with a token boundary at both ends ("error" matches "an error:" but not
	// "errors"). The store skips blocks whose bloom filter lacks Value's
	// tokens.
	LineToken
	// LineTokenFold is LineToken ignoring ASCII case.
	LineTokenFold
)

// String names the type.
func (t LineFilterType) String() string {
	if int(t) >= len(lineFilterNames) {
		return fmt.Sprintf("LineFilterType(%d)", t)
	}
	return lineFilterNames[t]
}

var lineFilterNames = [...]string{"contains", "notcontains", "containsfold", "notcontainsfold", "regex", "notregex", "token", "tokenfold"}

// LineFilter is one line filter of a query.
type LineFilter struct {
	Type  LineFilterType
	Value string
}
