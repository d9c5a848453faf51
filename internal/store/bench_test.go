package store

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/dataset"
	"github.com/kubelog/kubelog/internal/logmodel"
)

// benchEntries returns n entries of the standard dataset when the loghub
// corpus is beside the repository, else synthetic ones.
func benchEntries(b *testing.B, n int) []logmodel.Entry {
	b.Helper()
	corpus := "../../../shared/data/loghub"
	if _, err := os.Stat(corpus); err == nil {
		cfg := dataset.DefaultConfig(corpus)
		cfg.Lines = n
		cfg.Start = time.Now().Add(-29 * 24 * time.Hour).UnixNano()
		g, err := dataset.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		var out []logmodel.Entry
		for g.Remaining() > 0 {
			out = append(out, g.Next(nil, 1000)...)
		}
		return out
	}
	out := make([]logmodel.Entry, n)
	base := time.Now().Add(-29 * 24 * time.Hour).UnixNano()
	for i := range out {
		out[i] = logmodel.Entry{
			Labels:    logmodel.FromPairs("pod", fmt.Sprintf("p%d", i%400)),
			Timestamp: base + int64(i)*1000,
			Line:      []byte(fmt.Sprintf("081109 2036%02d %d INFO dfs.DataNode$PacketResponder: PacketResponder %d for block blk_%d terminating", i%60, i%1000, i%3, i*7919)),
		}
	}
	return out
}

func benchRows(b *testing.B) (*blockRows, int64) {
	es := benchEntries(b, 4000)
	rows := &blockRows{}
	var raw int64
	for _, e := range es {
		if e.Labels.Get("pod") != es[0].Labels.Get("pod") {
			continue
		}
		rows.ts = append(rows.ts, e.Timestamp)
		rows.seq = append(rows.seq, uint64(len(rows.ts)))
		rows.md = append(rows.md, -1)
		rows.lines = append(rows.lines, e.Line)
		raw += int64(len(e.Line))
	}
	for len(rows.ts) < 900 {
		rows.ts = append(rows.ts, rows.ts[len(rows.ts)-1]+1)
		rows.seq = append(rows.seq, uint64(len(rows.ts)))
		rows.md = append(rows.md, -1)
		rows.lines = append(rows.lines, rows.lines[len(rows.lines)%7])
		raw += int64(len(rows.lines[len(rows.lines)-1]))
	}
	return rows, raw
}

func BenchmarkBlockEncode(b *testing.B) {
	rows, raw := benchRows(b)
	var enc blockEncoder
	var dst, bloom []byte
	b.ReportAllocs()
	b.SetBytes(raw)
	for b.Loop() {
		dst, _, bloom = enc.encode(dst[:0], rows, nil, bloom[:0])
	}
	b.ReportMetric(float64(len(dst))/float64(len(rows.ts)), "bytes/line")
}

