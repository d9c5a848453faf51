package ingest

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kubelog/kubelog/internal/jsonscan"
	"github.com/kubelog/kubelog/internal/logmodel"
)

// DecodeJSON decodes the JSON form of a Loki push request:
//
//	{"streams": [{"stream": {"app": "api"},
//	              "values": [["1700000000000000000", "a line"],
//	                         ["1700000000000000001", "a line", {"trace_id": "abc"}]]}]}
//
// Timestamps must be strings of Unix nanoseconds. Each stream needs at least
// one label with a non-empty value; names must match [a-zA-Z_][a-zA-Z0-9_]*
// and appear once. The optional third element of a value holds structured
// metadata as string values. Label and metadata strings must be valid UTF-8;
// lines are kept as sent. Unknown keys are skipped.
//
// Lines without JSON escapes alias body: the caller must not modify body while
// it uses the result. Errors wrap ErrInvalidPayload and name the element and
// byte offset at fault.
func DecodeJSON(body []byte) ([]Stream, error) {
	d := jsonDecoder{Scanner: jsonscan.Scanner{Buf: body}, stream: -1}
	streams, err := d.decode()
	if err != nil {
		var se *jsonscan.SyntaxError
		if errors.As(err, &se) {
			return nil, &jsonError{offset: se.Offset, path: d.path(), msg: se.Msg, syntax: true}
		}
		return nil, err
	}
	return streams, nil
}

// jsonError is a problem in a JSON push body. It wraps ErrInvalidPayload
// and, for bad labels, the label error.
type jsonError struct {
	offset int
	path   string // where in the document, e.g. streams[0].values[3][0]
	msg    string
	syntax bool  // malformed JSON rather than a bad value
	err    error // underlying error, if any
}

func (e *jsonError) Error() string {
	var b strings.Builder
	b.WriteString(ErrInvalidPayload.Error())
	b.WriteString(": ")
	if e.syntax {
		b.WriteString("malformed JSON ")
	}
	if e.path != "" {
		b.WriteString(e.path)
		b.WriteByte(' ')
	}
	fmt.Fprintf(&b, "at offset %d: %s", e.offset, e.msg)
	if e.err != nil {
		b.WriteString(": ")
		b.WriteString(e.err.Error())
	}
	return b.String()
}

func (e *jsonError) Unwrap() []error {
	if e.err != nil {
		return []error{ErrInvalidPayload, e.err}
	}
	return []error{ErrInvalidPayload}
}

// jsonDecoder decodes a push body and tracks where it is, for errors.
type jsonDecoder struct {
	jsonscan.Scanner
	stream  int    // index in streams, or -1
	field   string // "stream" or "values" inside a stream
	value   int    // index in values, or -1
	elem    int    // index inside a value, or -1
	scratch []byte // unescaped keys
	// entries and labels collect a stream's values and an object's
	// labels, then are copied out at their exact size; reusing them saves
	// the allocations of growing a slice per stream and per object.
	entries  []logmodel.Entry
	labels   logmodel.Labels
	metadata labelSlab
	names    interner
}

func (d *jsonDecoder) path() string {
	if d.stream < 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "streams[%d]", d.stream)
	switch d.field {
	case "stream":
		b.WriteString(".stream")
	case "values":
		b.WriteString(".values")
		if d.value >= 0 {
			fmt.Fprintf(&b, "[%d]", d.value)
		}
		if d.value >= 0 && d.elem >= 0 {
			fmt.Fprintf(&b, "[%d]", d.elem)
		}
	}
	return b.String()
}

// invalid reports a well-formed but unacceptable value starting at offset.
func (d *jsonDecoder) invalid(offset int, msg string, err error) error {
	return &jsonError{offset: offset, path: d.path(), msg: msg, err: err}
}

// unescape decodes the raw bytes of a string that RawString read, whose
// escapes it has checked.
func unescape(dst, raw []byte) []byte {
	dst, _ = jsonscan.Unescape(dst, raw)
	return dst
}

