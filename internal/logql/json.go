package logql

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/kubelog/kubelog/internal/jsonscan"
)

// maxJSONDepth bounds the nesting the JSON parser follows.
const maxJSONDepth = 64

var errJSONSyntax = errors.New("invalid JSON")

// jsonScanner reads a line for the json and unpack stages, in place and
// without building values. It reads more leniently than the
// jsonscan.Scanner it embeds for its position and whitespace: a string's
// escapes are checked only when a stage decodes the string, so raw control
// characters and unknown escapes in values it skips pass, and a number is
// any word that strconv parses as a float. Which lines get __error__, and
// the __error_details__ they get, are visible to clients: use the methods
// below, not the embedded strict ones.
type jsonScanner struct {
	jsonscan.Scanner
}

func (s *jsonScanner) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d", errJSONSyntax, fmt.Sprintf(format, args...), s.Pos)
}

func (s *jsonScanner) consume(c byte) error {
	if s.Peek() != c {
		return s.errorf("expected %q", c)
	}
	s.Pos++
	return nil
}

// rawString reads a string and returns its bytes between the quotes and
// whether it holds escapes.
func (s *jsonScanner) rawString() ([]byte, bool, error) {
	if err := s.consume('"'); err != nil {
		return nil, false, err
	}
	start, esc := s.Pos, false
	for s.Pos < len(s.Buf) {
		switch s.Buf[s.Pos] {
		case '\\':
			esc = true
			s.Pos += 2
			continue
		case '"':
			raw := s.Buf[start:s.Pos]
			s.Pos++
			return raw, esc, nil
		}
		s.Pos++
	}
	return nil, false, s.errorf("unterminated string")
}

// stringValue reads a string and returns it unescaped.
func (s *jsonScanner) stringValue() (string, error) {
	raw, esc, err := s.rawString()
	if err != nil {
		return "", err
	}
	if !esc {
		return string(raw), nil
	}
	v, ok := unescapeJSON(raw)
	if !ok {
		return "", s.errorf("invalid escape")
	}
	return v, nil
}

// skipValue skips one value of any kind.
func (s *jsonScanner) skipValue(depth int) error {
	if depth > maxJSONDepth {
		return s.errorf("nested too deeply")
	}
	switch s.Peek() {
	case '"':
		_, _, err := s.rawString()
		return err
	case '{':
		s.Pos++
		if s.Peek() == '}' {
			s.Pos++
			return nil
		}
		for {
			if _, _, err := s.rawString(); err != nil {
				return err
			}
			if err := s.consume(':'); err != nil {
				return err
			}
			if err := s.skipValue(depth + 1); err != nil {
				return err
			}
			if done, err := s.endOf('}'); done || err != nil {
				return err
			}
		}
	case '[':
		s.Pos++
		if s.Peek() == ']' {
			s.Pos++
			return nil
		}
		for {
			if err := s.skipValue(depth + 1); err != nil {
				return err
			}
			if done, err := s.endOf(']'); done || err != nil {
				return err
			}
		}
	}
	_, err := s.scalar()
	return err
}

// endOf reads "," (false) or the closing byte (true) after a member.
func (s *jsonScanner) endOf(closing byte) (bool, error) {
	switch s.Peek() {
	case ',':
		s.Pos++
		return false, nil
	case closing:
		s.Pos++
		return true, nil
	}
	return false, s.errorf("expected ',' or %q", closing)
}

// scalar reads a number, true, false or null and returns its text.
func (s *jsonScanner) scalar() ([]byte, error) {
	s.SkipSpace()
	start := s.Pos
	for s.Pos < len(s.Buf) {
		c := s.Buf[s.Pos]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c == '-' || c == '+' || c == '.' || c == 'E') {
			break
		}
		s.Pos++
	}
	v := s.Buf[start:s.Pos]
	switch string(v) {
	case "true", "false", "null":
		return v, nil
	}
	if len(v) == 0 || (v[0] != '-' && !isDigit(v[0])) {
		return nil, s.errorf("unexpected value")
	}
	if _, err := strconv.ParseFloat(string(v), 64); err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, s.errorf("invalid number %q", v)
	}
	return v, nil
}

// scalarString reads any scalar and returns it as a label value: strings
// unescaped, null as "", numbers and booleans as written.
func (s *jsonScanner) scalarString() (string, error) {
	if s.Peek() == '"' {
		return s.stringValue()
	}
	v, err := s.scalar()
	if err != nil || string(v) == "null" {
		return "", err
	}
	return string(v), nil
}

// unescapeJSON decodes the escapes of a string body; it reports false at an
// invalid one.
func unescapeJSON(raw []byte) (string, bool) {
	out, ok := jsonscan.Unescape(make([]byte, 0, len(raw)), raw)
	return string(out), ok
}

