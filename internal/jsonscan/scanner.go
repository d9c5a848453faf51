package jsonscan

import (
	"errors"
	"fmt"
)

// Scanner reads strict JSON in place. Its methods skip leading whitespace,
// do not allocate on success, and report malformed input as a *SyntaxError
// carrying the byte offset. Buf is the input and Pos the offset of the next
// byte to read; callers may read both and move Pos back to a position the
// Scanner reported.
type Scanner struct {
	Buf []byte
	Pos int
	// Quiet makes every error ErrMalformed, with no message to build, for
	// callers that only need to know that the input is malformed.
	Quiet bool
}

// ErrMalformed is the error of a quiet Scanner.
var ErrMalformed = errors.New("malformed JSON")

// SyntaxError is malformed input: Msg says what was wrong at byte Offset.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("malformed JSON at offset %d: %s", e.Offset, e.Msg)
}

// maxDepth bounds the nesting of skipped values, so hostile input cannot
// exhaust the stack.
const maxDepth = 100

func (s *Scanner) fail(msg string) error {
	if s.Quiet {
		return ErrMalformed
	}
	return &SyntaxError{Offset: s.Pos, Msg: msg}
}

func (s *Scanner) failf(format string, args ...any) error {
	if s.Quiet {
		return ErrMalformed
	}
	return s.fail(fmt.Sprintf(format, args...))
}

// expected reports that the value at the current position is not what was
// wanted.
func (s *Scanner) expected(want string) error {
	if s.Quiet {
		return ErrMalformed
	}
	return s.fail("expected " + want + ", found " + s.Found())
}

// Found describes the token at the current position for error messages:
// "string", "object", "end of input", "'x'" and so on.
func (s *Scanner) Found() string {
	if s.Pos >= len(s.Buf) {
		return "end of input"
	}
	switch c := s.Buf[s.Pos]; {
	case c == '"':
		return "string"
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case s.isLiteral("true") || s.isLiteral("false"):
		return "boolean"
	case s.isLiteral("null"):
		return "null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "number"
	case c >= 0x20 && c < 0x7f:
		return fmt.Sprintf("%q", c)
	default:
		return fmt.Sprintf("byte 0x%02x", c)
	}
}

// SkipSpace moves past JSON whitespace.
func (s *Scanner) SkipSpace() {
	for s.Pos < len(s.Buf) && isSpace(s.Buf[s.Pos]) {
		s.Pos++
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// Peek skips whitespace and returns the next byte, or 0 at the end.
func (s *Scanner) Peek() byte {
	s.SkipSpace()
	if s.Pos < len(s.Buf) {
		return s.Buf[s.Pos]
	}
	return 0
}

// Enter consumes the opening bracket of an object ('{') or array ('[').
func (s *Scanner) Enter(open byte) error {
	if s.Peek() != open {
		if open == '{' {
			return s.expected("object")
		}
		return s.expected("array")
	}
	s.Pos++
	return nil
}

// More reports whether the container being read has another element. At the
// end it consumes the closing bracket and returns false; before every element
// but the first it consumes the separating comma.
func (s *Scanner) More(closing byte, first bool) (bool, error) {
	c := s.Peek()
	if c == closing {
		s.Pos++
		return false, nil
	}
	if first {
		return true, nil
	}
	if c != ',' {
		if closing == '}' {
			return false, s.expected("',' or '}'")
		}
		return false, s.expected("',' or ']'")
	}
	s.Pos++
	return true, nil
}

// Key reads an object key and the colon after it, returning the raw
// (still escaped) key bytes.
func (s *Scanner) Key() ([]byte, error) {
	k, _, err := s.RawString()
	if err != nil {
		return nil, err
	}
	if s.Peek() != ':' {
		return nil, s.expected("':' after object key")
	}
	s.Pos++
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

// RawString reads a string and returns its raw bytes between the quotes,
// and whether they contain escapes (decode them with Unescape). The raw
// bytes alias the input.
func (s *Scanner) RawString() (raw []byte, escaped bool, err error) {
	if s.Peek() != '"' {
		return nil, false, s.expected("string")
	}
	start := s.Pos + 1
	b := s.Buf
	for i := start; i < len(b); i++ {
		if !strStop[b[i]] {
			continue
		}
		switch c := b[i]; {
		case c == '"':
			s.Pos = i + 1
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
					s.Pos = i - 1
					return nil, false, s.fail(`invalid \u escape in string`)
				}
				i += 4
			default:
				s.Pos = i - 1
				return nil, false, s.failf("invalid escape '\\%c' in string", b[i])
			}
		default:
			s.Pos = i
			return nil, false, s.failf("control character 0x%02x in string", c)
		}
	}
	s.Pos = len(b)
	return nil, false, s.fail("unterminated string")
}

// Number reads a number and returns its raw bytes.
func (s *Scanner) Number() ([]byte, error) {
	s.SkipSpace()
	b, start := s.Buf, s.Pos
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
		s.Pos = i
		return nil, s.expected("digit")
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			s.Pos = j
			return nil, s.expected("digit after decimal point")
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
			s.Pos = j
			return nil, s.expected("digit in exponent")
		}
		i = j
	}
	s.Pos = i
	return b[start:i], nil
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// isLiteral reports whether the input at the current position is w.
func (s *Scanner) isLiteral(w string) bool {
	rest := s.Buf[s.Pos:]
	return len(rest) >= len(w) && string(rest[:len(w)]) == w
}

// Literal consumes true, false or null.
func (s *Scanner) Literal() error {
	for _, w := range [...]string{"true", "false", "null"} {
		if s.isLiteral(w) {
			s.Pos += len(w)
			return nil
		}
	}
	return s.expected("value")
}

// SkipValue consumes one value of any type, validating it. depth is the
// nesting of the value, 0 at the top; past 100 levels it fails.
func (s *Scanner) SkipValue(depth int) error {
	switch c := s.Peek(); {
	case c == '"':
		_, _, err := s.RawString()
		return err
	case c == '{' || c == '[':
		if depth >= maxDepth {
			return s.fail("nesting too deep")
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		s.Pos++
		for first := true; ; first = false {
			more, err := s.More(closing, first)
			if err != nil || !more {
				return err
			}
			if c == '{' {
				if _, err := s.Key(); err != nil {
					return err
				}
			}
			if err := s.SkipValue(depth + 1); err != nil {
				return err
			}
		}
	case c == '-' || (c >= '0' && c <= '9'):
		_, err := s.Number()
		return err
	default:
		return s.Literal()
	}
}

// End checks that only whitespace follows the top-level value.
func (s *Scanner) End() error {
	if s.Peek() != 0 || s.Pos < len(s.Buf) {
		return s.expected("end of input")
	}
	return nil
}
