package tail

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// The filter language of tail sessions:
//
//	filter  = [ or ] .
//	or      = and { "or" and } .
//	and     = unary { [ "and" ] unary } .       side by side means and
//	unary   = "not" unary | "(" or ")" | compare | text .
//	compare = key op value .
//	key     = [a-zA-Z_][a-zA-Z0-9_.]* .
//	op      = "=" | "!=" | "=~" | "!~" .
//	value   = bare | quoted .
//	text    = quoted .
//	bare    = one or more bytes other than space, "(", ")", quote characters .
//	quoted  = a Go string literal: "..." with escapes, or `...` .
//
// Keywords (and, or, not) are case-insensitive. A key is a stream label
// (namespace, pod, container, app, cluster, node, ...) or a structured
// metadata key (level, stream, restart, ...); msg and message mean the line.
// A missing key compares as the empty string. = and != compare exactly, level
// ignoring case; =~ and !~ are RE2 regexps, anchored for labels and metadata,
// unanchored for msg. A quoted text alone matches lines containing it,
// ignoring case.
//
// This is not the search language of POST /api/v1/logs/search, and cannot
// be: the seed's filters (level=error) and every stored session's filter are
// written in this grammar, and the same text means something else in
// search, where = is not an operator, only upper-case AND, OR and NOT are
// keywords, an absent field matches nothing and regexps are unanchored.
// Here an absent key compares as "" and label regexps are anchored, as in
// LogQL's matchers, which tail clients use beside it.
// TestFilterIsNotTheSearchLanguage pins each difference.

// Filter is a parsed filter. The zero-value-free nil *Filter matches all.
type Filter struct {
	root node
	src  string
}

// Match reports whether an entry passes the filter.
func (f *Filter) Match(labels, metadata logmodel.Labels, line []byte) bool {
	if f == nil || f.root == nil {
		return true
	}
	return f.root.match(record{labels: labels, md: metadata, line: line})
}

// String returns the filter as written.
func (f *Filter) String() string {
	if f == nil {
		return ""
	}
	return f.src
}

// Equalities returns the label equalities that every matching entry
// satisfies (top-level ands of key=value on keys other than msg and level), so
// that a reader can select streams before reading lines.
func (f *Filter) Equalities() map[string]string {
	out := map[string]string{}
	if f == nil {
		return out
	}
	var walk func(n node)
	walk = func(n node) {
		switch n := n.(type) {
		case *andNode:
			for _, c := range n.kids {
				walk(c)
			}
		case *cmpNode:
			if n.op == "=" && !n.isLine && n.key != logmodel.MetaLevel {
				out[n.key] = n.value
			}
		}
	}
	walk(f.root)
	return out
}

// ParseError says where a filter is wrong.
type ParseError struct {
	Pos int
	Msg string
}

func (e *ParseError) Error() string { return fmt.Sprintf("at %d: %s", e.Pos, e.Msg) }

type record struct {
	labels, md logmodel.Labels
	line       []byte
}

func (r record) get(key string) string {
	for _, l := range r.labels {
		if l.Name == key {
			return l.Value
		}
	}
	for _, l := range r.md {
		if l.Name == key {
			return l.Value
		}
	}
	return ""
}

type node interface{ match(r record) bool }

type andNode struct{ kids []node }

func (n *andNode) match(r record) bool {
	for _, k := range n.kids {
		if !k.match(r) {
			return false
		}
	}
	return true
}

type orNode struct{ kids []node }

func (n *orNode) match(r record) bool {
	for _, k := range n.kids {
		if k.match(r) {
			return true
		}
	}
	return false
}

type notNode struct{ kid node }

func (n *notNode) match(r record) bool { return !n.kid.match(r) }

type textNode struct{ lower []byte }

func (n *textNode) match(r record) bool { return containsFold(r.line, n.lower) }

type cmpNode struct {
	key, op, value string
	isLine         bool
	re             *regexp.Regexp
}

func (n *cmpNode) match(r record) bool {
	if n.isLine {
		switch n.op {
		case "=":
			return string(r.line) == n.value
		case "!=":
			return string(r.line) != n.value
		case "=~":
			return n.re.Match(r.line)
		default:
			return !n.re.Match(r.line)
		}
	}
	v := r.get(n.key)
	switch n.op {
	case "=":
		if n.key == logmodel.MetaLevel {
			return strings.EqualFold(v, n.value)
		}
		return v == n.value
	case "!=":
		if n.key == logmodel.MetaLevel {
			return !strings.EqualFold(v, n.value)
		}
		return v != n.value
	case "=~":
		return n.re.MatchString(v)
	default:
		return !n.re.MatchString(v)
	}
}

// containsFold reports whether s contains lower (lowercase) ignoring ASCII
// case. It jumps between candidate first bytes with IndexByte.
func containsFold(s, lower []byte) bool {
	if len(lower) == 0 {
		return true
	}
	first, upper := lower[0], lower[0]
	if first >= 'a' && first <= 'z' {
		upper = first - 'a' + 'A'
	}
	for i := 0; i+len(lower) <= len(s); {
		j := bytes.IndexByte(s[i:len(s)-len(lower)+1], first)
		if upper != first {
			if k := bytes.IndexByte(s[i:len(s)-len(lower)+1], upper); k >= 0 && (j < 0 || k < j) {
				j = k
			}
		}
		if j < 0 {
			return false
		}
		i += j
		if equalFoldLower(s[i+1:i+len(lower)], lower[1:]) {
			return true
		}
		i++
	}
	return false
}

