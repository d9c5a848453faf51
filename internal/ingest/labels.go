package ingest

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// ErrBadLabels is wrapped by every error ParseLabels returns.
var ErrBadLabels = errors.New("bad label syntax")

// ParseLabels parses a stream label set written as in Loki push requests
// and Prometheus: {name="value", other="v"}. Values are double-quoted with
// Go escapes (\n, \", \u00e9, ...) or backquoted raw strings and must be valid
// UTF-8; names must match [a-zA-Z_][a-zA-Z0-9_]*. Only '=' is allowed, a
// trailing comma is accepted, and a name may appear once. Labels with an
// empty value are dropped, as in Prometheus, so the result may be empty.
//
// The result is sorted by name. Its strings may share memory with s.
// Errors wrap ErrBadLabels and give the byte position; an invalid name also
// wraps *logmodel.ErrInvalidLabel.
func ParseLabels(s string) (logmodel.Labels, error) {
	p := labelParser{s: s}
	p.ws()
	if !p.eat('{') {
		return nil, p.fail("expected '{'")
	}
	ls := make(logmodel.Labels, 0, strings.Count(s, "="))
	for first := true; ; first = false {
		p.ws()
		if p.eat('}') {
			break
		}
		if !first {
			if !p.eat(',') {
				return nil, p.fail("expected ',' or '}'")
			}
			p.ws()
			if p.eat('}') {
				break
			}
		}
		l, err := p.label()
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
	}
	p.ws()
	if p.pos < len(s) {
		return nil, p.fail("unexpected text after '}'")
	}
	return finishLabels(ls)
}

// finishLabels sorts ls, rejects repeated names and drops empty values.
func finishLabels(ls logmodel.Labels) (logmodel.Labels, error) {
	slices.SortFunc(ls, func(a, b logmodel.Label) int { return strings.Compare(a.Name, b.Name) })
	out := ls[:0]
	for i, l := range ls {
		if i > 0 && ls[i-1].Name == l.Name {
			return nil, fmt.Errorf("%w: duplicate label name %q", ErrBadLabels, l.Name)
		}
		if l.Value != "" {
			out = append(out, l)
		}
	}
	return out, nil
}

// labelParser holds the position in a label string.
type labelParser struct {
	s   string
	pos int
}

func (p *labelParser) fail(msg string) error {
	return fmt.Errorf("%w at position %d: %s", ErrBadLabels, p.pos, msg)
}

func (p *labelParser) ws() {
	for p.pos < len(p.s) && isSpace(p.s[p.pos]) {
		p.pos++
	}
}

func (p *labelParser) eat(c byte) bool {
	if p.pos < len(p.s) && p.s[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

// labelNameStop marks the bytes that end a label name. Anything else is read
// as part of the name, so that an invalid name is reported whole.
var labelNameStop = func() (t [256]bool) {
	for _, c := range []byte(" \t\r\n=!~,{}\"`") {
		t[c] = true
	}
	return t
}()

// label reads name="value".
func (p *labelParser) label() (logmodel.Label, error) {
	start := p.pos
	for p.pos < len(p.s) && !labelNameStop[p.s[p.pos]] {
		p.pos++
	}
	name := p.s[start:p.pos]
	if name == "" {
		return logmodel.Label{}, p.fail("expected label name")
	}
	if !logmodel.ValidLabelName(name) {
		return logmodel.Label{}, fmt.Errorf("%w at position %d: %w", ErrBadLabels, start, &logmodel.ErrInvalidLabel{Name: name})
	}
	p.ws()
	if p.pos < len(p.s) && (p.s[p.pos] == '!' || strings.HasPrefix(p.s[p.pos:], "=~")) {
		return logmodel.Label{}, p.fail("only '=' is allowed in a stream label set")
	}
	if !p.eat('=') {
		return logmodel.Label{}, p.fail("expected '=' after label name")
	}
	p.ws()
	value, err := p.value()
	if err != nil {
		return logmodel.Label{}, err
	}
	return logmodel.Label{Name: name, Value: value}, nil
}

// value reads a double-quoted or backquoted string.
func (p *labelParser) value() (string, error) {
	start := p.pos
	var v string
	switch {
	case p.eat('`'):
		end := strings.IndexByte(p.s[p.pos:], '`')
		if end < 0 {
			return "", p.fail("unterminated raw string")
		}
		v = p.s[p.pos : p.pos+end]
		p.pos += end + 1
	case p.eat('"'):
		end, escaped, err := p.closingQuote()
		if err != nil {
			return "", err
		}
		v = p.s[p.pos:end]
		p.pos = end + 1
		if escaped {
			u, err := strconv.Unquote(p.s[start:p.pos])
			if err != nil {
				p.pos = start
				return "", p.fail("bad escape in label value")
			}
			v = u
		}
	default:
		return "", p.fail("expected '\"' to open label value")
	}
	if !utf8.ValidString(v) {
		p.pos = start
		return "", p.fail("label value is not valid UTF-8")
	}
	return v, nil
}

// closingQuote finds the quote that ends the double-quoted string starting at
// the current position, and whether the string has escapes.
func (p *labelParser) closingQuote() (end int, escaped bool, err error) {
	rest := p.s[p.pos:]
	if i := strings.IndexByte(rest, '"'); i >= 0 && strings.IndexByte(rest[:i], '\\') < 0 {
		if nl := strings.IndexByte(rest[:i], '\n'); nl >= 0 {
			p.pos += nl
			return 0, false, p.fail("newline in label value")
		}
		return p.pos + i, false, nil
	}
	for i := p.pos; i < len(p.s); i++ {
		switch p.s[i] {
		case '\\':
			escaped = true
			i++
		case '\n':
			p.pos = i
			return 0, false, p.fail("newline in label value")
		case '"':
			return i, escaped, nil
		}
	}
	p.pos = len(p.s)
	return 0, false, p.fail("unterminated label value")
}

// labelsCacheSize bounds the label strings remembered across requests: a
// pusher sends the same few hundred or thousand stream label strings again
// and again, and parsing them was a fifth of a protobuf push's cost.
const labelsCacheSize = 8192

// labelsCache maps stream label strings to their parsed, immutable labels.
var labelsCache = struct {
	sync.RWMutex
	m map[string]logmodel.Labels
}{m: make(map[string]logmodel.Labels)}

// parseLabelsCached is ParseLabels of string(b), remembering valid results.
// The labels returned are shared: callers must not modify them.
func parseLabelsCached(b []byte) (logmodel.Labels, error) {
	labelsCache.RLock()
	ls, ok := labelsCache.m[string(b)]
	labelsCache.RUnlock()
	if ok {
		return ls, nil
	}
	s := string(b)
	ls, err := ParseLabels(s)
	if err != nil {
		return nil, err
	}
	labelsCache.Lock()
	if len(labelsCache.m) >= labelsCacheSize {
		clear(labelsCache.m)
	}
	labelsCache.m[s] = ls
	labelsCache.Unlock()
	return ls, nil
}
