package ingest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// lokiProto marshals a push request with Loki's own types, so the wire
// format under test is Loki's.
func lokiProto(t testing.TB, streams ...push.Stream) []byte {
	t.Helper()
	req := push.PushRequest{Streams: streams}
	b, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func lokiEntry(ns int64, line string, md ...string) push.Entry {
	e := push.Entry{Timestamp: time.Unix(0, ns).UTC(), Line: line}
	for i := 0; i+1 < len(md); i += 2 {
		e.StructuredMetadata = append(e.StructuredMetadata, push.LabelAdapter{Name: md[i], Value: md[i+1]})
	}
	return e
}

// protoCase is a protobuf body and either its rendering or a part of its
// error.
type protoCase struct {
	name, want string
	body       []byte
}

func protoGood(t testing.TB) []protoCase {
	return []protoCase{
		{"empty request", ``, lokiProto(t)},
		{"one entry", `{app="api", env="prod"} 1700000000123456789 "hello"`, lokiProto(t, push.Stream{
			Labels:  `{env="prod", app="api"}`,
			Entries: []push.Entry{lokiEntry(1700000000123456789, "hello")},
		})},
		{"metadata, streams, escapes", `{a="x\"y\n", b="é"} 1 "l1" {pod="p", trace_id="t"} | 2 "" ; {c="3"} 0 "bytes \xff"`, lokiProto(t,
			push.Stream{
				Labels: `{a="x\"y\n",b="\u00e9"}`,
				Entries: []push.Entry{
					lokiEntry(1, "l1", "trace_id", "t", "pod", "p"),
					lokiEntry(2, ""),
				},
			},
			push.Stream{Labels: "{c=`3`}", Entries: []push.Entry{lokiEntry(0, "bytes \xff")}},
		)},
		{"repeated metadata name, last wins", `{a="1"} 5 "x" {k="2"}`, lokiProto(t, push.Stream{
			Labels: `{a="1"}`, Entries: []push.Entry{lokiEntry(5, "x", "k", "1", "k", "2")},
		})},
		{"ignored fields", `{a="1"} 5 "x"`, func() []byte {
			req := push.PushRequest{Format: "loki", Streams: []push.Stream{{
				Labels: `{a="1"}`,
				Hash:   42,
				Entries: []push.Entry{{
					Timestamp: time.Unix(0, 5),
					Line:      "x",
					Parsed:    push.LabelsAdapter{{Name: "p", Value: "v"}},
				}},
			}}}
			b, err := req.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			// An unknown field of each other wire type, which must be skipped.
			b = protowire.AppendTag(b, 9, protowire.Fixed32Type)
			b = protowire.AppendFixed32(b, 1)
			b = protowire.AppendTag(b, 10, protowire.Fixed64Type)
			b = protowire.AppendFixed64(b, 1)
			return b
		}()},
		{"last year that fits", `{a="1"} 9223372036854775807 "x"`, lokiProto(t, push.Stream{
			Labels: `{a="1"}`, Entries: []push.Entry{lokiEntry(1<<63-1, "x")},
		})},
	}
}

func protoBad(t testing.TB) []protoCase {
	stream := func(labels string, entries ...push.Entry) []byte {
		return lokiProto(t, push.Stream{Labels: labels, Entries: entries})
	}
	good := stream(`{a="1"}`, lokiEntry(1, "line"))
	// rawEntry wraps a hand-made EntryAdapter in a valid stream and request,
	// for values Loki's types cannot express.
	rawEntry := func(entry []byte) []byte {
		s := protowire.AppendTag(nil, fieldStreamLabels, protowire.BytesType)
		s = protowire.AppendString(s, `{a="1"}`)
		s = protowire.AppendTag(s, fieldStreamEntries, protowire.BytesType)
		s = protowire.AppendBytes(s, entry)
		r := protowire.AppendTag(nil, fieldPushStreams, protowire.BytesType)
		return protowire.AppendBytes(r, s)
	}
	timestamp := func(secs, nanos uint64) []byte {
		ts := protowire.AppendTag(nil, fieldTimestampSeconds, protowire.VarintType)
		ts = protowire.AppendVarint(ts, secs)
		ts = protowire.AppendTag(ts, fieldTimestampNanos, protowire.VarintType)
		ts = protowire.AppendVarint(ts, nanos)
		e := protowire.AppendTag(nil, fieldEntryTimestamp, protowire.BytesType)
		return protowire.AppendBytes(e, ts)
	}
	return []protoCase{
		{"truncated", `protobuf PushRequest: unexpected EOF`, good[:len(good)-2]},
		{"truncated entry", `protobuf streams[0].entries[0].EntryAdapter: unexpected EOF`, rawEntry([]byte{0x12, 0x05, 'a'})},
		{"truncated tag", `protobuf PushRequest: unexpected EOF`, append(append([]byte{}, good...), 0x0a)},
		{"streams wrong wire type", `PushRequest.streams: field 1 has wire type varint, want bytes`,
			protowire.AppendVarint(protowire.AppendTag(nil, fieldPushStreams, protowire.VarintType), 1)},
		{"field number zero", `protobuf PushRequest: invalid field number`, []byte{0x02, 0x00}},
		{"no labels", `streams[0].labels: "": bad label syntax at position 0: expected '{'`, stream(``, lokiEntry(1, "x"))},
		{"empty labels", `streams[0].labels: "{}": empty stream labels`, stream(`{}`, lokiEntry(1, "x"))},
		{"only empty values", `empty stream labels`, stream(`{a=""}`, lokiEntry(1, "x"))},
		{"bad label syntax", `bad label syntax at position 4: expected '"' to open label value`, stream(`{a= 1}`)},
		{"invalid label name", `bad label syntax at position 1: invalid label name "a.b"`, stream(`{a.b="1"}`)},
		{"duplicate label", `duplicate label name "a"`, stream(`{a="1", a="2"}`)},
		{"matcher", `only '=' is allowed`, stream(`{a=~"1"}`)},
		{"before 1970", `streams[0].entries[0].timestamp: seconds -1 out of range`,
			stream(`{a="1"}`, push.Entry{Timestamp: time.Unix(-1, 0), Line: "x"})},
		{"zero time.Time", `seconds -62135596800 out of range`, stream(`{a="1"}`, push.Entry{Line: "x"})},
		{"after 2262", `seconds 9223372037 out of range`,
			stream(`{a="1"}`, push.Entry{Timestamp: time.Unix(9223372037, 0), Line: "x"})},
		{"ns overflow in 2262", `seconds 9223372036 out of range`, rawEntry(timestamp(9223372036, 854775808))},
		{"nanos too big", `nanos 1000000000 out of range`, rawEntry(timestamp(1, 1e9))},
		{"negative nanos", `nanos -1 out of range`, rawEntry(timestamp(1, 1<<64-1))},
		{"empty metadata name", `streams[0].entries[1].structuredMetadata: empty structured metadata name`,
			stream(`{a="1"}`, lokiEntry(1, "ok"), lokiEntry(2, "x", "", "v"))},
		{"metadata not UTF-8", `structuredMetadata: structured metadata "k"="\xfe" is not valid UTF-8`,
			stream(`{a="1"}`, lokiEntry(1, "x", "k", "\xfe"))},
		{"missing timestamp", `streams[0].entries[0].timestamp: missing`,
			rawEntry(protowire.AppendString(protowire.AppendTag(nil, fieldEntryLine, protowire.BytesType), "x"))},
		{"line wrong wire type", `streams[0].entries[0].line: field 2 has wire type varint, want bytes`,
			rawEntry(protowire.AppendVarint(protowire.AppendTag(nil, fieldEntryLine, protowire.VarintType), 1))},
		{"seconds wrong wire type", `timestamp: field 1 has wire type fixed64, want varint`,
			rawEntry(protowire.AppendBytes(protowire.AppendTag(nil, fieldEntryTimestamp, protowire.BytesType),
				protowire.AppendFixed64(protowire.AppendTag(nil, fieldTimestampSeconds, protowire.Fixed64Type), 1)))},
	}
}

func TestDecodeProto(t *testing.T) {
	for _, c := range protoGood(t) {
		t.Run(c.name, func(t *testing.T) {
			streams, err := DecodeProto(c.body)
			if err != nil {
				t.Fatalf("DecodeProto: %v", err)
			}
			if got := renderStreams(streams); got != c.want {
				t.Fatalf("got  %s\nwant %s", got, c.want)
			}
			for _, s := range streams {
				for _, e := range s.Entries {
					if !e.Labels.Equal(s.Labels) {
						t.Errorf("entry labels %s; want %s", e.Labels, s.Labels)
					}
				}
			}
		})
	}
}

func TestDecodeProtoErrors(t *testing.T) {
	for _, c := range protoBad(t) {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeProto(c.body)
			if err == nil {
				t.Fatalf("no error; want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q; want it to contain %q", err, c.want)
			}
			if !errors.Is(err, ErrInvalidPayload) {
				t.Errorf("error %q does not wrap ErrInvalidPayload", err)
			}
		})
	}
}

