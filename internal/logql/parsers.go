package logql

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
)

// logfmtStage parses key=value pairs.
type logfmtStage struct {
	strict, keepEmpty bool
	// fields maps requested keys to label names; nil extracts every key.
	fields map[string]string
	want   labelHints
	seen   []string
	name   []byte
	names  stringCache
	values stringCache
}

func newLogfmtParser(p *LogfmtParser, want labelHints) stage {
	st := &logfmtStage{strict: p.Strict, keepEmpty: p.KeepEmpty, want: want}
	if len(p.Fields) > 0 {
		st.fields = map[string]string{}
		for _, f := range p.Fields {
			key := f.Path
			if key == "" {
				key = f.Label
			}
			st.fields[key] = f.Label
		}
	}
	return st
}

var errLogfmtSyntax = errors.New("logfmt syntax error")

func (st *logfmtStage) process(_ int64, line []byte, lb *labelsBuilder) ([]byte, bool) {
	st.seen = st.seen[:0]
	i := 0
	for i < len(line) {
		for i < len(line) && line[i] <= ' ' {
			i++
		}
		if i >= len(line) {
			break
		}
		// The key runs to "=" or a space.
		start := i
		badKey := false
		for i < len(line) && line[i] > ' ' && line[i] != '=' {
			if line[i] == '"' {
				badKey = true
			}
			i++
		}
		key := line[start:i]
		var value []byte
		esc := false // value is the body of a quoted string with escapes
		hasValue := i < len(line) && line[i] == '='
		bad := badKey || len(key) == 0
		if hasValue {
			i++
			if i < len(line) && line[i] == '"' {
				v, n, closed, e := logfmtQuoted(line[i:])
				i += n
				if !closed || (e && st.strict && !validQuoted(v)) {
					bad = true
				}
				value, esc = v, e
				if i < len(line) && line[i] > ' ' {
					bad = true // text right after the closing quote
					for i < len(line) && line[i] > ' ' {
						i++
					}
				}
			} else {
				vs := i
				for i < len(line) && line[i] > ' ' {
					if line[i] == '=' || line[i] == '"' {
						bad = bad || st.strict
					}
					i++
				}
				value = line[vs:i]
			}
		}
		if bad {
			if st.strict {
				lb.setErr(errLogfmt, fmt.Sprintf("%v: malformed pair %q at offset %d", errLogfmtSyntax, line[start:i], start))
				return line, true
			}
			continue
		}
		st.emit(key, value, esc, lb)
	}
	return line, true
}

// emit sets the label of one pair, the first occurrence of a key winning.
func (st *logfmtStage) emit(key, value []byte, esc bool, lb *labelsBuilder) {
	var name string
	if st.fields != nil {
		label, ok := st.fields[string(key)]
		if !ok {
			return
		}
		name = lb.parsedName(label)
	} else {
		if len(value) == 0 && !st.keepEmpty {
			return
		}
		st.name = appendSanitized(st.name[:0], key)
		name = lb.parsedName(st.names.get(st.name))
		if !st.want.wants(name) {
			return
		}
	}
	for _, n := range st.seen {
		if n == name {
			return
		}
	}
	v := ""
	if esc {
		u, err := strconv.Unquote(`"` + string(value) + `"`)
		if err != nil {
			return // a malformed value, skipped outside strict mode
		}
		v = u
	} else {
		v = st.values.get(value)
	}
	st.seen = append(st.seen, name)
	lb.set(name, v)
}

// logfmtQuoted reads a quoted value at the start of b: it returns the
// body between the quotes, the bytes consumed, whether the closing quote was
// found and whether the body holds escapes.
func logfmtQuoted(b []byte) ([]byte, int, bool, bool) {
	if q := bytes.IndexByte(b[1:], '"'); q >= 0 && bytes.IndexByte(b[1:1+q], '\\') < 0 {
		return b[1 : 1+q], q + 2, true, false // the common case: no escapes
	}
	esc := false
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			esc = true
			i++
		case '"':
			return b[1:i], i + 1, true, esc
		}
	}
	return b[1:], len(b), false, esc
}

// validQuoted reports whether a quoted body has valid Go escapes.
func validQuoted(body []byte) bool {
	_, err := strconv.Unquote(`"` + string(body) + `"`)
	return err == nil
}

// patternPart is a literal or a capture of a pattern.
type patternPart struct {
	lit  []byte
	name string // capture name; "_" for an unnamed capture
}

func (p patternPart) isCapture() bool { return p.name != "" }

// pattern is a compiled pattern expression such as `<ip> - <_> "<method> <uri>"`.
type pattern struct {
	parts []patternPart
}

