package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"

	"github.com/kubelog/kubelog/internal/logmodel"
)

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecodePush(t *testing.T) {
	jsonBody := []byte(`{"streams":[{"stream":{"app":"api"},"values":[["5","hello"]]}]}`)
	protoBody := lokiProto(t, push.Stream{Labels: `{app="api"}`, Entries: []push.Entry{lokiEntry(5, "hello")}})
	const want = `{app="api"} 5 "hello"`
	f := func(contentType, contentEncoding string, body []byte) {
		t.Helper()
		streams, err := DecodePush(contentType, contentEncoding, bytes.NewReader(body), 1<<20)
		if err != nil {
			t.Fatalf("DecodePush(%q, %q): %v", contentType, contentEncoding, err)
		}
		if got := renderStreams(streams); got != want {
			t.Fatalf("DecodePush(%q, %q) = %s; want %s", contentType, contentEncoding, got, want)
		}
	}
	f("application/json", "", jsonBody)
	f("Application/JSON; charset=utf-8", "identity", jsonBody)
	f("application/json", "gzip", gzipped(t, jsonBody))
	f("application/json", " GZIP ", gzipped(t, jsonBody))
	f("application/x-protobuf", "", snappy.Encode(nil, protoBody))
	f("application/x-protobuf", "snappy", snappy.Encode(nil, protoBody))
	f("", "", snappy.Encode(nil, protoBody))
	f("application/x-protobuf", "gzip", gzipped(t, snappy.Encode(nil, protoBody)))
}

func TestDecodePushErrors(t *testing.T) {
	jsonBody := []byte(`{"streams":[{"stream":{"app":"api"},"values":[["5","` + strings.Repeat("x", 1000) + `"]]}]}`)
	protoBody := lokiProto(t, push.Stream{Labels: `{app="api"}`, Entries: []push.Entry{lokiEntry(5, strings.Repeat("x", 1000))}})
	f := func(contentType, contentEncoding string, body io.Reader, maxBytes int64, want error, wantMsg string) {
		t.Helper()
		_, err := DecodePush(contentType, contentEncoding, body, maxBytes)
		if !errors.Is(err, want) {
			t.Fatalf("DecodePush(%q, %q): error %v; want %v", contentType, contentEncoding, err, want)
		}
		if !strings.Contains(err.Error(), wantMsg) {
			t.Fatalf("DecodePush(%q, %q): error %q; want it to contain %q", contentType, contentEncoding, err, wantMsg)
		}
	}
	r := bytes.NewReader
	f("text/plain", "", r(jsonBody), 1<<20, ErrUnsupportedContentType, `unsupported content type "text/plain"`)
	f("application/json", "snappy", r(jsonBody), 1<<20, ErrUnsupportedEncoding, `unsupported content encoding "snappy"`)
	f("application/x-protobuf", "br", r(protoBody), 1<<20, ErrUnsupportedEncoding, `unsupported content encoding "br"`)

	// Limits apply to the body as sent and to each decompressed form.
	f("application/json", "", r(jsonBody), 100, ErrTooLarge, "body over 100 bytes")
	f("application/json", "gzip", r(gzipped(t, jsonBody)), 500, ErrTooLarge, "decompressed body over 500 bytes")
	f("application/x-protobuf", "", r(snappy.Encode(nil, protoBody)), 10, ErrTooLarge, "body over 10 bytes")
	f("application/x-protobuf", "", r(snappy.Encode(nil, protoBody)), 500, ErrTooLarge, "decompressed body of 1026 bytes over 500")
	f("application/x-protobuf", "gzip", r(gzipped(t, snappy.Encode(nil, protoBody))), 500, ErrTooLarge, "over 500")
	bomb := gzipped(t, make([]byte, 64<<20))
	f("application/json", "gzip", r(bomb), 1<<20, ErrTooLarge, "decompressed body over 1048576 bytes")

	f("application/json", "gzip", r(jsonBody), 1<<20, ErrInvalidPayload, "gzip: ")
	f("application/json", "gzip", r(gzipped(t, jsonBody)[:40]), 1<<20, ErrInvalidPayload, "gzip: unexpected EOF")
	f("application/x-protobuf", "", r([]byte("\xff\xff\xff\xff\xff\xff")), 1<<20, ErrInvalidPayload, "snappy: ")
	f("application/x-protobuf", "", r([]byte("\xff\xff\xff\x0f\x00")), 1<<40, ErrInvalidPayload, "snappy: block of 5 bytes cannot decode to the 33554431 it declares")
	dense := lokiProto(t, push.Stream{Labels: `{a="1"}`, Entries: []push.Entry{lokiEntry(1, strings.Repeat("a", 1<<20))}})
	dense = snappy.Encode(nil, dense)
	if _, err := DecodePush("", "", r(dense), 2<<20); err != nil {
		t.Fatalf("DecodePush of a 1 MiB line of one letter, %d bytes compressed: %v", len(dense), err)
	}
	f("application/x-protobuf", "", r(append(snappy.Encode(nil, protoBody)[:30], 0)), 1<<20, ErrInvalidPayload, "snappy: ")
	f("application/json", "", r([]byte(`{`)), 1<<20, ErrInvalidPayload, "malformed JSON at offset 1")

	// A broken connection is not the client's bad payload.
	broken := errors.New("connection reset")
	_, err := DecodePush("application/json", "gzip", io.MultiReader(bytes.NewReader(gzipped(t, jsonBody)[:20]), iotest.ErrReader(broken)), 1<<20)
	if !errors.Is(err, broken) || errors.Is(err, ErrInvalidPayload) {
		t.Fatalf("got %v; want the read error, not ErrInvalidPayload", err)
	}
	_, err = DecodePush("application/x-protobuf", "", iotest.ErrReader(broken), 1<<20)
	if !errors.Is(err, broken) || errors.Is(err, ErrInvalidPayload) {
		t.Fatalf("got %v; want the read error, not ErrInvalidPayload", err)
	}
}

