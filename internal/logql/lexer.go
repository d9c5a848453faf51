package logql

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// tokKind is the kind of a lexical token.
type tokKind uint8

const (
	tokEOF tokKind = iota
	tokIdent
	tokString
	tokNumber
	tokDuration
	tokBytes
	tokFlag // --strict, --keep-empty: text holds the name without dashes
	tokLBrace
	tokRBrace
	tokLParen
	tokRParen
	tokLBracket
	tokRBracket
	tokComma
	tokEq       // =
	tokEqEq     // ==
	tokNeq      // !=
	tokRe       // =~
	tokNre      // !~
	tokPipe     // |
	tokPipeEq   // |=
	tokPipeRe   // |~
	tokPipePat  // |>
	tokNotPat   // !>
	tokGt       // >
	tokGte      // >=
	tokLt       // <
	tokLte      // <=
	tokAdd      // +
	tokSub      // -
	tokMul      // *
	tokDiv      // /
	tokMod      // %
	tokPow      // ^
	numTokKinds // must stay last
)

// tokNames are the names used in syntax errors, in the style of Loki's
// yacc-generated messages.
var tokNames = [numTokKinds]string{
	tokEOF:      "end of input",
	tokIdent:    "IDENTIFIER",
	tokString:   "STRING",
	tokNumber:   "NUMBER",
	tokDuration: "DURATION",
	tokBytes:    "BYTES",
	tokFlag:     "FLAG",
	tokLBrace:   "{",
	tokRBrace:   "}",
	tokLParen:   "(",
	tokRParen:   ")",
	tokLBracket: "[",
	tokRBracket: "]",
	tokComma:    ",",
	tokEq:       "=",
	tokEqEq:     "==",
	tokNeq:      "!=",
	tokRe:       "=~",
	tokNre:      "!~",
	tokPipe:     "|",
	tokPipeEq:   "|=",
	tokPipeRe:   "|~",
	tokPipePat:  "|>",
	tokNotPat:   "!>",
	tokGt:       ">",
	tokGte:      ">=",
	tokLt:       "<",
	tokLte:      "<=",
	tokAdd:      "+",
	tokSub:      "-",
	tokMul:      "*",
	tokDiv:      "/",
	tokMod:      "%",
	tokPow:      "^",
}

func (k tokKind) String() string {
	if k < numTokKinds {
		return tokNames[k]
	}
	return fmt.Sprintf("token(%d)", k)
}

// token is one lexical token. For strings, text holds the unquoted value;
// for every other kind it is the source text.
type token struct {
	kind tokKind
	pos  int // byte offset in the query
	text string
}

// describe renders the token for "unexpected ..." messages.
func (t token) describe() string {
	switch t.kind {
	case tokIdent, tokNumber, tokDuration, tokBytes:
		return fmt.Sprintf("%s %q", t.kind, t.text)
	case tokFlag:
		return fmt.Sprintf("%s %q", t.kind, "--"+t.text)
	}
	return t.kind.String()
}

// maxTokens bounds the work a single query can cause.
const maxTokens = 1 << 16

// lex splits a query into tokens, ending with a tokEOF token. Comments run
// from "#" to the end of the line.
func lex(s string) ([]token, error) {
	var toks []token
	i := 0
	for {
		// Skip spaces and comments.
		for i < len(s) {
			c := s[i]
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' {
				i++
				continue
			}
			if c == '#' {
				for i < len(s) && s[i] != '\n' {
					i++
				}
				continue
			}
			break
		}
		if len(toks) >= maxTokens {
			return nil, newParseError(s, i, "query too long")
		}
		if i >= len(s) {
			toks = append(toks, token{kind: tokEOF, pos: i})
			return toks, nil
		}
		t, n, err := lexOne(s, i)
		if err != nil {
			return nil, err
		}
		toks = append(toks, t)
		i += n
	}
}

// two-byte operators, looked up before single bytes.
var twoByteOps = map[string]tokKind{
	"==": tokEqEq, "!=": tokNeq, "=~": tokRe, "!~": tokNre,
	"|=": tokPipeEq, "|~": tokPipeRe, "|>": tokPipePat, "!>": tokNotPat,
	">=": tokGte, "<=": tokLte,
}

var oneByteOps = [256]tokKind{
	'{': tokLBrace, '}': tokRBrace, '(': tokLParen, ')': tokRParen,
	'[': tokLBracket, ']': tokRBracket, ',': tokComma, '=': tokEq,
	'|': tokPipe, '>': tokGt, '<': tokLt, '+': tokAdd, '-': tokSub,
	'*': tokMul, '/': tokDiv, '%': tokMod, '^': tokPow,
}

