package store

import (
	"bytes"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// compiledFilter is a LineFilter ready to run.
type compiledFilter struct {
	typ    logmodel.LineFilterType
	needle []byte // lowercased for the Fold types
	re     *regexp.Regexp
	// lit is a literal every regexp match contains; litFold means compare it
	// ignoring ASCII case (lit is then lowercase).
	lit     []byte
	litFold bool
}

func compileFilter(f logmodel.LineFilter) (*compiledFilter, error) {
	c := &compiledFilter{typ: f.Type, needle: []byte(f.Value)}
	switch f.Type {
	case logmodel.LineContainsFold, logmodel.LineNotContainsFold, logmodel.LineTokenFold:
		c.needle = bytes.ToLower(c.needle)
	case logmodel.LineRegexp, logmodel.LineNotRegexp:
		re, err := regexp.Compile(f.Value)
		if err != nil {
			return nil, fmt.Errorf("line filter regexp %q: %w", f.Value, err)
		}
		c.re = re
		lit, fold := requiredLiteral(f.Value)
		c.lit, c.litFold = []byte(lit), fold
	case logmodel.LineContains, logmodel.LineNotContains, logmodel.LineToken:
	default:
		return nil, fmt.Errorf("unknown line filter type %d", f.Type)
	}
	return c, nil
}

// match evaluates the filter on one line.
func (c *compiledFilter) match(line []byte) bool {
	switch c.typ {
	case logmodel.LineContains:
		return bytes.Contains(line, c.needle)
	case logmodel.LineNotContains:
		return !bytes.Contains(line, c.needle)
	case logmodel.LineContainsFold:
		return indexFold(line, c.needle) >= 0
	case logmodel.LineNotContainsFold:
		return indexFold(line, c.needle) < 0
	case logmodel.LineRegexp:
		return c.regexpMatch(line)
	case logmodel.LineNotRegexp:
		return !c.regexpMatch(line)
	case logmodel.LineToken:
		return containsToken(line, c.needle, false)
	case logmodel.LineTokenFold:
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
	case logmodel.LineContains, logmodel.LineToken:
		return c.needle, false
	case logmodel.LineContainsFold, logmodel.LineTokenFold:
		return c.needle, true
	case logmodel.LineRegexp:
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
	case logmodel.LineToken, logmodel.LineTokenFold:
		for _, tok := range splitTokens(string(c.needle)) {
			if indexableToken(tok) {
				tokens = append(tokens, tokenHash(tok))
			}
		}
	case logmodel.LineContains, logmodel.LineContainsFold:
		return substringHashes(string(c.needle))
	case logmodel.LineRegexp:
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
