package archive

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/store"
)

func TestObjectKeyRoundTrip(t *testing.T) {
	hour := time.Date(2026, 11, 21, 13, 0, 0, 0, time.UTC).UnixNano()
	f := func(k ObjectKey, want string) {
		t.Helper()
		got := k.String()
		if got != want {
			t.Fatalf("String: got %q; want %q", got, want)
		}
		back, err := ParseObjectKey(got)
		if err != nil {
			t.Fatalf("ParseObjectKey(%q): %v", got, err)
		}
		k.Prefix = strings.Trim(k.Prefix, "/")
		if back != k {
			t.Fatalf("ParseObjectKey(%q): got %+v; want %+v", got, back, k)
		}
	}
	f(ObjectKey{Prefix: "logs/prod", Tenant: "default", Cluster: "c1", Namespace: "pay", Pod: "api-0", Container: "app", Hour: hour, FirstTs: hour + 5, LastTs: hour + 99, Compression: CompressionZstd},
		fmt.Sprintf("logs/prod/default/c1/pay/api-0/app/2026/11/21/13/%d-%d.ndjson.zst", hour+5, hour+99))
	f(ObjectKey{Tenant: "t", Namespace: "a/b", Pod: "_", Hour: hour, FirstTs: hour, LastTs: hour, Compression: CompressionGzip},
		fmt.Sprintf("t/_/a%%2Fb/%%5F/_/2026/11/21/13/%d-%d.ndjson.gz", hour, hour))
	for _, bad := range []string{"", "a/b", "t/c/n/p/c/2026/11/21/13/1-2.ndjson", "t/c/n/p/c/2026/13/21/13/1-2.ndjson.zst",
		fmt.Sprintf("t/c/n/p/c/2026/11/21/13/%d-%d.ndjson.zst", hour+10, hour+5), "t/c//p/c/2026/11/21/13/1-2.ndjson.zst"} {
		if _, err := ParseObjectKey(bad); err == nil {
			t.Errorf("ParseObjectKey(%q): no error", bad)
		}
	}
}

func FuzzParseObjectKey(f *testing.F) {
	f.Add("logs/default/c1/pay/api-0/app/2026/11/21/13/1795266000000000005-1795266000000000099.ndjson.zst")
	f.Add("t/_/a%2Fb/%5F/_/2026/11/21/13/1795266000000000000-1795266000000000000.ndjson.gz")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseObjectKey(s)
		if err != nil {
			return
		}
		back, err := ParseObjectKey(k.String())
		if err != nil {
			t.Fatalf("re-parse of %q (from %q): %v", k.String(), s, err)
		}
		if back != k {
			t.Fatalf("round trip of %q: got %+v; want %+v", s, back, k)
		}
	})
}

func TestSchedule(t *testing.T) {
	last := time.Date(2026, 11, 21, 13, 25, 0, 0, time.UTC)
	f := func(spec string, want time.Time) {
		t.Helper()
		s, err := ParseSchedule(spec)
		if err != nil {
			t.Fatalf("ParseSchedule(%q): %v", spec, err)
		}
		if got := s.Next(last); !got.Equal(want) {
			t.Fatalf("%s: Next(%s) = %s; want %s", spec, last, got, want)
		}
		if got := s.Next(time.Time{}); !got.IsZero() {
			t.Fatalf("%s: a policy that never ran is due at once; got %s", spec, got)
		}
	}
	f("@hourly", time.Date(2026, 11, 21, 14, 0, 0, 0, time.UTC))
	f("@daily", time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC))
	f("6h", last.Add(6*time.Hour))
	f("1d", last.Add(24*time.Hour))
	for _, bad := range []string{"", "@weekly", "10s", "soon", "-1h"} {
		if _, err := ParseSchedule(bad); err == nil {
			t.Errorf("ParseSchedule(%q): no error", bad)
		}
	}
}

func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"@hourly", "@daily", "6h", "1d12h", "90m", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := ParseSchedule(s)
		if err != nil {
			return
		}
		last := time.Date(2026, 1, 1, 0, 30, 0, 0, time.UTC)
		if next := sc.Next(last); !next.After(last) {
			t.Fatalf("%q: Next(%s) = %s is not after it", s, last, next)
		}
	})
}

func sampleEntries() []logmodel.Entry {
	ls := logmodel.FromPairs("app", "api", "cluster", "c1", "container", "app", "namespace", "pay", "pod", "api-0")
	return []logmodel.Entry{
		{Labels: ls, Timestamp: 1795266000123456789, Line: []byte(`GET /pay?x=<1>&y="2" 200`), Metadata: logmodel.FromPairs("level", "info", "stream", "stdout"), Cursor: logmodel.Cursor{Seq: 7}},
		{Labels: ls, Timestamp: 1795266000123456790, Line: []byte("tab\tnew\nline \u2028 ctl\x01 é"), Cursor: logmodel.Cursor{Seq: 8}},
		{Labels: ls, Timestamp: 1795266000123456791, Line: []byte("bad \xff\xfe utf8"), Metadata: logmodel.FromPairs("level", "error"), Cursor: logmodel.Cursor{Seq: 9}},
	}
}