// key reads an object key, unescaped. The result is valid until the next
// call.
func (d *jsonDecoder) key() ([]byte, error) {
	raw, err := d.Scanner.Key()
	if err != nil {
		return nil, err
	}
	if slices.Contains(raw, '\\') {
		d.scratch = unescape(d.scratch[:0], raw)
		return d.scratch, nil
	}
	return raw, nil
}

// null consumes a null literal if one is next.
func (d *jsonDecoder) null() bool {
	if d.Peek() == 'n' && d.Literal() == nil {
		return true
	}
	return false
}

func (d *jsonDecoder) decode() ([]Stream, error) {
	if err := d.Enter('{'); err != nil {
		return nil, err
	}
	var streams []Stream
	for first := true; ; first = false {
		more, err := d.More('}', first)
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		k, err := d.key()
		if err != nil {
			return nil, err
		}
		if string(k) != "streams" {
			if err := d.SkipValue(0); err != nil {
				return nil, err
			}
			continue
		}
		if d.null() {
			continue
		}
		if err := d.Enter('['); err != nil {
			return nil, err
		}
		for first := true; ; first = false {
			more, err := d.More(']', first)
			if err != nil {
				return nil, err
			}
			if !more {
				break
			}
			d.stream = len(streams)
			s, err := d.decodeStream()
			if err != nil {
				return nil, err
			}
			streams = append(streams, s)
		}
		d.stream = -1
	}
	if err := d.End(); err != nil {
		return nil, err
	}
	return streams, nil
}

func (d *jsonDecoder) decodeStream() (Stream, error) {
	d.field = ""
	start := d.Pos
	if err := d.Enter('{'); err != nil {
		return Stream{}, err
	}
	var s Stream
	for first := true; ; first = false {
		more, err := d.More('}', first)
		if err != nil {
			return Stream{}, err
		}
		if !more {
			break
		}
		k, err := d.key()
		if err != nil {
			return Stream{}, err
		}
		switch string(k) {
		case "stream":
			d.field = "stream"
			s.Labels, err = d.streamLabels()
		case "values":
			d.field = "values"
			d.entries, err = d.values(d.entries[:0])
			s.Entries = append(s.Entries, d.entries...)
		default:
			err = d.SkipValue(0)
		}
		if err != nil {
			return Stream{}, err
		}
		d.field = ""
	}
	if len(s.Labels) == 0 {
		return Stream{}, d.invalid(start, msgEmptyLabels, nil)
	}
	for i := range s.Entries {
		s.Entries[i].Labels = s.Labels
	}
	return s, nil
}

// streamLabels reads the "stream" object.
func (d *jsonDecoder) streamLabels() (logmodel.Labels, error) {
	start := d.peekPos()
	ls, err := d.stringObject(true)
	if err != nil {
		return nil, err
	}
	ls, err = finishLabels(ls)
	if err != nil {
		return nil, d.invalid(start, "bad stream labels", err)
	}
	return slices.Clone(ls), nil
}

// peekPos skips whitespace and returns the offset of the next token.
func (d *jsonDecoder) peekPos() int {
	d.SkipSpace()
	return d.Pos
}

// stringObject reads an object whose values are all strings, valid UTF-8.
// The result is valid until the next call.
// With labels, names must be valid label names; otherwise (structured
// metadata) they must be non-empty valid UTF-8.
func (d *jsonDecoder) stringObject(labels bool) (logmodel.Labels, error) {
	if err := d.Enter('{'); err != nil {
		return nil, err
	}
	ls := d.labels[:0]
	for first := true; ; first = false {
		more, err := d.More('}', first)
		if err != nil {
			return nil, err
		}
		if !more {
			d.labels = ls
			return ls, nil
		}
		keyPos := d.peekPos()
		k, err := d.key()
		if err != nil {
			return nil, err
		}
		switch {
		case labels && !logmodel.ValidLabelName(string(k)):
			return nil, d.invalid(keyPos, "bad stream labels", &logmodel.ErrInvalidLabel{Name: string(k)})
		case len(k) == 0:
			return nil, d.invalid(keyPos, "empty structured metadata name", nil)
		case !utf8.Valid(k):
			return nil, d.invalid(keyPos, "structured metadata name is not valid UTF-8", nil)
		}
		name := d.names.intern(k)
		valPos := d.peekPos()
		if d.Peek() != '"' {
			return nil, d.invalid(valPos, fmt.Sprintf("value of %q must be a string, found %s", name, d.Found()), nil)
		}
		raw, escaped, err := d.RawString()
		if err != nil {
			return nil, err
		}
		var value string
		if escaped {
			value = string(unescape(make([]byte, 0, len(raw)), raw))
		} else {
			value = string(raw)
		}
		if !utf8.ValidString(value) {
			return nil, d.invalid(valPos, fmt.Sprintf("value of %q is not valid UTF-8", name), nil)
		}
		ls = append(ls, logmodel.Label{Name: name, Value: value})
	}
}

