package ingest

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// Field numbers of Loki's logproto messages, from grafana/loki
// pkg/push/push.proto. Fields not listed (PushRequest.format,
// StreamAdapter.hash, EntryAdapter.parsed) and unknown fields are skipped.
const (
	fieldPushStreams      = 1 // PushRequest.streams: repeated StreamAdapter
	fieldStreamLabels     = 1 // StreamAdapter.labels: string
	fieldStreamEntries    = 2 // StreamAdapter.entries: repeated EntryAdapter
	fieldEntryTimestamp   = 1 // EntryAdapter.timestamp: google.protobuf.Timestamp
	fieldEntryLine        = 2 // EntryAdapter.line: string
	fieldEntryMetadata    = 3 // EntryAdapter.structuredMetadata: repeated LabelPairAdapter
	fieldTimestampSeconds = 1 // Timestamp.seconds: int64
	fieldTimestampNanos   = 2 // Timestamp.nanos: int32
	fieldLabelPairName    = 1 // LabelPairAdapter.name: string
	fieldLabelPairValue   = 2 // LabelPairAdapter.value: string
)

// DecodeProto decodes an uncompressed Loki logproto.PushRequest (the snappy
// block of a protobuf push, already decoded). Each stream's labels string,
// such as {app="api", env="prod"}, is parsed with ParseLabels and must hold
// at least one label. Every entry needs a timestamp between 1970 and 2262,
// so that it fits in int64 nanoseconds. Structured metadata must be valid
// UTF-8; lines are kept as sent.
//
// Lines alias buf: the caller must not modify buf while it uses the result.
// Errors wrap ErrInvalidPayload and name the stream and entry at fault.
func DecodeProto(buf []byte) ([]Stream, error) {
	d := protoDecoder{stream: -1, entry: -1}
	// The entries of all streams share one array, sized by a first pass.
	nStreams, nEntries := 0, 0
	for r := (fieldReader{b: buf}); ; {
		if ok, err := r.next(); !ok || err != nil {
			break
		}
		if r.num == fieldPushStreams && r.typ == protowire.BytesType {
			nStreams++
			nEntries += countField(r.bytes, fieldStreamEntries)
		}
	}
	d.entries = make([]logmodel.Entry, 0, nEntries)
	streams := make([]Stream, 0, nStreams)
	r := fieldReader{b: buf}
	for {
		ok, err := r.next()
		if err != nil {
			return nil, d.fail("PushRequest", err)
		}
		if !ok {
			return streams, nil
		}
		if r.num != fieldPushStreams {
			continue
		}
		if err := r.want(protowire.BytesType); err != nil {
			return nil, d.fail("PushRequest.streams", err)
		}
		d.stream = len(streams)
		s, err := d.decodeStream(r.bytes)
		if err != nil {
			return nil, err
		}
		streams = append(streams, s)
		d.stream = -1
	}
}

// protoDecoder tracks where it is, for errors, and interns metadata names.
type protoDecoder struct {
	stream   int // index in streams, or -1
	entry    int // index in the stream's entries, or -1
	names    interner
	entries  []logmodel.Entry // backs the entries of every stream
	md       logmodel.Labels  // the current entry's metadata, reused
	metadata labelSlab
}

// protoError is a problem in a protobuf push body. It wraps
// ErrInvalidPayload and the underlying error.
type protoError struct {
	path string
	err  error
}

func (e *protoError) Error() string {
	return fmt.Sprintf("%v: protobuf %s: %v", ErrInvalidPayload, e.path, e.err)
}

func (e *protoError) Unwrap() []error { return []error{ErrInvalidPayload, e.err} }

// fail reports err at field (a message or field name) of the current stream
// and entry.
func (d *protoDecoder) fail(field string, err error) error {
	var b strings.Builder
	if d.stream >= 0 {
		fmt.Fprintf(&b, "streams[%d].", d.stream)
		if d.entry >= 0 {
			fmt.Fprintf(&b, "entries[%d].", d.entry)
		}
	}
	b.WriteString(field)
	return &protoError{path: b.String(), err: err}
}

