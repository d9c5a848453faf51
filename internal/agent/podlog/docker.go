package podlog

import (
	"bytes"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// dockerChunk is the most text Docker writes in one record; it splits
// longer lines into partial records of this size.
const dockerChunk = 16 << 10

// maxJSONDepth bounds the nesting of the values a Docker record may hold
// besides its three fields (Docker's "attrs" is one level deep).
const maxJSONDepth = 64

// dockerRecordMax returns the length of the longest Docker record a decoder
// reads: text of max(maxLine, 16 KiB) bytes, each escaped to six, and 64 KiB
// for the other fields. A longer record is malformed (ErrTooLong), so that a
// file without newlines cannot make the decoder buffer without bound.
func dockerRecordMax(maxLine int) int {
	return 6*max(maxLine, dockerChunk) + 64<<10
}

// jsonString is a string value of a record: its bytes between the quotes,
// whether they hold escapes, and whether the field was present.
type jsonString struct {
	raw     []byte
	escaped bool
	set     bool
}

// decodeDocker decodes one Docker record, without its newline, and joins
// it. Fields other than log, stream and time are checked and skipped; of a
// field given twice the last counts, as encoding/json has it.
func (d *Decoder) decodeDocker(rec []byte, start int64, cut bool) (Line, bool, error) {
	if cut {
		return Line{}, false, fmt.Errorf("%w: longer than %d bytes", ErrTooLong, d.keep)
	}
	var logV, streamV, timeV jsonString
	i := skipSpace(rec, 0)
	if i >= len(rec) || rec[i] != '{' {
		return Line{}, false, badJSON("expected {", i)
	}
	i = skipSpace(rec, i+1)
	if i < len(rec) && rec[i] == '}' {
		i++
	} else {
		for {
			if i >= len(rec) || rec[i] != '"' {
				return Line{}, false, badJSON("expected a key", i)
			}
			key, esc, end, ok := scanString(rec, i)
			if !ok {
				return Line{}, false, badJSON("bad string", i)
			}
			if esc {
				d.scratch = unescape(d.scratch[:0], key)
				key = d.scratch
			}
			var field *jsonString
			switch string(key) {
			case "log":
				field = &logV
			case "stream":
				field = &streamV
			case "time":
				field = &timeV
			}
			i = skipSpace(rec, end)
			if i >= len(rec) || rec[i] != ':' {
				return Line{}, false, badJSON("expected :", i)
			}
			i = skipSpace(rec, i+1)
			if field != nil {
				if i >= len(rec) || rec[i] != '"' {
					return Line{}, false, badJSON("expected a string", i)
				}
				raw, esc, end, ok := scanString(rec, i)
				if !ok {
					return Line{}, false, badJSON("bad string", i)
				}
				*field = jsonString{raw: raw, escaped: esc, set: true}
				i = end
			} else {
				end, ok := skipValue(rec, i, 0)
				if !ok {
					return Line{}, false, badJSON("bad value", i)
				}
				i = end
			}
			i = skipSpace(rec, i)
			if i < len(rec) && rec[i] == ',' {
				i = skipSpace(rec, i+1)
				continue
			}
			if i < len(rec) && rec[i] == '}' {
				i++
				break
			}
			return Line{}, false, badJSON("expected , or }", i)
		}
	}
	if i = skipSpace(rec, i); i != len(rec) {
		return Line{}, false, badJSON("text after the object", i)
	}
	if !logV.set {
		return Line{}, false, fmt.Errorf("%w: no log field", ErrBadJSON)
	}
	if !streamV.set {
		return Line{}, false, ErrBadStream
	}
	if !timeV.set {
		return Line{}, false, ErrBadTimestamp
	}
	stream, ok := d.dockerStream(streamV)
	if !ok {
		return Line{}, false, ErrBadStream
	}
	ts, ok := parseTimestamp(d.value(timeV))
	if !ok {
		return Line{}, false, ErrBadTimestamp
	}
	text := d.value(logV)
	isPartial := len(text) == 0 || text[len(text)-1] != '\n'
	if !isPartial {
		text = text[:len(text)-1]
	}
	line, done := d.join(stream, ts, text, isPartial, start)
	return line, done, nil
}

// dockerStream returns the index of the stream a record names.
func (d *Decoder) dockerStream(v jsonString) (int, bool) {
	switch string(d.value(v)) {
	case Stdout:
		return 0, true
	case Stderr:
		return 1, true
	}
	return 0, false
}

// value returns a string value's bytes, unescaped into d.scratch if it holds
// escapes; the result is valid until the next use of d.scratch.
func (d *Decoder) value(v jsonString) []byte {
	if !v.escaped {
		return v.raw
	}
	d.scratch = unescape(d.scratch[:0], v.raw)
	return d.scratch
}

// badJSON returns the error of a record that is not the JSON it should be.
func badJSON(what string, at int) error {
	return fmt.Errorf("%w: %s at byte %d", ErrBadJSON, what, at)
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// scanString checks the JSON string starting at b[i], a quote, and returns
// its bytes between the quotes, whether they hold escapes, and the index
// after the closing quote. Bytes that are not UTF-8 are allowed and kept.
func scanString(b []byte, i int) (raw []byte, escaped bool, end int, ok bool) {
	for j := i + 1; j < len(b); {
		for j < len(b) && plain[b[j]] {
			j++
		}
		if j == len(b) {
			break
		}
		c := b[j]
		switch {
		case c == '"':
			return b[i+1 : j], escaped, j + 1, true
		case c == '\\':
			escaped = true
			if j+1 >= len(b) {
				return nil, false, 0, false
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(b) {
					return nil, false, 0, false
				}
				if _, ok := hex4(b[j+2 : j+6]); !ok {
					return nil, false, 0, false
				}
				j += 6
			default:
				return nil, false, 0, false
			}
		case c < 0x20:
			return nil, false, 0, false
		default:
			j++
		}
	}
	return nil, false, 0, false
}

// plain marks the bytes a JSON string holds as themselves: all but the
// quote, the backslash and control characters.
var plain = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= 0x20 && c != '"' && c != '\\'
	}
	return t
}()