// compilePattern parses a pattern. For the pattern parser it must name at
// least one capture; two captures must never be adjacent.
func compilePattern(s string, parser bool) (*pattern, error) {
	p := &pattern{}
	var lit []byte
	named := 0
	for i := 0; i < len(s); {
		if s[i] == '<' {
			j := i + 1
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			if j < len(s) && s[j] == '>' && j > i+1 && isIdentStart(s[i+1]) {
				if len(lit) > 0 {
					p.parts = append(p.parts, patternPart{lit: lit})
					lit = nil
				}
				name := s[i+1 : j]
				if n := len(p.parts); n > 0 && p.parts[n-1].isCapture() {
					return nil, fmt.Errorf("invalid pattern %q: captures <%s> and <%s> must be separated by a literal", s, p.parts[n-1].name, name)
				}
				if name != "_" {
					for _, q := range p.parts {
						if q.name == name {
							return nil, fmt.Errorf("invalid pattern %q: duplicate capture <%s>", s, name)
						}
					}
					named++
				}
				p.parts = append(p.parts, patternPart{name: name})
				i = j + 1
				continue
			}
		}
		lit = append(lit, s[i])
		i++
	}
	if len(lit) > 0 {
		p.parts = append(p.parts, patternPart{lit: lit})
	}
	if parser && named == 0 {
		return nil, fmt.Errorf("invalid pattern %q: at least one named capture is needed", s)
	}
	return p, nil
}

// matchWhole reports whether the whole line matches, every capture standing
// for any text (the |> and !> filters).
func (p *pattern) matchWhole(line []byte) bool {
	parts := p.parts
	if len(parts) == 0 {
		return len(line) == 0
	}
	if len(parts) == 1 && !parts[0].isCapture() {
		return bytes.Equal(line, parts[0].lit)
	}
	if !parts[0].isCapture() {
		if !bytes.HasPrefix(line, parts[0].lit) {
			return false
		}
		line = line[len(parts[0].lit):]
		parts = parts[1:]
	}
	if last := parts[len(parts)-1]; !last.isCapture() {
		if !bytes.HasSuffix(line, last.lit) {
			return false
		}
		line = line[:len(line)-len(last.lit)]
		parts = parts[:len(parts)-1]
	}
	for _, part := range parts {
		if part.isCapture() {
			continue
		}
		i := bytes.Index(line, part.lit)
		if i < 0 {
			return false
		}
		line = line[i+len(part.lit):]
	}
	return true
}

// patternStage is the pattern parser. The pattern is anchored at the start
// of the line; each capture runs to the next literal (or the end of the
// line), and a missing literal ends the match with the capture taking the
// rest of the line.
type patternStage struct{ pat *pattern }

func (st *patternStage) process(_ int64, line []byte, lb *labelsBuilder) ([]byte, bool) {
	parts := st.pat.parts
	in := line
	if !parts[0].isCapture() {
		if !bytes.HasPrefix(in, parts[0].lit) {
			return line, true
		}
		in = in[len(parts[0].lit):]
		parts = parts[1:]
	}
	for len(parts) > 0 {
		capt := parts[0]
		if len(parts) == 1 {
			st.capture(lb, capt, in)
			break
		}
		i := bytes.Index(in, parts[1].lit)
		if i < 0 {
			st.capture(lb, capt, in)
			break
		}
		st.capture(lb, capt, in[:i])
		in = in[i+len(parts[1].lit):]
		parts = parts[2:]
	}
	return line, true
}

func (st *patternStage) capture(lb *labelsBuilder, p patternPart, v []byte) {
	if p.name != "_" {
		lb.setParsed(p.name, string(v))
	}
}

// regexpStage is the regexp parser: each named group becomes a label.
type regexpStage struct {
	re    *regexp.Regexp
	names []string // label per subexpression; "" for unnamed groups
}

func compileRegexpParser(s string) (*regexpStage, error) {
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, fmt.Errorf("invalid regexp parser expression: %w", err)
	}
	st := &regexpStage{re: re, names: make([]string, len(re.SubexpNames()))}
	seen := map[string]bool{}
	for i, n := range re.SubexpNames() {
		if n == "" {
			continue
		}
		n = sanitizeKey(n)
		if seen[n] {
			return nil, fmt.Errorf("invalid regexp parser expression %q: duplicate group name %q", s, n)
		}
		seen[n] = true
		st.names[i] = n
	}
	if len(seen) == 0 {
		return nil, fmt.Errorf("invalid regexp parser expression %q: at least one named group is needed", s)
	}
	return st, nil
}

func (st *regexpStage) process(_ int64, line []byte, lb *labelsBuilder) ([]byte, bool) {
	m := st.re.FindSubmatchIndex(line)
	if m == nil {
		return line, true
	}
	for i, n := range st.names {
		if n == "" || m[2*i] < 0 {
			continue
		}
		lb.setParsed(n, string(line[m[2*i]:m[2*i+1]]))
	}
	return line, true
}