// TestEntryJSONMatchesEncodingJSON checks that the hand-written encoder
// writes what encoding/json writes for logmodel.EntryJSON.
func TestEntryJSONMatchesEncodingJSON(t *testing.T) {
	for _, e := range sampleEntries() {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(e.ToJSON()); err != nil {
			t.Fatal(err)
		}
		got := string(AppendEntryJSON(nil, &e)) + "\n"
		if got != want.String() {
			t.Errorf("got  %s\nwant %s", got, want.String())
		}
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, c := range []string{CompressionZstd, CompressionGzip} {
		in := sampleEntries()
		enc, err := NewEncoder(c)
		if err != nil {
			t.Fatal(err)
		}
		for i := range in {
			if err := enc.Write(&in[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := enc.Close(); err != nil {
			t.Fatal(err)
		}
		if enc.Lines != 3 || enc.FirstTs != in[0].Timestamp || enc.LastTs != in[2].Timestamp {
			t.Fatalf("%s: lines %d first %d last %d", c, enc.Lines, enc.FirstTs, enc.LastTs)
		}
		d, err := NewDecoder(bytes.NewReader(enc.Bytes()), c)
		if err != nil {
			t.Fatal(err)
		}
		for i := range in {
			got, err := d.Next()
			if err != nil {
				t.Fatalf("%s: entry %d: %v", c, i, err)
			}
			want := in[i]
			if got.Timestamp != want.Timestamp || got.Cursor != want.Cursor || !bytes.Equal(got.Line, want.Line) || !got.Labels.Equal(want.Labels) || !got.Metadata.Equal(want.Metadata) {
				t.Errorf("%s: entry %d: got %+v; want %+v", c, i, got, want)
			}
		}
		if _, err := d.Next(); err != io.EOF {
			t.Errorf("%s: after the last entry: %v; want EOF", c, err)
		}
		d.Close()
	}
}

func FuzzDecodeObject(f *testing.F) {
	enc, _ := NewEncoder(CompressionZstd)
	for _, e := range sampleEntries() {
		_ = enc.Write(&e)
	}
	_ = enc.Close()
	f.Add(enc.Bytes(), true)
	f.Add([]byte("not compressed"), false)
	f.Fuzz(func(t *testing.T, data []byte, zstd bool) {
		c := CompressionGzip
		if zstd {
			c = CompressionZstd
		}
		d, err := NewDecoder(bytes.NewReader(data), c)
		if err != nil {
			return
		}
		defer d.Close()
		for i := 0; i < 1000; i++ {
			e, err := d.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				continue
			}
			line := AppendEntryJSON(nil, &e)
			back, err := ParseEntryJSON(line)
			if err != nil {
				t.Fatalf("re-decode of %s: %v", line, err)
			}
			if back.Timestamp != e.Timestamp || back.Cursor != e.Cursor || !bytes.Equal(back.Line, e.Line) {
				t.Fatalf("round trip of %s changed the entry", line)
			}
		}
	})
}

func BenchmarkEncoder(b *testing.B) {
	ls := logmodel.FromPairs("app", "api", "cluster", "c1", "container", "app", "namespace", "pay", "node", "n1", "pod", "api-0")
	md := logmodel.FromPairs("level", "info", "stream", "stdout")
	entries := make([]logmodel.Entry, 4096)
	var raw int64
	for i := range entries {
		line := fmt.Sprintf("2026-11-21 12:00:%02d.%03d INFO [worker-%d] request id=%08x path=/api/v1/items/%d status=200 took=%dms", i%60, i%1000, i%8, i*7919, i%500, i%97)
		entries[i] = logmodel.Entry{Labels: ls, Timestamp: 1795266000000000000 + int64(i)*1e6, Line: []byte(line), Metadata: md, Cursor: logmodel.Cursor{Seq: uint64(i + 1)}}
		raw += int64(len(line))
	}
	pool := NewEncoderPool(1)
	b.ReportAllocs()
	b.SetBytes(raw)
	for b.Loop() {
		enc, err := pool.Get(CompressionZstd)
		if err != nil {
			b.Fatal(err)
		}
		for i := range entries {
			if err := enc.Write(&entries[i]); err != nil {
				b.Fatal(err)
			}
		}
		if err := enc.Close(); err != nil {
			b.Fatal(err)
		}
		enc.Release()
	}
}

func TestAppendCursor(t *testing.T) {
	for _, seq := range []uint64{0, 1, 127, 128, 1 << 20, 1<<63 + 5} {
		c := logmodel.Cursor{Seq: seq}
		if got := string(appendCursor(nil, c)); got != c.String() {
			t.Errorf("appendCursor(%d) = %q; want %q", seq, got, c.String())
		}
	}
}

// BenchmarkEncodeObject measures an upload goroutine's CPU work for one
// object: sorting a stream's collected rows, rebuilding the entries from the
// arena, encoding, compressing and hashing.
func BenchmarkEncodeObject(b *testing.B) {
	st := &store.Stream{ID: 1, Labels: logmodel.FromPairs("app", "api", "cluster", "c1", "container", "app", "namespace", "pay", "node", "n1", "pod", "api-0")}
	md := logmodel.FromPairs("level", "info", "stream", "stdout")
	g := &pending{st: st, arenas: make([]collectArena, 2)}
	var raw int64
	for i := range 4096 {
		line := fmt.Sprintf("2026-11-21 12:00:%02d.%03d INFO [worker-%d] request id=%08x path=/api/v1/items/%d status=200 took=%dms", i%60, i%1000, i%8, i*7919, i%500, i%97)
		w := i % 2
		a := &g.arenas[w]
		c, off := a.line([]byte(line))
		// Two scan workers deliver interleaved halves, out of order.
		g.rows = append(g.rows, row{ts: 1795266000000000000 + int64(4096-i)*1e6, seq: uint64(4096 - i), c: c, off: off, n: uint32(len(line)), md: a.metadata(md), w: int32(w)})
		raw += int64(len(line))
	}
	rows := slices.Clone(g.rows)
	p := Policy{Compression: CompressionZstd}
	bufs := newJobBuffers(1, 1)
	b.ReportAllocs()
	b.SetBytes(raw)
	for b.Loop() {
		copy(g.rows, rows)
		e, err := encodeObject(p, "t", 0, g, bufs)
		if err != nil {
			b.Fatal(err)
		}
		bufs.putBody(e.body)
	}
}

// TestEncoderLargeObjects checks objects of many compressor blocks, written
// by Encoders that a pool reuses, against the entry JSON of every line.
func TestEncoderLargeObjects(t *testing.T) {
	ls := logmodel.FromPairs("app", "api", "cluster", "c1", "container", "app", "namespace", "pay", "pod", "api-0")
	var entries []logmodel.Entry
	var want bytes.Buffer
	for i := range 5000 {
		line := fmt.Sprintf("request %d id=%08x path=/api/v1/items/%d took=%dms %s", i, i*7919, i%500, i%97, strings.Repeat("x", i%300))
		e := logmodel.Entry{Labels: ls, Timestamp: 1795266000000000000 + int64(i)*1e6, Line: []byte(line), Cursor: logmodel.Cursor{Seq: uint64(i + 1)}}
		entries = append(entries, e)
		want.Write(AppendEntryJSON(nil, &e))
		want.WriteByte('\n')
	}
	pool := NewEncoderPool(1)
	for _, c := range []string{CompressionZstd, CompressionGzip, CompressionZstd, CompressionGzip} {
		enc, err := pool.Get(c)
		if err != nil {
			t.Fatal(err)
		}
		for i := range entries {
			if err := enc.Write(&entries[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := enc.Close(); err != nil {
			t.Fatal(err)
		}
		if enc.Lines != int64(len(entries)) || enc.Raw != int64(want.Len()) {
			t.Errorf("%s: %d lines, %d bytes; want %d, %d", c, enc.Lines, enc.Raw, len(entries), want.Len())
		}
		d, err := NewDecoder(bytes.NewReader(enc.Detach(nil)), c)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		for {
			line, err := d.NextRaw()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			got.Write(line)
			got.WriteByte('\n')
		}
		d.Close()
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("%s: the object's NDJSON differs from the entries' JSON (%d bytes; want %d)", c, got.Len(), want.Len())
		}
		enc.Release()
	}
}

func TestAppendTimestamp(t *testing.T) {
	var c entryCache
	f := func(ns int64) {
		t.Helper()
		want := time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
		if got := string(c.appendTimestamp(nil, ns)); got != want {
			t.Errorf("appendTimestamp(%d) = %q; want %q", ns, got, want)
		}
	}
	for _, ns := range []int64{0, 1, -1, 999999999, 1e9, 1795266000000000000, 1795266000123456789, 1795266000120000000, 1795266000100000000,
		1795266001000000000, 1795266000999999999, -1e9, -1e9 - 1, -6213559680000000001, math.MaxInt64, math.MinInt64} {
		f(ns)
		f(ns)
	}
}

func FuzzAppendTimestamp(f *testing.F) {
	f.Add(int64(1795266000123456789), int64(5))
	f.Add(int64(-1), int64(1))
	f.Fuzz(func(t *testing.T, ns, step int64) {
		var c entryCache
		for i := range int64(3) {
			v := ns + i*step
			want := time.Unix(0, v).UTC().Format(time.RFC3339Nano)
			if got := string(c.appendTimestamp(nil, v)); got != want {
				t.Fatalf("appendTimestamp(%d) = %q; want %q", v, got, want)
			}
		}
	})
}

func BenchmarkAppendTimestamp(b *testing.B) {
	var c entryCache
	var buf []byte
	ns := int64(1795266000000000000)
	b.ReportAllocs()
	for b.Loop() {
		ns += 1234567
		buf = c.appendTimestamp(buf[:0], ns)
	}
	b.SetBytes(int64(len(buf)))
}