func (d *protoDecoder) decodeStream(b []byte) (Stream, error) {
	d.entry = -1
	var labels []byte
	first := len(d.entries)
	r := fieldReader{b: b}
	for {
		ok, err := r.next()
		if err != nil {
			return Stream{}, d.fail("StreamAdapter", err)
		}
		if !ok {
			break
		}
		switch r.num {
		case fieldStreamLabels:
			if err := r.want(protowire.BytesType); err != nil {
				return Stream{}, d.fail("labels", err)
			}
			labels = r.bytes
		case fieldStreamEntries:
			if err := r.want(protowire.BytesType); err != nil {
				return Stream{}, d.fail("entries", err)
			}
			d.entry = len(d.entries) - first
			d.entries = append(d.entries, logmodel.Entry{})
			if err := d.decodeEntry(&d.entries[len(d.entries)-1], r.bytes); err != nil {
				return Stream{}, err
			}
			d.entry = -1
		}
	}
	entries := d.entries[first:len(d.entries):len(d.entries)]
	ls, err := parseLabelsCached(labels)
	if err != nil {
		return Stream{}, d.fail("labels", fmt.Errorf("%s: %w", quoteClipped(labels), err))
	}
	if len(ls) == 0 {
		return Stream{}, d.fail("labels", fmt.Errorf("%s: %s", quoteClipped(labels), msgEmptyLabels))
	}
	for i := range entries {
		entries[i].Labels = ls
	}
	return Stream{Labels: ls, Entries: entries}, nil
}

// quoteClipped quotes b for an error message, clipped to a readable length.
func quoteClipped(b []byte) string {
	const max = 120
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "..."
	}
	return strconv.Quote(string(b))
}

// decodeEntry decodes an EntryAdapter into e, which must be zero.
func (d *protoDecoder) decodeEntry(e *logmodel.Entry, b []byte) error {
	hasTimestamp := false
	d.md = d.md[:0]
	r := fieldReader{b: b}
	for {
		ok, err := r.next()
		if err != nil {
			return d.fail("EntryAdapter", err)
		}
		if !ok {
			break
		}
		switch r.num {
		case fieldEntryTimestamp:
			if err := r.want(protowire.BytesType); err != nil {
				return d.fail("timestamp", err)
			}
			if e.Timestamp, err = decodeTimestamp(r.bytes); err != nil {
				return d.fail("timestamp", err)
			}
			hasTimestamp = true
		case fieldEntryLine:
			if err := r.want(protowire.BytesType); err != nil {
				return d.fail("line", err)
			}
			e.Line = r.bytes[:len(r.bytes):len(r.bytes)]
		case fieldEntryMetadata:
			if err := r.want(protowire.BytesType); err != nil {
				return d.fail("structuredMetadata", err)
			}
			l, err := d.decodeLabelPair(r.bytes)
			if err != nil {
				return d.fail("structuredMetadata", err)
			}
			d.md = append(d.md, l)
		}
	}
	if !hasTimestamp {
		// Loki reads a missing timestamp as year 1, which no int64 holds.
		return d.fail("timestamp", errors.New("missing"))
	}
	e.Metadata = d.metadata.keep(sortMetadata(d.md))
	return nil
}

// maxSeconds is the last second whose nanoseconds fit in int64 (year 2262).
const maxSeconds = math.MaxInt64 / int64(time.Second)

// decodeTimestamp decodes a google.protobuf.Timestamp into Unix nanoseconds.
func decodeTimestamp(b []byte) (int64, error) {
	var secs, nanos int64
	r := fieldReader{b: b}
	for {
		ok, err := r.next()
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		switch r.num {
		case fieldTimestampSeconds:
			if err := r.want(protowire.VarintType); err != nil {
				return 0, err
			}
			secs = int64(r.varint)
		case fieldTimestampNanos:
			if err := r.want(protowire.VarintType); err != nil {
				return 0, err
			}
			nanos = int64(int32(r.varint))
		}
	}
	if nanos < 0 || nanos >= 1e9 {
		return 0, fmt.Errorf("nanos %d out of range [0, 999999999]", nanos)
	}
	if secs < 0 || secs > maxSeconds || (secs == maxSeconds && nanos > math.MaxInt64%int64(time.Second)) {
		return 0, fmt.Errorf("seconds %d out of range: want 1970 to 2262", secs)
	}
	return secs*1e9 + nanos, nil
}

