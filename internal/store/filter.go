package store

import (
	"bytes"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// MatchType is a label or metadata comparison.
type MatchType uint8

const (
	MatchEqual     MatchType = iota // =
	MatchNotEqual                   // !=
	MatchRegexp                     // =~ (fully anchored)
	MatchNotRegexp                  // !~
)

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
// compares as the empty string, as in Prometheus and Loki.
type Matcher struct {
	Type  MatchType
	Name  string
	Value string
	re    *regexp.Regexp
}

// NewMatcher builds a matcher, compiling regular expressions fully anchored.
func NewMatcher(t MatchType, name, value string) (*Matcher, error) {
	m := &Matcher{Type: t, Name: name, Value: value}
	if t == MatchRegexp || t == MatchNotRegexp {
		re, err := regexp.Compile("^(?:" + value + ")$")
		if err != nil {
			return nil, fmt.Errorf("matcher %s%s%q: %w", name, t, value, err)
		}
		m.re = re
	}
	return m, nil
}

// MustMatcher is NewMatcher for constant, known-good arguments; it panics on
// error.
func MustMatcher(t MatchType, name, value string) *Matcher {
	m, err := NewMatcher(t, name, value)
	if err != nil {
		panic("BUG: " + err.Error())
	}
	return m
}

// Matches reports whether v satisfies the matcher.
func (m *Matcher) Matches(v string) bool {
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

func (m *Matcher) String() string { return fmt.Sprintf("%s%s%q", m.Name, m.Type, m.Value) }

// LineFilterType selects how a line filter compares.
type LineFilterType uint8

const (
	// LineContains keeps lines that contain Value.
	LineContains LineFilterType = iota
	// LineNotContains drops lines that contain Value.
	LineNotContains
	// LineContainsFold keeps lines that contain Value, ignoring ASCII case.
	LineContainsFold
	// LineNotContainsFold drops lines that contain Value, ignoring ASCII case.
	LineNotContainsFold
	// LineRegexp keeps lines that match the regular expression Value.
	LineRegexp
	// LineNotRegexp drops lines that match Value.
	LineNotRegexp
	// LineToken keeps lines holding Value as whole tokens: the text of Value
	// with a token boundary at both ends ("error" matches "an error:" but not
	// "errors"). Blocks whose bloom filter lacks Value's tokens are skipped.
	LineToken
	// LineTokenFold is LineToken ignoring ASCII case.
	LineTokenFold
)

// LineFilter is one line filter of a query.
type LineFilter struct {
	Type  LineFilterType
	Value string
}

// compiledFilter is a LineFilter ready to run.
type compiledFilter struct {
	typ    LineFilterType
	needle []byte // lowercased for the Fold types
	re     *regexp.Regexp
	// lit is a literal every regexp match contains; litFold means compare it
	// ignoring ASCII case (lit is then lowercase).
	lit     []byte
	litFold bool
}

func compileFilter(f LineFilter) (*compiledFilter, error) {
	c := &compiledFilter{typ: f.Type, needle: []byte(f.Value)}
	switch f.Type {
	case LineContainsFold, LineNotContainsFold, LineTokenFold:
		c.needle = bytes.ToLower(c.needle)
	case LineRegexp, LineNotRegexp:
		re, err := regexp.Compile(f.Value)
		if err != nil {
			return nil, fmt.Errorf("line filter regexp %q: %w", f.Value, err)
		}
		c.re = re
		lit, fold := requiredLiteral(f.Value)
		c.lit, c.litFold = []byte(lit), fold
	case LineContains, LineNotContains, LineToken:
	default:
		return nil, fmt.Errorf("unknown line filter type %d", f.Type)
	}
	return c, nil
}

// match evaluates the filter on one line.
func (c *compiledFilter) match(line []byte) bool {
	switch c.typ {
	case LineContains:
		return bytes.Contains(line, c.needle)
	case LineNotContains:
		return !bytes.Contains(line, c.needle)
	case LineContainsFold:
		return indexFold(line, c.needle) >= 0
	case LineNotContainsFold:
		return indexFold(line, c.needle) < 0
	case LineRegexp:
		return c.regexpMatch(line)
	case LineNotRegexp:
		return !c.regexpMatch(line)
	case LineToken:
		return containsToken(line, c.needle, false)
	case LineTokenFold:
		return containsToken(line, c.needle, true)
	}
	return false
}

func (c *compiledFilter) regexpMatch(line []byte) bool {
	if len(c.lit) > 0 {
		if c.litFold {
			if indexFold(line, c.lit) < 0 {
				return false
			}
		} else if !bytes.Contains(line, c.lit) {
			return false
		}
	}
	return c.re.Match(line)
}

// anchor returns a literal that every matching line contains, and whether it
// is compared ignoring ASCII case, so that a block's text can be searched
// as a whole. It returns nil for filters without one.
func (c *compiledFilter) anchor() ([]byte, bool) {
	switch c.typ {
	case LineContains, LineToken:
		return c.needle, false
	case LineContainsFold, LineTokenFold:
		return c.needle, true
	case LineRegexp:
		if len(c.lit) > 0 {
			return c.lit, c.litFold
		}
	}
	return nil, false
}

// hashes returns the bloom hashes every matching line holds: whole tokens,
// grams of tokens cut by the needle's ends and inner grams (see
// substringHashes).
func (c *compiledFilter) hashes() (tokens, grams, inner []uint64) {
	switch c.typ {
	case LineToken, LineTokenFold:
		for _, tok := range splitTokens(string(c.needle)) {
			if indexableToken(tok) {
				tokens = append(tokens, tokenHash(tok))
			}
		}
	case LineContains, LineContainsFold:
		return substringHashes(string(c.needle))
	case LineRegexp:
		if len(c.lit) > 0 {
			return substringHashes(string(c.lit))
		}
	}
	return tokens, grams, inner
}

// containsToken reports whether line holds needle with a token boundary at
// both ends. With fold, needle must be lowercase.
func containsToken(line, needle []byte, fold bool) bool {
	if len(needle) == 0 {
		return true
	}
	for off := 0; off <= len(line)-len(needle); {
		var i int
		if fold {
			i = indexFold(line[off:], needle)
		} else {
			i = bytes.Index(line[off:], needle)
		}
		if i < 0 {
			return false
		}
		i += off
		if tokenBoundary(line, needle, i) {
			return true
		}
		off = i + 1
	}
	return false
}

// tokenBoundary reports whether needle found at line[i:] starts and ends on
// token boundaries.
func tokenBoundary(line, needle []byte, i int) bool {
	end := i + len(needle)
	if i > 0 && tokenByte[needle[0]] && tokenByte[line[i-1]] {
		return false
	}
	if end < len(line) && tokenByte[needle[len(needle)-1]] && tokenByte[line[end]] {
		return false
	}
	return true
}

// indexFold returns the index of needle (lowercase) in s ignoring ASCII case.
func indexFold(s, needle []byte) int {
	n := len(needle)
	if n == 0 {
		return 0
	}
	first := needle[0]
	upper := first
	if first >= 'a' && first <= 'z' {
		upper = first - 'a' + 'A'
	}
	for i := 0; i+n <= len(s); {
		c := s[i]
		if c != first && c != upper {
			// Skip ahead to the next byte that may start a match.
			j := indexEither(s[i+1:len(s)-n+1], first, upper)
			if j < 0 {
				return -1
			}
			i += 1 + j
			continue
		}
		if equalFold(s[i+1:i+n], needle[1:]) {
			return i
		}
		i++
	}
	return -1
}

func indexEither(s []byte, a, b byte) int {
	if a == b {
		return bytes.IndexByte(s, a)
	}
	i := bytes.IndexByte(s, a)
	if i < 0 {
		return bytes.IndexByte(s, b)
	}
	if j := bytes.IndexByte(s[:i], b); j >= 0 {
		return j
	}
	return i
}

func equalFold(s, lower []byte) bool {
	for i, c := range s {
		if lowerByte[c] != lower[i] {
			return false
		}
	}
	return true
}

// requiredLiteral returns the longest literal that every match of the
// regular expression must contain, and whether it is case-insensitive (then
// lowercase). Go's case-insensitive regexps are slow; testing the literal
// first skips most lines.
func requiredLiteral(expr string) (string, bool) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return "", false
	}
	lit, fold := longestLiteral(re.Simplify())
	if fold {
		// Unicode folds 'k' with the Kelvin sign and 's' with the long s;
		// an ASCII-only comparison would miss those lines.
		if strings.ContainsAny(lit, "ksKS") {
			return "", false
		}
		for i := 0; i < len(lit); i++ {
			if lit[i] >= utf8.RuneSelf {
				return "", false
			}
		}
		lit = strings.ToLower(lit)
	}
	return lit, fold
}

func longestLiteral(re *syntax.Regexp) (string, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		return string(re.Rune), re.Flags&syntax.FoldCase != 0
	case syntax.OpCapture:
		return longestLiteral(re.Sub[0])
	case syntax.OpPlus:
		return longestLiteral(re.Sub[0])
	case syntax.OpConcat:
		best, bestFold := "", false
		for _, sub := range re.Sub {
			if l, f := longestLiteral(sub); len(l) > len(best) {
				best, bestFold = l, f
			}
		}
		return best, bestFold
	}
	return "", false
}