// jsonStage is the json parser without fields: it extracts every scalar,
// flattening nested objects with "_" and skipping arrays.
type jsonStage struct {
	want   labelHints
	seen   []string // names set for the current line, the first one wins
	name   []byte
	names  stringCache
	values stringCache
}

// jsonFieldsStage is the json parser with field expressions.
type jsonFieldsStage struct {
	labels []string
	paths  [][]jsonPathElem
}

func newJSONParser(fields []ParserField, want labelHints) (stage, error) {
	if len(fields) == 0 {
		return &jsonStage{want: want}, nil
	}
	st := &jsonFieldsStage{}
	for _, f := range fields {
		path := f.Path
		if path == "" {
			path = f.Label
		}
		elems, err := parseJSONPath(path)
		if err != nil {
			return nil, err
		}
		st.labels = append(st.labels, f.Label)
		st.paths = append(st.paths, elems)
	}
	return st, nil
}

func (j *jsonStage) process(_ int64, line []byte, lb *labelsBuilder) ([]byte, bool) {
	j.seen = j.seen[:0]
	s := &jsonScanner{Scanner: jsonscan.Scanner{Buf: line}}
	err := j.object(s, "", lb, 0)
	if err == nil && s.Peek() != 0 {
		err = s.errorf("unexpected data after the object")
	}
	if err != nil {
		lb.setErr(errJSON, err.Error())
	}
	return line, true
}

func (j *jsonStage) object(s *jsonScanner, prefix string, lb *labelsBuilder, depth int) error {
	if depth > maxJSONDepth {
		return s.errorf("nested too deeply")
	}
	if err := s.consume('{'); err != nil {
		return err
	}
	if s.Peek() == '}' {
		s.Pos++
		return nil
	}
	for {
		raw, esc, err := s.rawString()
		if err != nil {
			return err
		}
		if esc {
			k, ok := unescapeJSON(raw)
			if !ok {
				return s.errorf("invalid escape")
			}
			raw = []byte(k)
		}
		if err := s.consume(':'); err != nil {
			return err
		}
		j.name = appendSanitized(append(j.name[:0], prefix...), raw)
		name := j.names.get(j.name)
		switch s.Peek() {
		case '{':
			if j.want.wantsPrefix(name + "_") {
				err = j.object(s, name+"_", lb, depth+1)
			} else {
				err = s.skipValue(depth + 1)
			}
		case '[':
			err = s.skipValue(depth + 1)
		default:
			name = lb.parsedName(name)
			if !j.want.wants(name) {
				err = s.skipValue(depth + 1)
				break
			}
			var v string
			if v, err = j.value(s); err == nil {
				j.setOnce(lb, name, v)
			}
		}
		if err != nil {
			return err
		}
		if done, err := s.endOf('}'); done || err != nil {
			return err
		}
	}
}

// value reads a scalar as a label value.
func (j *jsonStage) value(s *jsonScanner) (string, error) {
	if s.Peek() == '"' {
		raw, esc, err := s.rawString()
		if err != nil || !esc {
			return j.values.get(raw), err
		}
		v, ok := unescapeJSON(raw)
		if !ok {
			return "", s.errorf("invalid escape")
		}
		return v, nil
	}
	v, err := s.scalar()
	if err != nil || string(v) == "null" {
		return "", err
	}
	return j.values.get(v), nil
}

func (j *jsonStage) setOnce(lb *labelsBuilder, name, v string) {
	for _, n := range j.seen {
		if n == name {
			return
		}
	}
	j.seen = append(j.seen, name)
	lb.setParsed(name, v)
}

func (j *jsonFieldsStage) process(_ int64, line []byte, lb *labelsBuilder) ([]byte, bool) {
	for i, path := range j.paths {
		v, found, err := jsonLookup(line, path)
		if err != nil {
			lb.setErr(errJSON, err.Error())
			return line, true
		}
		if found {
			lb.set(lb.parsedName(j.labels[i]), v)
		}
	}
	return line, true
}

// jsonPathElem is one step of a field expression: an object key or, when
// key is empty and index >= 0, an array index.
type jsonPathElem struct {
	key   string
	index int
}