func equalFoldLower(s, lower []byte) bool {
	for i, c := range s {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

const maxDepth = 100

// ParseFilter parses a filter; the empty string matches everything.
func ParseFilter(s string) (*Filter, error) {
	p := &parser{s: s}
	p.skip()
	if p.pos == len(s) {
		return &Filter{src: s}, nil
	}
	n, err := p.or(0)
	if err != nil {
		return nil, err
	}
	p.skip()
	if p.pos < len(s) {
		if s[p.pos] == ')' {
			return nil, &ParseError{Pos: p.pos, Msg: `unexpected ")" without a matching "("`}
		}
		return nil, &ParseError{Pos: p.pos, Msg: fmt.Sprintf("unexpected %q; expected and, or, or the end", p.peekWord())}
	}
	return &Filter{root: n, src: s}, nil
}

type parser struct {
	s   string
	pos int
}

func (p *parser) skip() {
	for p.pos < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.pos]) >= 0 {
		p.pos++
	}
}

func (p *parser) peekWord() string {
	end := p.pos
	for end < len(p.s) && strings.IndexByte(" \t\r\n()", p.s[end]) < 0 {
		end++
	}
	if end == p.pos && end < len(p.s) {
		end++
	}
	return p.s[p.pos:end]
}

// keyword consumes kw (case-insensitive) when it stands as a whole word.
func (p *parser) keyword(kw string) bool {
	p.skip()
	w := p.peekWord()
	if strings.EqualFold(w, kw) {
		p.pos += len(w)
		return true
	}
	return false
}

func (p *parser) or(depth int) (node, error) {
	first, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	kids := []node{first}
	for p.keyword("or") {
		n, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return &orNode{kids: kids}, nil
}

func (p *parser) and(depth int) (node, error) {
	first, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	kids := []node{first}
	for {
		p.skip()
		if p.pos >= len(p.s) || p.s[p.pos] == ')' {
			break
		}
		if w := p.peekWord(); strings.EqualFold(w, "or") {
			break
		}
		p.keyword("and")
		n, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return &andNode{kids: kids}, nil
}

func (p *parser) unary(depth int) (node, error) {
	if depth > maxDepth {
		return nil, &ParseError{Pos: p.pos, Msg: fmt.Sprintf("nested deeper than %d", maxDepth)}
	}
	p.skip()
	if p.pos >= len(p.s) {
		return nil, &ParseError{Pos: p.pos, Msg: "expected a comparison such as level=error, a quoted text, not or ( at the end"}
	}
	if p.keyword("not") {
		n, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return &notNode{kid: n}, nil
	}
	switch c := p.s[p.pos]; {
	case c == '(':
		open := p.pos
		p.pos++
		n, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		p.skip()
		if p.pos >= len(p.s) || p.s[p.pos] != ')' {
			return nil, &ParseError{Pos: p.pos, Msg: fmt.Sprintf(`expected ")" to close "(" at %d`, open)}
		}
		p.pos++
		return n, nil
	case c == '"' || c == '`':
		s, err := p.quoted()
		if err != nil {
			return nil, err
		}
		return &textNode{lower: bytes.ToLower([]byte(s))}, nil
	case isKeyStart(c):
		return p.compare()
	}
	return nil, &ParseError{Pos: p.pos, Msg: fmt.Sprintf("unexpected %q; expected a comparison such as level=error, a quoted text, not or (", p.peekWord())}
}

func isKeyStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isKeyByte(c byte) bool { return isKeyStart(c) || c >= '0' && c <= '9' || c == '.' }

func (p *parser) compare() (node, error) {
	start := p.pos
	for p.pos < len(p.s) && isKeyByte(p.s[p.pos]) {
		p.pos++
	}
	key := p.s[start:p.pos]
	p.skip()
	var op string
	for _, o := range []string{"=~", "!~", "!=", "="} {
		if strings.HasPrefix(p.s[p.pos:], o) {
			op = o
			break
		}
	}
	if op == "" {
		return nil, &ParseError{Pos: p.pos, Msg: fmt.Sprintf("expected =, !=, =~ or !~ after %q (quote free text: \"%s\")", key, key)}
	}
	p.pos += len(op)
	p.skip()
	valuePos := p.pos
	var value string
	if p.pos < len(p.s) && (p.s[p.pos] == '"' || p.s[p.pos] == '`') {
		v, err := p.quoted()
		if err != nil {
			return nil, err
		}
		value = v
	} else {
		vs := p.pos
		for p.pos < len(p.s) && strings.IndexByte(" \t\r\n()\"`", p.s[p.pos]) < 0 {
			p.pos++
		}
		if p.pos == vs {
			return nil, &ParseError{Pos: p.pos, Msg: fmt.Sprintf("expected a value after %q", key+op)}
		}
		value = p.s[vs:p.pos]
	}
	n := &cmpNode{key: key, op: op, value: value, isLine: key == "msg" || key == "message"}
	if op == "=~" || op == "!~" {
		expr := value
		if !n.isLine {
			expr = "^(?:" + value + ")$"
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, &ParseError{Pos: valuePos, Msg: fmt.Sprintf("bad regexp for %s: %v", key, err)}
		}
		n.re = re
	}
	return n, nil
}

func (p *parser) quoted() (string, error) {
	start := p.pos
	q := p.s[p.pos]
	p.pos++
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c == '\\' && q == '"' {
			p.pos += 2
			continue
		}
		if c == q {
			p.pos++
			v, err := strconv.Unquote(p.s[start:p.pos])
			if err != nil {
				return "", &ParseError{Pos: start, Msg: fmt.Sprintf("bad quoted string: %v", err)}
			}
			return v, nil
		}
		p.pos++
	}
	return "", &ParseError{Pos: start, Msg: "unterminated quoted string"}
}