// values reads the "values" array, appending to entries.
func (d *jsonDecoder) values(entries []logmodel.Entry) ([]logmodel.Entry, error) {
	d.value = -1
	if d.null() {
		return entries, nil
	}
	if err := d.Enter('['); err != nil {
		return nil, err
	}
	for i, first := 0, true; ; i, first = i+1, false {
		more, err := d.More(']', first)
		if err != nil {
			return nil, err
		}
		if !more {
			return entries, nil
		}
		d.value, d.elem = i, -1
		e, err := d.entry()
		if err != nil {
			return nil, err
		}
		d.elem = -1
		entries = append(entries, e)
	}
}

// entry reads ["<ns>", "<line>"] or ["<ns>", "<line>", {metadata}].
func (d *jsonDecoder) entry() (logmodel.Entry, error) {
	var e logmodel.Entry
	if err := d.Enter('['); err != nil {
		return e, err
	}
	d.elem = 0
	pos := d.peekPos()
	if d.Peek() != '"' {
		return e, d.invalid(pos, "timestamp must be a string of Unix nanoseconds, found "+d.Found(), nil)
	}
	raw, escaped, err := d.RawString()
	if err != nil {
		return e, err
	}
	if escaped {
		raw = unescape(nil, raw)
	}
	ts, ok := parseNanos(raw)
	if !ok {
		return e, d.invalid(pos, fmt.Sprintf("bad timestamp %s: want Unix nanoseconds as a decimal string", strconv.Quote(string(raw))), nil)
	}
	e.Timestamp = ts

	if more, err := d.More(']', false); err != nil || !more {
		if err == nil {
			err = d.invalid(d.Pos-1, "value must be [timestamp, line] or [timestamp, line, metadata]; the line is missing", nil)
		}
		return e, err
	}
	d.elem = 1
	pos = d.peekPos()
	if d.Peek() != '"' {
		return e, d.invalid(pos, "line must be a string, found "+d.Found(), nil)
	}
	if raw, escaped, err = d.RawString(); err != nil {
		return e, err
	}
	if escaped {
		e.Line = unescape(make([]byte, 0, len(raw)), raw)
	} else {
		e.Line = raw[:len(raw):len(raw)]
	}

	more, err := d.More(']', false)
	if err != nil || !more {
		return e, err
	}
	d.elem = 2
	pos = d.peekPos()
	if d.Peek() != '{' {
		return e, d.invalid(pos, "structured metadata must be an object, found "+d.Found(), nil)
	}
	md, err := d.stringObject(false)
	if err != nil {
		return e, err
	}
	e.Metadata = d.metadata.keep(sortMetadata(md))
	if more, err = d.More(']', false); err != nil || more {
		if err == nil {
			err = d.invalid(d.Pos, "value has more than 3 elements", nil)
		}
		return e, err
	}
	return e, nil
}

// parseNanos parses an unsigned decimal int64.
func parseNanos(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

// sortMetadata sorts structured metadata by name; of repeated names the last
// one wins.
func sortMetadata(md logmodel.Labels) logmodel.Labels {
	if len(md) < 2 {
		return md
	}
	slices.SortStableFunc(md, func(a, b logmodel.Label) int { return strings.Compare(a.Name, b.Name) })
	out := md[:0]
	for i, l := range md {
		if i+1 < len(md) && md[i+1].Name == l.Name {
			continue
		}
		out = append(out, l)
	}
	return out
}