// parseJSONPath parses a field expression: a.b, list[0], my["field"],
// combined at any depth.
func parseJSONPath(s string) ([]jsonPathElem, error) {
	var out []jsonPathElem
	i := 0
	for i < len(s) {
		switch {
		case s[i] == '[':
			end := i + 1
			if end < len(s) && (s[end] == '"' || s[end] == '\'') {
				q := s[end]
				end++
				for end < len(s) && s[end] != q {
					if s[end] == '\\' {
						end++
					}
					end++
				}
				if end+1 >= len(s) || s[end+1] != ']' {
					return nil, fmt.Errorf("invalid field expression %q", s)
				}
				key := s[i+2 : end]
				if q == '"' {
					k, err := strconv.Unquote(`"` + key + `"`)
					if err != nil {
						return nil, fmt.Errorf("invalid field expression %q", s)
					}
					key = k
				}
				out = append(out, jsonPathElem{key: key, index: -1})
				i = end + 2
			} else {
				for end < len(s) && isDigit(s[end]) {
					end++
				}
				if end == i+1 || end >= len(s) || s[end] != ']' {
					return nil, fmt.Errorf("invalid field expression %q", s)
				}
				n, err := strconv.Atoi(s[i+1 : end])
				if err != nil {
					return nil, fmt.Errorf("invalid field expression %q", s)
				}
				out = append(out, jsonPathElem{index: n})
				i = end + 1
			}
		case s[i] == '.':
			if i == 0 || i+1 >= len(s) || s[i+1] == '.' || s[i+1] == '[' {
				return nil, fmt.Errorf("invalid field expression %q", s)
			}
			i++
		default:
			end := i
			for end < len(s) && s[end] != '.' && s[end] != '[' {
				end++
			}
			if i > 0 && s[i-1] != '.' {
				return nil, fmt.Errorf("invalid field expression %q", s)
			}
			out = append(out, jsonPathElem{key: s[i:end], index: -1})
			i = end
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty field expression")
	}
	return out, nil
}

// jsonLookup finds the value at path in a JSON document. Strings are
// unescaped; objects and arrays are returned as their JSON text.
func jsonLookup(doc []byte, path []jsonPathElem) (string, bool, error) {
	s := &jsonScanner{Scanner: jsonscan.Scanner{Buf: doc}}
	for _, el := range path {
		switch c := s.Peek(); {
		case c == '{' && el.index < 0:
			found, err := s.findKey(el.key)
			if err != nil || !found {
				return "", false, err
			}
		case c == '[' && el.index >= 0:
			found, err := s.findIndex(el.index)
			if err != nil || !found {
				return "", false, err
			}
		case c == '{' || c == '[' || c == '"' || c == '-' || isDigit(c) || c == 't' || c == 'f' || c == 'n':
			return "", false, nil // the path does not fit the document
		default:
			return "", false, s.errorf("unexpected value")
		}
	}
	switch s.Peek() {
	case '{', '[':
		start := s.Pos
		if err := s.skipValue(0); err != nil {
			return "", false, err
		}
		return string(doc[start:s.Pos]), true, nil
	}
	v, err := s.scalarString()
	return v, err == nil, err
}

// findKey moves into an object to the value of key.
func (s *jsonScanner) findKey(key string) (bool, error) {
	s.Pos++ // {
	if s.Peek() == '}' {
		return false, nil
	}
	for {
		k, err := s.stringValue()
		if err != nil {
			return false, err
		}
		if err := s.consume(':'); err != nil {
			return false, err
		}
		if k == key {
			return true, nil
		}
		if err := s.skipValue(0); err != nil {
			return false, err
		}
		if done, err := s.endOf('}'); done || err != nil {
			return false, err
		}
	}
}

// findIndex moves into an array to its n-th element.
func (s *jsonScanner) findIndex(n int) (bool, error) {
	s.Pos++ // [
	if s.Peek() == ']' {
		return false, nil
	}
	for i := 0; ; i++ {
		if i == n {
			return true, nil
		}
		if err := s.skipValue(0); err != nil {
			return false, err
		}
		if done, err := s.endOf(']'); done || err != nil {
			return false, err
		}
	}
}

// unpackStage extracts the string fields of a JSON object and replaces the
// line with its "_entry" field.
type unpackStage struct{ buf []byte }

func (u *unpackStage) process(_ int64, line []byte, lb *labelsBuilder) ([]byte, bool) {
	s := &jsonScanner{Scanner: jsonscan.Scanner{Buf: line}}
	entry, hasEntry, err := u.parse(s, lb)
	if err == nil && s.Peek() != 0 {
		err = s.errorf("unexpected data after the object")
	}
	if err != nil {
		lb.setErr(errJSON, err.Error())
		return line, true
	}
	if hasEntry {
		u.buf = append(u.buf[:0], entry...)
		return u.buf, true
	}
	return line, true
}

func (u *unpackStage) parse(s *jsonScanner, lb *labelsBuilder) (string, bool, error) {
	if err := s.consume('{'); err != nil {
		return "", false, err
	}
	if s.Peek() == '}' {
		s.Pos++
		return "", false, nil
	}
	var entry string
	hasEntry := false
	for {
		key, err := s.stringValue()
		if err != nil {
			return "", false, err
		}
		if err := s.consume(':'); err != nil {
			return "", false, err
		}
		if s.Peek() == '"' {
			v, err := s.stringValue()
			if err != nil {
				return "", false, err
			}
			if key == "_entry" {
				entry, hasEntry = v, true
			} else {
				lb.setParsed(sanitizeKey(key), v)
			}
		} else if err := s.skipValue(0); err != nil {
			return "", false, err
		}
		if done, err := s.endOf('}'); done || err != nil {
			return entry, hasEntry, err
		}
	}
}