func BenchmarkBlockDecode(b *testing.B) {
	rows, raw := benchRows(b)
	var enc blockEncoder
	data, _, _ := enc.encode(nil, rows, nil, nil)
	var d blockDecoder
	b.ReportAllocs()
	b.SetBytes(raw)
	for b.Loop() {
		if err := d.decodeHeader(data); err != nil {
			b.Fatal(err)
		}
		if err := d.decodeText(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSplitLine(b *testing.B) {
	rows, raw := benchRows(b)
	var set hashSet
	var recent [recentTokens]uint64
	var text, digits []byte
	b.ReportAllocs()
	b.SetBytes(raw)
	for b.Loop() {
		set.reset()
		clear(recent[:])
		text, digits = text[:0], digits[:0]
		for _, l := range rows.lines {
			text, digits = splitLine(text, digits, l, &set, &recent)
		}
	}
}

func BenchmarkIndexFold(b *testing.B) {
	rows, raw := benchRows(b)
	needle := []byte("fail")
	b.ReportAllocs()
	b.SetBytes(raw)
	for b.Loop() {
		for _, l := range rows.lines {
			_ = indexFold(l, needle)
		}
	}
}

func BenchmarkAppend(b *testing.B) {
	es := benchEntries(b, 100_000)
	var raw int64
	for _, e := range es {
		raw += int64(len(e.Line))
	}
	cfg := DefaultConfig(b.TempDir())
	s, err := Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(raw)
	i := 0
	for b.Loop() {
		// Shift timestamps by an hour each round so that entries are new
		// and in order, as a collector's are.
		batch := make([]logmodel.Entry, len(es))
		copy(batch, es)
		for j := range batch {
			batch[j].Timestamp += int64(i+1) * int64(time.Hour)
		}
		i++
		for off := 0; off < len(batch); off += 2000 {
			if _, err := s.Append(ctx, "bench", batch[off:min(off+2000, len(batch))]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(es))/b.Elapsed().Seconds(), "lines/s")
}

// flushedStore returns a store holding n standard entries, flushed to parts,
// and their raw bytes.
func flushedStore(b *testing.B, n int) (*Store, int64) {
	b.Helper()
	return benchStore(b, n, true)
}

// benchStore returns a store holding n entries of the standard dataset,
// flushed to parts or left in the head, and their raw bytes.
func benchStore(b *testing.B, n int, flush bool) (*Store, int64) {
	b.Helper()
	es := benchEntries(b, n)
	var raw int64
	for _, e := range es {
		raw += int64(len(e.Line))
	}
	cfg := DefaultConfig(b.TempDir())
	if !flush {
		cfg.HeadMaxBytes = 1 << 30
	}
	s, err := Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	if _, err := s.Append(ctx, "bench", es); err != nil {
		b.Fatal(err)
	}
	if flush {
		if err := s.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	return s, raw
}

// BenchmarkQueryHeadNeedle searches a substring in 200,000 entries that are
// all in the head.
func BenchmarkQueryHeadNeedle(b *testing.B) {
	s, raw := benchStore(b, 200_000, false)
	ctx := context.Background()
	q := Query{Tenant: "bench", Limit: 1000, LineFilters: []logmodel.LineFilter{{Type: logmodel.LineContains, Value: dataset.Needle}}}
	b.ReportAllocs()
	b.SetBytes(raw)
	for b.Loop() {
		res, err := s.Query(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		if res.Stats.HeadEntriesScanned != 200_000 {
			b.Fatalf("%d head entries scanned", res.Stats.HeadEntriesScanned)
		}
	}
}

func BenchmarkQueryNeedle(b *testing.B) {
	s, _ := flushedStore(b, 200_000)
	ctx := context.Background()
	q := Query{Tenant: "bench", Limit: 1000, LineFilters: []logmodel.LineFilter{{Type: logmodel.LineToken, Value: dataset.Needle}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Query(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCountRegexp(b *testing.B) {
	s, raw := flushedStore(b, 200_000)
	ctx := context.Background()
	q := Query{Tenant: "bench", LineFilters: []logmodel.LineFilter{{Type: logmodel.LineRegexp, Value: `(?i)fail(ed|ure)`}}}
	b.ReportAllocs()
	b.SetBytes(raw)
	for b.Loop() {
		if _, _, _, err := s.Count(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTokenBloom(b *testing.B) {
	rows, raw := benchRows(b)
	var tb TokenBloom
	b.ReportAllocs()
	b.SetBytes(raw)
	for b.Loop() {
		tb.Reset()
		for _, l := range rows.lines {
			tb.Add(l)
		}
	}
}

// BenchmarkWALEncode encodes batches of 2,000 standard entries into WAL
// records, as the writer does for each request of a commit group.
func BenchmarkWALEncode(b *testing.B) {
	es := benchEntries(b, 20_000)
	var raw int64
	streams := make([]*Stream, len(es))
	byID := make(map[uint64]*Stream)
	for i, e := range es {
		raw += int64(len(e.Line))
		id := streamID("bench", e.Labels)
		if byID[id] == nil {
			byID[id] = &Stream{ID: id, Labels: e.Labels}
		}
		streams[i] = byID[id]
	}
	var enc walEncoder
	var buf []byte
	b.ReportAllocs()
	b.SetBytes(raw)
	for b.Loop() {
		buf = buf[:0]
		for off := 0; off < len(es); off += 2000 {
			enc.begin(buf, "bench")
			for i := off; i < min(off+2000, len(es)); i++ {
				enc.add(streams[i], es[i].Timestamp, uint64(i), es[i].Metadata, es[i].Line)
			}
			buf = enc.finish()
		}
	}
}

// BenchmarkBuildBloom builds the filter of one block's tokens and grams, with
// probes mapped by multiply-shift (parts) and by modulo (archive).
func BenchmarkBuildBloom(b *testing.B) {
	rows, raw := benchRows(b)
	var set hashSet
	var recent [recentTokens]uint64
	var text, digits []byte
	for _, l := range rows.lines {
		text, digits = splitLine(text, digits, l, &set, &recent)
	}
	for _, mulShift := range []bool{true, false} {
		b.Run(fmt.Sprintf("mulShift=%v", mulShift), func(b *testing.B) {
			var dst []byte
			b.ReportAllocs()
			b.SetBytes(raw)
			for b.Loop() {
				dst = buildBloom(dst[:0], &set, mulShift)
			}
		})
	}
}