// lexOne reads the token at s[i:] and returns it with its length in bytes.
func lexOne(s string, i int) (token, int, error) {
	c := s[i]
	switch {
	case c == '"':
		return lexQuoted(s, i)
	case c == '`':
		end := strings.IndexByte(s[i+1:], '`')
		if end < 0 {
			return token{}, 0, newParseError(s, i, "syntax error: unterminated raw string")
		}
		return token{kind: tokString, pos: i, text: s[i+1 : i+1+end]}, end + 2, nil
	case isDigit(c) || (c == '.' && i+1 < len(s) && isDigit(s[i+1])):
		return lexNumber(s, i)
	case isIdentStart(c):
		j := i + 1
		for j < len(s) && isIdentChar(s[j]) {
			j++
		}
		return token{kind: tokIdent, pos: i, text: s[i:j]}, j - i, nil
	case c == '-' && i+2 < len(s) && s[i+1] == '-' && isIdentStart(s[i+2]):
		j := i + 2
		for j < len(s) && (isIdentChar(s[j]) || s[j] == '-') {
			j++
		}
		return token{kind: tokFlag, pos: i, text: s[i+2 : j]}, j - i, nil
	}
	if i+1 < len(s) {
		if k, ok := twoByteOps[s[i:i+2]]; ok {
			return token{kind: k, pos: i, text: s[i : i+2]}, 2, nil
		}
	}
	if k := oneByteOps[c]; k != tokEOF {
		return token{kind: k, pos: i, text: s[i : i+1]}, 1, nil
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return token{}, 0, newParseError(s, i, fmt.Sprintf("syntax error: unexpected character %q", r))
}

// lexQuoted reads a double-quoted string with Go escapes.
func lexQuoted(s string, i int) (token, int, error) {
	j := i + 1
	for j < len(s) {
		switch s[j] {
		case '\\':
			j += 2
			continue
		case '"':
			v, err := strconv.Unquote(s[i : j+1])
			if err != nil {
				return token{}, 0, newParseError(s, i, "syntax error: invalid string: "+err.Error())
			}
			return token{kind: tokString, pos: i, text: v}, j + 1 - i, nil
		}
		j++
	}
	return token{}, 0, newParseError(s, i, "syntax error: unterminated string")
}

// lexNumber reads a number, a duration (5m, 1h30m, 1.5s) or a byte size
// (20MB, 1.5KiB): a number immediately followed by letters is a unit.
func lexNumber(s string, i int) (token, int, error) {
	j := i
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	if j < len(s) && s[j] == '.' {
		j++
		for j < len(s) && isDigit(s[j]) {
			j++
		}
	}
	// An exponent only when digits follow, so that "1e" stays a unit.
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		k := j + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		if k < len(s) && isDigit(s[k]) {
			for k < len(s) && isDigit(s[k]) {
				k++
			}
			j = k
		}
	}
	end := j
	for end < len(s) && (isIdentChar(s[end]) || s[end] == '.' || isMicro(s, end)) {
		if isMicro(s, end) {
			end += len("µ")
			continue
		}
		end++
	}
	text := s[i:end]
	if end == j {
		if _, err := strconv.ParseFloat(text, 64); err != nil {
			return token{}, 0, newParseError(s, i, fmt.Sprintf("syntax error: invalid number %q", text))
		}
		return token{kind: tokNumber, pos: i, text: text}, end - i, nil
	}
	if _, err := parseDuration(text); err == nil {
		return token{kind: tokDuration, pos: i, text: text}, end - i, nil
	}
	if _, err := parseBytes(text); err == nil {
		return token{kind: tokBytes, pos: i, text: text}, end - i, nil
	}
	return token{}, 0, newParseError(s, i, fmt.Sprintf("syntax error: invalid number, duration or size %q", text))
}

func isMicro(s string, i int) bool { return strings.HasPrefix(s[i:], "µ") }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool { return isIdentStart(c) || isDigit(c) }

// isLabelName reports whether s is a valid label name.
func isLabelName(s string) bool {
	if s == "" || !isIdentStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isIdentChar(s[i]) {
			return false
		}
	}
	return true
}

// ParseError is the error ParseExpr returns for a malformed query.
type ParseError struct {
	// Pos is the 0-based byte offset of the problem in the query.
	Pos int
	// Line and Col are 1-based; Col counts characters, not bytes.
	Line, Col int
	// Msg says what was found and what was expected, e.g.
	// `syntax error: unexpected IDENTIFIER "x", expecting STRING`.
	Msg string
}

// Error returns "parse error at line L, col C: Msg", as Loki does.
func (e *ParseError) Error() string {
	return fmt.Sprintf("parse error at line %d, col %d: %s", e.Line, e.Col, e.Msg)
}

func newParseError(src string, pos int, msg string) *ParseError {
	if pos > len(src) {
		pos = len(src)
	}
	line, col := 1, 1
	for _, r := range src[:pos] {
		if r == '\n' {
			line++
			col = 1
			continue
		}
		col++
	}
	return &ParseError{Pos: pos, Line: line, Col: col, Msg: msg}
}