func (d *protoDecoder) decodeLabelPair(b []byte) (logmodel.Label, error) {
	var name, value []byte
	r := fieldReader{b: b}
	for {
		ok, err := r.next()
		if err != nil {
			return logmodel.Label{}, err
		}
		if !ok {
			break
		}
		switch r.num {
		case fieldLabelPairName:
			if err := r.want(protowire.BytesType); err != nil {
				return logmodel.Label{}, err
			}
			name = r.bytes
		case fieldLabelPairValue:
			if err := r.want(protowire.BytesType); err != nil {
				return logmodel.Label{}, err
			}
			value = r.bytes
		}
	}
	if len(name) == 0 {
		return logmodel.Label{}, errors.New("empty structured metadata name")
	}
	if !utf8.Valid(name) || !utf8.Valid(value) {
		return logmodel.Label{}, fmt.Errorf("structured metadata %s=%s is not valid UTF-8", quoteClipped(name), quoteClipped(value))
	}
	return logmodel.Label{Name: d.names.intern(name), Value: string(value)}, nil
}

// fieldReader walks the fields of one protobuf message. After next returns
// true, num and typ describe the field and, for the two wire types Loki
// uses, bytes or varint hold its value.
type fieldReader struct {
	b      []byte // the rest of the message
	num    protowire.Number
	typ    protowire.Type
	bytes  []byte // for BytesType; aliases the input
	varint uint64 // for VarintType
}

// next reads the next field. It returns false at the end of the message.
func (r *fieldReader) next() (bool, error) {
	if len(r.b) == 0 {
		return false, nil
	}
	var n int
	if c := r.b[0]; c < 0x80 && c>>3 != 0 {
		// Fast path: fields 1 to 15 have one-byte tags.
		r.num, r.typ, n = protowire.Number(c>>3), protowire.Type(c&7), 1
	} else if r.num, r.typ, n = protowire.ConsumeTag(r.b); n < 0 {
		return false, wireError(n)
	}
	var m int
	switch r.typ {
	case protowire.BytesType:
		r.bytes, m = protowire.ConsumeBytes(r.b[n:])
	case protowire.VarintType:
		r.varint, m = protowire.ConsumeVarint(r.b[n:])
	default:
		m = protowire.ConsumeFieldValue(r.num, r.typ, r.b[n:])
	}
	if m < 0 {
		return false, wireError(m)
	}
	r.b = r.b[n+m:]
	return true, nil
}

// wireError turns a negative protowire length into an error. The protobuf
// module words its messages unstably on purpose; this keeps ours plain.
func wireError(n int) error {
	msg := protowire.ParseError(n).Error()
	msg = strings.TrimLeft(strings.TrimPrefix(msg, "proto:"), " \u00a0")
	return errors.New(msg)
}

// want checks a known field's wire type.
func (r *fieldReader) want(typ protowire.Type) error {
	if r.typ != typ {
		return fmt.Errorf("field %d has wire type %s, want %s", r.num, wireTypeName(r.typ), wireTypeName(typ))
	}
	return nil
}

func wireTypeName(t protowire.Type) string {
	switch t {
	case protowire.VarintType:
		return "varint"
	case protowire.Fixed32Type:
		return "fixed32"
	case protowire.Fixed64Type:
		return "fixed64"
	case protowire.BytesType:
		return "bytes"
	case protowire.StartGroupType, protowire.EndGroupType:
		return "group"
	}
	return strconv.Itoa(int(t))
}

// countField counts the occurrences of field num in message b, to size
// slices. It stops quietly at malformed input, which decoding then reports.
func countField(b []byte, num protowire.Number) int {
	count := 0
	for len(b) > 0 {
		n, _, m := protowire.ConsumeField(b)
		if m < 0 {
			break
		}
		if n == num {
			count++
		}
		b = b[m:]
	}
	return count
}