// hex4 reads the four hex digits of a \u escape.
func hex4(b []byte) (rune, bool) {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// unescape appends the JSON string bytes raw, checked by scanString, to dst
// with their escapes decoded. A \u escape of half a surrogate pair that is
// not followed by its other half becomes U+FFFD, as in encoding/json.
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		if raw[i] != '\\' {
			j := bytes.IndexByte(raw[i:], '\\')
			if j < 0 {
				return append(dst, raw[i:]...)
			}
			dst = append(dst, raw[i:i+j]...)
			i += j
			continue
		}
		c := raw[i+1]
		i += 2
		switch c {
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
			r, _ := hex4(raw[i : i+4])
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					r2, _ = hex4(raw[i+2 : i+6])
				}
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// skipValue checks the JSON value starting at b[i] and returns the index
// after it.
func skipValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch c := b[i]; {
	case c == '"':
		_, _, end, ok := scanString(b, i)
		return end, ok
	case c == '{' || c == '[':
		if depth >= maxJSONDepth {
			return 0, false
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == closer {
			return i + 1, true
		}
		for {
			if c == '{' {
				if i >= len(b) || b[i] != '"' {
					return 0, false
				}
				_, _, end, ok := scanString(b, i)
				if !ok {
					return 0, false
				}
				i = skipSpace(b, end)
				if i >= len(b) || b[i] != ':' {
					return 0, false
				}
				i = skipSpace(b, i+1)
			}
			end, ok := skipValue(b, i, depth+1)
			if !ok {
				return 0, false
			}
			i = skipSpace(b, end)
			if i < len(b) && b[i] == ',' {
				i = skipSpace(b, i+1)
				continue
			}
			if i < len(b) && b[i] == closer {
				return i + 1, true
			}
			return 0, false
		}
	case c == '-' || (c >= '0' && c <= '9'):
		return skipNumber(b, i)
	}
	for _, lit := range [...]string{"true", "false", "null"} {
		if bytes.HasPrefix(b[i:], []byte(lit)) {
			return i + len(lit), true
		}
	}
	return 0, false
}

// skipNumber checks the JSON number starting at b[i] and returns the index
// after it.
func skipNumber(b []byte, i int) (int, bool) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i)
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return 0, false
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
			return 0, false
		}
		i = j
	}
	return i, true
}

// skipDigits returns the index of the first byte at or after i that is not
// a digit.
func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}
