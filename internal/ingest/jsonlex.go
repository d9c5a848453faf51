package ingest

import (
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonLexer reads JSON in place over a byte slice. Its methods skip leading
// whitespace, do not allocate on success, and report malformed input as a
// *jsonError carrying the byte offset.
type jsonLexer struct {
	buf []byte
	pos int
	// quiet makes every error errQuietJSON, with no message to build, for
	// callers that only need to know that the input is malformed.
	quiet bool
}

// errQuietJSON is the error of a quiet lexer.
var errQuietJSON = errors.New("malformed JSON")

// maxJSONDepth bounds the nesting of skipped values, so hostile input cannot
// exhaust the stack.
const maxJSONDepth = 100

func (l *jsonLexer) fail(msg string) error {
	if l.quiet {
		return errQuietJSON
	}
	return &jsonError{offset: l.pos, msg: msg, syntax: true}
}

func (l *jsonLexer) failf(format string, args ...any) error {
	if l.quiet {
		return errQuietJSON
	}
	return l.fail(fmt.Sprintf(format, args...))
}

// expected reports that the value at the current position is not what was
// wanted.
func (l *jsonLexer) expected(want string) error {
	if l.quiet {
		return errQuietJSON
	}
	return l.fail("expected " + want + ", found " + l.found())
}

// found describes the token at the current position for error messages.
func (l *jsonLexer) found() string {
	if l.pos >= len(l.buf) {
		return "end of input"
	}
	switch c := l.buf[l.pos]; {
	case c == '"':
		return "string"
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case l.isLiteral("true") || l.isLiteral("false"):
		return "boolean"
	case l.isLiteral("null"):
		return "null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "number"
	case c >= 0x20 && c < 0x7f:
		return fmt.Sprintf("%q", c)
	default:
		return fmt.Sprintf("byte 0x%02x", c)
	}
}

func (l *jsonLexer) ws() {
	for l.pos < len(l.buf) && isSpace(l.buf[l.pos]) {
		l.pos++
	}
}

// peek skips whitespace and returns the next byte, or 0 at the end.
func (l *jsonLexer) peek() byte {
	l.ws()
	if l.pos < len(l.buf) {
		return l.buf[l.pos]
	}
	return 0
}

// enter consumes the opening bracket of an object ('{') or array ('[').
func (l *jsonLexer) enter(open byte) error {
	if l.peek() != open {
		if open == '{' {
			return l.expected("object")
		}
		return l.expected("array")
	}
	l.pos++
	return nil
}

// more reports whether the container being read has another element. At the
// end it consumes the closing bracket and returns false; before every element
// but the first it consumes the separating comma.
func (l *jsonLexer) more(closing byte, first bool) (bool, error) {
	c := l.peek()
	if c == closing {
		l.pos++
		return false, nil
	}
	if first {
		return true, nil
	}
	if c != ',' {
		if closing == '}' {
			return false, l.expected("',' or '}'")
		}
		return false, l.expected("',' or ']'")
	}
	l.pos++
	return true, nil
}

// key reads an object key and the colon after it, returning the raw
// (still escaped) key bytes.
func (l *jsonLexer) key() ([]byte, error) {
	k, _, err := l.str()
	if err != nil {
		return nil, err
	}
	if l.peek() != ':' {
		return nil, l.expected("':' after object key")
	}
	l.pos++
	return k, nil
}

// strStop marks the bytes that end the fast scan of a string: the closing
// quote, a backslash, and control characters, which JSON forbids raw.
var strStop = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// str reads a string and returns its raw bytes between the quotes, and
// whether they contain escapes (decode them with unescape). The raw bytes
// alias the input.
func (l *jsonLexer) str() (raw []byte, escaped bool, err error) {
	if l.peek() != '"' {
		return nil, false, l.expected("string")
	}
	start := l.pos + 1
	b := l.buf
	for i := start; i < len(b); i++ {
		if !strStop[b[i]] {
			continue
		}
		switch c := b[i]; {
		case c == '"':
			l.pos = i + 1
			return b[start:i], escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(b) {
				break
			}
			i++
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) || !isHex4(b[i+1:i+5]) {
					l.pos = i - 1
					return nil, false, l.fail(`invalid \u escape in string`)
				}
				i += 4
			default:
				l.pos = i - 1
				return nil, false, l.failf("invalid escape '\\%c' in string", b[i])
			}
		default:
			l.pos = i
			return nil, false, l.failf("control character 0x%02x in string", c)
		}
	}
	l.pos = len(b)
	return nil, false, l.fail("unterminated string")
}

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
			return false
		}
	}
	return true
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// unescape appends the decoded form of raw, as validated by str, to dst.
// Unpaired surrogates become U+FFFD, as in encoding/json; other bytes,
// including invalid UTF-8, are kept as they are.
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		switch raw[i] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(raw[i+1:])
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if i+2 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
					r2 = utf16.DecodeRune(r, hex4(raw[i+3:]))
				}
				if r2 != utf8.RuneError {
					i += 6
					r = r2
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, raw[i])
		}
	}
	return dst
}

// number reads a number and returns its raw bytes.
func (l *jsonLexer) number() ([]byte, error) {
	l.ws()
	b, start := l.buf, l.pos
	i := start
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i)
	default:
		l.pos = i
		return nil, l.expected("digit")
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			l.pos = j
			return nil, l.expected("digit after decimal point")
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			l.pos = j
			return nil, l.expected("digit in exponent")
		}
		i = j
	}
	l.pos = i
	return b[start:i], nil
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// isLiteral reports whether the input at the current position is w.
func (l *jsonLexer) isLiteral(w string) bool {
	rest := l.buf[l.pos:]
	return len(rest) >= len(w) && string(rest[:len(w)]) == w
}

// literal consumes true, false or null.
func (l *jsonLexer) literal() error {
	for _, w := range [...]string{"true", "false", "null"} {
		if l.isLiteral(w) {
			l.pos += len(w)
			return nil
		}
	}
	return l.expected("value")
}

// skipValue consumes one value of any type, validating it.
func (l *jsonLexer) skipValue(depth int) error {
	switch c := l.peek(); {
	case c == '"':
		_, _, err := l.str()
		return err
	case c == '{' || c == '[':
		if depth >= maxJSONDepth {
			return l.fail("nesting too deep")
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		l.pos++
		for first := true; ; first = false {
			more, err := l.more(closing, first)
			if err != nil || !more {
				return err
			}
			if c == '{' {
				if _, err := l.key(); err != nil {
					return err
				}
			}
			if err := l.skipValue(depth + 1); err != nil {
				return err
			}
		}
	case c == '-' || (c >= '0' && c <= '9'):
		_, err := l.number()
		return err
	default:
		return l.literal()
	}
}

// end checks that only whitespace follows the top-level value.
func (l *jsonLexer) end() error {
	if l.peek() != 0 || l.pos < len(l.buf) {
		return l.expected("end of input")
	}
	return nil
}
