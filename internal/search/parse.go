package search

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
)

// maxDepth bounds the nesting of parentheses and negations, so that a hostile
// query cannot exhaust the stack.
const maxDepth = 100

// ParseError is the error Parse returns for a malformed query.
type ParseError struct {
	// Pos is the 0-based byte offset in the query where the problem is.
	Pos int
	// Msg says what was expected there, e.g. `expected ")" to close "(" at 3`.
	Msg string
}

// Error returns "at <Pos>: <Msg>".
func (e *ParseError) Error() string { return fmt.Sprintf("at %d: %s", e.Pos, e.Msg) }

func errorf(pos int, format string, args ...any) error {
	return &ParseError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// Parse parses a search expression (see the package documentation for the
// grammar). An empty or all-space query yields MatchAll. Every error is a
// *ParseError. Regular expressions are compiled here, so a returned Expr is
// ready to match.
func Parse(s string) (Expr, error) {
	p := &parser{s: s}
	if err := p.next(); err != nil {
		return nil, err
	}
	if p.tok.kind == kindEOF {
		return MatchAll{}, nil
	}
	e, err := p.parseOr("")
	if err != nil {
		return nil, err
	}
	if p.tok.kind != kindEOF {
		// parseOr stops only at the end or at a ")" it cannot pair.
		return nil, errorf(p.tok.pos, `unexpected ")" without a matching "("`)
	}
	return e, nil
}

type kind uint8

const (
	kindEOF kind = iota
	kindLParen
	kindRParen
	kindAnd
	kindOr
	kindNot
	kindMinus
	kindTerm
)

// lexeme is one lexical item: an operator, a parenthesis or a whole term.
type lexeme struct {
	kind     kind
	pos, end int  // byte range in the query
	term     Expr // for kindTerm
}

type parser struct {
	s     string
	i     int    // the next byte to lex
	tok   lexeme // the current lexeme
	depth int    // open parentheses and negations
}

// startsTerm reports whether the current lexeme can begin an operand.
func (p *parser) startsTerm() bool {
	switch p.tok.kind {
	case kindLParen, kindNot, kindMinus, kindTerm:
		return true
	}
	return false
}

// found describes the current lexeme for an error message.
func (p *parser) found() string {
	if p.tok.kind == kindEOF {
		return "end of query"
	}
	return quoteText(p.s[p.tok.pos:p.tok.end])
}

// quoteText quotes s for an error message, shortening it if it is long.
func quoteText(s string) string {
	const maxLen = 32
	if len(s) > maxLen {
		return strconv.Quote(s[:maxLen]) + "..."
	}
	return strconv.Quote(s)
}

// or := and ("OR" and)*
func (p *parser) parseOr(ctx string) (Expr, error) {
	e, err := p.parseAnd(ctx)
	if err != nil || p.tok.kind != kindOr {
		return e, err
	}
	terms := appendOr(nil, e)
	for p.tok.kind == kindOr {
		if err := p.next(); err != nil {
			return nil, err
		}
		e, err := p.parseAnd(`after "OR"`)
		if err != nil {
			return nil, err
		}
		terms = appendOr(terms, e)
	}
	return Or{Terms: terms}, nil
}

// and := not (("AND")? not)*
func (p *parser) parseAnd(ctx string) (Expr, error) {
	e, err := p.parseNot(ctx)
	if err != nil {
		return nil, err
	}
	var terms []Expr
	for {
		opCtx := ""
		switch {
		case p.tok.kind == kindAnd:
			if err := p.next(); err != nil {
				return nil, err
			}
			opCtx = `after "AND"`
		case !p.startsTerm():
			if terms == nil {
				return e, nil
			}
			return And{Terms: terms}, nil
		}
		if terms == nil {
			terms = appendAnd(nil, e)
		}
		next, err := p.parseNot(opCtx)
		if err != nil {
			return nil, err
		}
		terms = appendAnd(terms, next)
	}
}

// appendAnd appends e to terms, splicing in the terms of e when it is an
// And, so that "a (b c)" parses like "a b c".
func appendAnd(terms []Expr, e Expr) []Expr {
	if a, ok := e.(And); ok {
		return append(terms, a.Terms...)
	}
	return append(terms, e)
}

// appendOr is appendAnd for Or.
func appendOr(terms []Expr, e Expr) []Expr {
	if o, ok := e.(Or); ok {
		return append(terms, o.Terms...)
	}
	return append(terms, e)
}

// not := "NOT" not | "-" not | primary
func (p *parser) parseNot(ctx string) (Expr, error) {
	if p.tok.kind != kindNot && p.tok.kind != kindMinus {
		return p.parsePrimary(ctx)
	}
	op := p.s[p.tok.pos:p.tok.end]
	if err := p.enter(); err != nil {
		return nil, err
	}
	if err := p.next(); err != nil {
		return nil, err
	}
	e, err := p.parseNot(fmt.Sprintf("after %q", op))
	if err != nil {
		return nil, err
	}
	p.depth--
	return Not{Expr: e}, nil
}

// primary := "(" or ")" | term
func (p *parser) parsePrimary(ctx string) (Expr, error) {
	switch p.tok.kind {
	case kindTerm:
		e := p.tok.term
		return e, p.next()
	case kindLParen:
		open := p.tok.pos
		if err := p.enter(); err != nil {
			return nil, err
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		e, err := p.parseOr(`after "("`)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != kindRParen {
			return nil, errorf(p.tok.pos, `expected ")" to close "(" at %d`, open)
		}
		p.depth--
		return e, p.next()
	}
	if ctx != "" {
		ctx = " " + ctx
	}
	return nil, errorf(p.tok.pos, "expected a term%s, found %s", ctx, p.found())
}

// enter notes one more level of nesting at the current lexeme.
func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return errorf(p.tok.pos, "expression nested too deeply (more than %d parentheses and negations)", maxDepth)
	}
	return nil
}