// TestDecodePushNoLimit checks that maxBytes <= 0 disables the limit.
func TestDecodePushNoLimit(t *testing.T) {
	body := benchJSON(t)
	streams, err := DecodePush("application/json", "gzip", bytes.NewReader(gzipped(t, body)), 0)
	if err != nil || len(streams) == 0 {
		t.Fatalf("got %d streams, %v; want the payload", len(streams), err)
	}
}

// benchStreams is a realistic push: 1000 lines in 10 streams, the first 100
// lines of ten loghub samples when present, else synthetic lines. Every fifth
// entry carries a trace_id as structured metadata.
func benchStreams(t testing.TB) []Stream {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(loghubDir, "*_2k.log"))
	base := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC).UnixNano()
	streams := make([]Stream, 10)
	for i := range streams {
		app := fmt.Sprintf("app-%d", i)
		var lines [][]byte
		if i < len(logs) {
			app = strings.ToLower(strings.TrimSuffix(filepath.Base(logs[i]), "_2k.log"))
			lines = loghubLines(t, logs[i])
		}
		ls := logmodel.FromPairs("app", app, "cluster", "prod-eu-1", "container", "main",
			"namespace", "payments", "pod", app+"-7d9f8b6c5-x2x4q")
		s := Stream{Labels: ls}
		for j := range 100 {
			line := fmt.Appendf(nil, `level=info msg="request served" path=/api/v1/items/%d status=200 duration=%dms`, j, j%37)
			if j < len(lines) {
				line = lines[j]
			}
			e := logmodel.Entry{Labels: ls, Timestamp: base + int64(i*1000+j)*int64(time.Millisecond), Line: line}
			if j%5 == 0 {
				e.Metadata = logmodel.FromPairs("trace_id", fmt.Sprintf("%032x", j*7919+i))
			}
			s.Entries = append(s.Entries, e)
		}
		streams[i] = s
	}
	return streams
}

// benchJSON is benchStreams as a JSON push body, written by encoding/json.
func benchJSON(t testing.TB) []byte {
	return encodeJSON(t, benchStreams(t))
}

// benchProto is benchStreams as an uncompressed protobuf push body, written
// by Loki's types.
func benchProto(t testing.TB) []byte {
	var ps []push.Stream
	for _, s := range benchStreams(t) {
		p := push.Stream{Labels: s.Labels.String()}
		for _, e := range s.Entries {
			pe := push.Entry{Timestamp: time.Unix(0, e.Timestamp), Line: string(e.Line)}
			for _, m := range e.Metadata {
				pe.StructuredMetadata = append(pe.StructuredMetadata, push.LabelAdapter{Name: m.Name, Value: m.Value})
			}
			p.Entries = append(p.Entries, pe)
		}
		ps = append(ps, p)
	}
	return lokiProto(t, ps...)
}

func TestBenchPayloadsDecode(t *testing.T) {
	want := renderStreams(benchStreams(t))
	js, err := DecodeJSON(benchJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := renderStreams(js); got != want {
		t.Fatalf("JSON: got %.200s; want %.200s", got, want)
	}
	ps, err := DecodeProto(benchProto(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := renderStreams(ps); got != want {
		t.Fatalf("protobuf: got %.200s; want %.200s", got, want)
	}
}

// BenchmarkDecodePushProto is the whole protobuf path: read, snappy, decode.
// Bytes are the uncompressed protobuf.
func BenchmarkDecodePushProto(b *testing.B) {
	raw := benchProto(b)
	body := snappy.Encode(nil, raw)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodePush(ContentTypeProtobuf, "", bytes.NewReader(body), 64<<20); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodePushProtoPooled is BenchmarkDecodePushProto releasing each
// result, as the push handler does, so that buffers are reused.
func BenchmarkDecodePushProtoPooled(b *testing.B) {
	raw := benchProto(b)
	body := snappy.Encode(nil, raw)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		_, release, err := DecodePushPooled(ContentTypeProtobuf, "", bytes.NewReader(body), 64<<20)
		if err != nil {
			b.Fatal(err)
		}
		release()
	}
}

// BenchmarkDecodePushJSONGzip is the whole gzipped JSON path. Bytes are the
// uncompressed JSON.
func BenchmarkDecodePushJSONGzip(b *testing.B) {
	raw := benchJSON(b)
	body := gzipped(b, raw)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodePush(ContentTypeJSON, "gzip", bytes.NewReader(body), 64<<20); err != nil {
			b.Fatal(err)
		}
	}
}