func TestDecodeProtoInvalidLabelIsDetectable(t *testing.T) {
	_, err := DecodeProto(lokiProto(t, push.Stream{Labels: `{0a="1"}`}))
	var il *logmodel.ErrInvalidLabel
	if !errors.Is(err, ErrBadLabels) || !errors.As(err, &il) || il.Name != "0a" {
		t.Fatalf("got %v; want ErrBadLabels and a *logmodel.ErrInvalidLabel for 0a", err)
	}
}

func BenchmarkDecodeProto(b *testing.B) {
	body := benchProto(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeProto(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeProtoLoki is the baseline for BenchmarkDecodeProto: Loki's
// generated gogo/protobuf unmarshaller, which leaves labels unparsed.
func BenchmarkDecodeProtoLoki(b *testing.B) {
	body := benchProto(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var req push.PushRequest
		if err := req.Unmarshal(body); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzDecodeProto(f *testing.F) {
	for _, c := range protoGood(f) {
		f.Add(c.body)
	}
	for _, c := range protoBad(f) {
		f.Add(c.body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		streams, err := DecodeProto(body)
		if err != nil {
			if !errors.Is(err, ErrInvalidPayload) {
				t.Fatalf("error %v does not wrap ErrInvalidPayload", err)
			}
			return
		}
		checkStreams(t, streams)
		// Where Loki's own unmarshaller also accepts the body, both must
		// read the same entries.
		var req push.PushRequest
		if req.Unmarshal(body) != nil {
			return
		}
		if len(req.Streams) != len(streams) {
			t.Fatalf("%d streams; Loki reads %d", len(streams), len(req.Streams))
		}
		for i, ls := range req.Streams {
			s := streams[i]
			want, err := ParseLabels(ls.Labels)
			if err != nil || !want.Equal(s.Labels) {
				t.Fatalf("stream %d labels %s; Loki has %q", i, s.Labels, ls.Labels)
			}
			if len(ls.Entries) != len(s.Entries) {
				t.Fatalf("stream %d: %d entries; Loki reads %d", i, len(s.Entries), len(ls.Entries))
			}
			for j, le := range ls.Entries {
				e := s.Entries[j]
				if e.Timestamp != le.Timestamp.UnixNano() || string(e.Line) != le.Line {
					t.Fatalf("entry %d/%d: %d %q; Loki reads %d %q", i, j, e.Timestamp, e.Line, le.Timestamp.UnixNano(), le.Line)
				}
				md := make(logmodel.Labels, 0, len(le.StructuredMetadata))
				for _, l := range le.StructuredMetadata {
					md = append(md, logmodel.Label{Name: l.Name, Value: l.Value})
				}
				if md = sortMetadata(md); !md.Equal(e.Metadata) {
					t.Fatalf("entry %d/%d metadata %s; Loki reads %s", i, j, e.Metadata, md)
				}
			}
		}
	})
}