// next lexes the lexeme at p.i into p.tok.
func (p *parser) next() error {
	s, i := p.s, p.i
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	p.tok = lexeme{pos: i, end: i + 1}
	switch {
	case i == len(s):
		p.tok = lexeme{kind: kindEOF, pos: i, end: i}
	case s[i] == '(':
		p.tok.kind = kindLParen
	case s[i] == ')':
		p.tok.kind = kindRParen
	case s[i] == '-':
		if i+1 == len(s) || isSpace(s[i+1]) {
			return errorf(i, `expected a term right after "-"; to search for "-", quote it`)
		}
		p.tok.kind = kindMinus
	default:
		term, end, err := p.lexTerm(i)
		if err != nil {
			return err
		}
		p.tok.end = end
		switch s[i:end] {
		case "AND":
			p.tok.kind = kindAnd
		case "OR":
			p.tok.kind = kindOr
		case "NOT":
			p.tok.kind = kindNot
		default:
			p.tok.kind = kindTerm
			p.tok.term = term
		}
	}
	p.i = p.tok.end
	return nil
}

// lexTerm lexes the phrase, field term or word at s[i], which is not a space,
// a parenthesis or '-', and returns it with the offset just past it. A bare
// keyword comes back as a Word; the caller tells it apart.
func (p *parser) lexTerm(i int) (Expr, int, error) {
	s := p.s
	if s[i] == '"' {
		text, end, err := p.lexPhrase(i)
		if err != nil {
			return nil, 0, err
		}
		if text == "" {
			return nil, 0, errorf(i, "empty phrase")
		}
		return Phrase{Text: text}, end, p.checkEnd(end, "the closing quote")
	}
	if colon := fieldNameEnd(s, i); colon >= 0 {
		return p.lexField(i, colon)
	}
	end := i
	for end < len(s) && !isDelim(s[end]) {
		end++
	}
	w := s[i:end]
	if w[len(w)-1] == '*' {
		return nil, 0, errorf(end-1, `"*" is a wildcard only at the end of a field value (field:prefix*); to search for %s literally, quote it`, quoteText(w))
	}
	if isSingleToken(w) {
		return Word{Text: w}, end, nil
	}
	return Phrase{Text: w}, end, nil
}

// lexField lexes the value of the field whose name is s[i:colon].
func (p *parser) lexField(i, colon int) (Expr, int, error) {
	s := p.s
	name := s[i:colon]
	v := colon + 1
	if v == len(s) || isDelim(s[v]) {
		return nil, 0, errorf(v, `expected a value after "%s:"; to search for the text, quote it: "%s:"`, name, name)
	}
	switch s[v] {
	case '"':
		text, end, err := p.lexPhrase(v)
		if err != nil {
			return nil, 0, err
		}
		if end < len(s) && s[end] == '*' {
			return FieldPrefix{Name: name, Prefix: text}, end + 1, p.checkEnd(end+1, `"*"`)
		}
		return Field{Name: name, Value: text}, end, p.checkEnd(end, "the closing quote")
	case '/':
		src, end, err := p.lexRegex(v)
		if err != nil {
			return nil, 0, err
		}
		if src == "" {
			return nil, 0, errorf(v, `empty regex after "%s:"; to search for the text, quote it`, name)
		}
		re, err := regexp.Compile(src)
		if err != nil {
			return nil, 0, errorf(v+1, "invalid regex: %s", regexError(err))
		}
		return FieldRegex{Name: name, Re: re}, end, p.checkEnd(end, "the regex")
	}
	end := v
	for end < len(s) && !isDelim(s[end]) {
		end++
	}
	if s[end-1] == '*' {
		return FieldPrefix{Name: name, Prefix: s[v : end-1]}, end, nil
	}
	return Field{Name: name, Value: s[v:end]}, end, nil
}

// regexError describes a regexp compile error without its generic prefix.
func regexError(err error) string {
	var se *syntax.Error
	if errors.As(err, &se) {
		return fmt.Sprintf("%s: `%s`", se.Code, se.Expr)
	}
	return err.Error()
}

// lexPhrase reads the quoted text that starts at s[open] == '"', undoing the
// escapes \" and \\ (any other backslash is literal), and returns it with the
// offset just past the closing quote.
func (p *parser) lexPhrase(open int) (string, int, error) {
	s := p.s
	start := open + 1
	var buf []byte // nil until the first escape
	for j := start; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			if buf == nil {
				return s[start:j], j + 1, nil
			}
			return string(buf), j + 1, nil
		case c == '\\' && j+1 < len(s) && (s[j+1] == '"' || s[j+1] == '\\'):
			if buf == nil {
				buf = append([]byte(nil), s[start:j]...)
			}
			j++
			buf = append(buf, s[j])
		case buf != nil:
			buf = append(buf, c)
		}
	}
	return "", 0, errorf(len(s), "expected a closing quote for the phrase started at %d", open)
}

// lexRegex reads the regex source that starts at s[open] == '/', turning \/
// into / and keeping every other escape as it is, and returns it with the
// offset just past the closing slash.
func (p *parser) lexRegex(open int) (string, int, error) {
	s := p.s
	var buf []byte
	for j := open + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '/':
			return string(buf), j + 1, nil
		case c == '\\' && j+1 < len(s):
			j++
			if s[j] != '/' {
				buf = append(buf, c)
			}
			buf = append(buf, s[j])
		default:
			buf = append(buf, c)
		}
	}
	return "", 0, errorf(len(s), `expected "/" to close the regex started at %d`, open)
}

// checkEnd returns an error unless s[end] ends a term: the end of the query,
// a space or a parenthesis.
func (p *parser) checkEnd(end int, after string) error {
	if end == len(p.s) || isDelim(p.s[end]) {
		return nil
	}
	stop := end
	for stop < len(p.s) && !isDelim(p.s[stop]) {
		stop++
	}
	return errorf(end, `expected a space, "(" or ")" after %s, found %s`, after, quoteText(p.s[end:stop]))
}

// fieldNameEnd returns the offset of the ':' when s[i:] starts with a field
// name ([a-zA-Z_][a-zA-Z0-9_.]*) followed by ':', and -1 otherwise.
func fieldNameEnd(s string, i int) int {
	if c := s[i]; c != '_' && (lower(c) < 'a' || lower(c) > 'z') {
		return -1
	}
	j := i + 1
	for j < len(s) && (s[j] == '.' || (s[j] < 0x80 && tokenByte[s[j]])) {
		j++
	}
	if j < len(s) && s[j] == ':' {
		return j
	}
	return -1
}
