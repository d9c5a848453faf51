package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
)

var update = flag.Bool("update", false, "rewrite the on-disk format fixtures in testdata/")

// fixtureRows is the content of the format fixtures.
func fixtureRows() (*blockRows, []logmodel.Labels) {
	md := []logmodel.Labels{logmodel.FromPairs("level", "error", "stream", "stderr"), logmodel.FromPairs("level", "info")}
	r := &blockRows{}
	for i := 0; i < 20; i++ {
		r.ts = append(r.ts, 1_790_000_000_000_000_000+int64(i)*1_000_123)
		r.seq = append(r.seq, uint64(100+i))
		r.md = append(r.md, int32(i%3)-1)
		line := fmt.Sprintf("line %02d status=%d user_%d took %dms", i, 200+i, i*7, i*13)
		if i == 7 {
			line = "not utf-8: \xff\xfe end"
		}
		r.lines = append(r.lines, []byte(line))
	}
	return r, md
}

// fixturePackedRows is the second block of the part fixture: lines whose
// digits are random, so that the block packs them.
func fixturePackedRows() *blockRows {
	rng := rand.New(rand.NewPCG(5, 6))
	digits := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + rng.IntN(10))
		}
		return b
	}
	r := &blockRows{}
	for i := 0; i < 20; i++ {
		r.ts = append(r.ts, 1_790_000_000_100_000_000+int64(i)*1_000_123)
		r.seq = append(r.seq, uint64(200+i))
		r.md = append(r.md, -1)
		r.lines = append(r.lines, fmt.Appendf(nil, "req %s from %s.%s took %sus", digits(12), digits(3), digits(1+i%3), digits(2+i%5)))
	}
	return r
}

// TestFormatFixture reads a part (format 4) and a WAL segment (record
// kind 2) written by the current version and
// checks every field, so that a change to the format that breaks old files
// fails here. Regenerate with -update only for a deliberate, versioned change.
func TestFormatFixture(t *testing.T) {
	partPath := filepath.Join("testdata", "format-v4.part")
	walPath := filepath.Join("testdata", "format-v2.wal")
	rows, md := fixtureRows()
	packed := fixturePackedRows()
	st := &Stream{ID: 42, Tenant: "fixture", Labels: logmodel.FromPairs("namespace", "ns", "pod", "p")}
	if *update {
		pw, err := newPartWriter(partPath, "fixture")
		if err != nil {
			t.Fatal(err)
		}
		var enc blockEncoder
		pw.startStream(st.ID, st.Labels)
		for _, r := range []*blockRows{rows, packed} {
			data, meta, bloom := enc.encode(nil, r, md, nil)
			if err := pw.addBlock(data, meta, bloom); err != nil {
				t.Fatal(err)
			}
		}
		if err := pw.finish(); err != nil {
			t.Fatal(err)
		}
		var we walEncoder
		we.begin(nil, "fixture")
		for i := range rows.ts {
			var m logmodel.Labels
			if rows.md[i] >= 0 {
				m = md[rows.md[i]]
			}
			we.add(st, rows.ts[i], rows.seq[i], m, rows.lines[i])
		}
		if err := os.WriteFile(walPath, we.finish(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := openPart(partPath)
	if err != nil {
		t.Fatalf("open part: %v", err)
	}
	defer p.unref()
	if p.tenant != "fixture" || len(p.streams) != 1 || !p.streams[0].labels.Equal(st.Labels) || p.streams[0].id != 42 {
		t.Fatalf("part header: tenant %q streams %+v", p.tenant, p.streams)
	}
	raw, err := p.readBlock(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	var d blockDecoder
	if err := d.decodeHeader(raw); err != nil {
		t.Fatal(err)
	}
	if err := d.decodeText(); err != nil {
		t.Fatal(err)
	}
	for i := range rows.ts {
		var want logmodel.Labels
		if rows.md[i] >= 0 {
			want = md[rows.md[i]]
		}
		if d.ts[i] != rows.ts[i] || d.seq[i] != rows.seq[i] || !bytes.Equal(d.line(i), rows.lines[i]) || !d.metadata(i).Equal(want) {
			t.Fatalf("row %d: got %d %d %q %v", i, d.ts[i], d.seq[i], d.line(i), d.metadata(i))
		}
	}
	if d.digitsMode != digitsHuff0 {
		t.Fatalf("block 0 (few, skewed digits) has digits mode %d; want huff0", d.digitsMode)
	}
	if raw, err = p.readBlock(1, raw); err != nil {
		t.Fatal(err)
	}
	if err := d.decodeHeader(raw); err != nil {
		t.Fatal(err)
	}
	if err := d.decodeText(); err != nil {
		t.Fatal(err)
	}
	if d.digitsMode != digitsPacked || d.count != len(packed.ts) {
		t.Fatalf("block 1 (random digits): digits mode %d, %d entries; want packed, %d", d.digitsMode, d.count, len(packed.ts))
	}
	for i := range packed.ts {
		if d.ts[i] != packed.ts[i] || d.seq[i] != packed.seq[i] || !bytes.Equal(d.line(i), packed.lines[i]) {
			t.Fatalf("block 1 row %d: got %d %d %q", i, d.ts[i], d.seq[i], d.line(i))
		}
	}
	if !bloomMayContain(p.bloom(0), tokenHash("status"), true) || p.format != 4 {
		t.Fatalf("bloom lacks a token of the block, or the part is of format %d", p.format)
	}
	toks, grams, _ := substringHashes("ne 07 stat") // "line" ends in "ne", "status" starts with "stat"
	_, _, inner := substringHashes("tatu")          // inside "status"
	if len(inner) != 1 {
		t.Fatalf("inner grams of tatu: %v", inner)
	}
	for _, h := range slices.Concat(toks, grams, inner) {
		if !bloomMayContain(p.bloom(0), h, true) {
			t.Fatal("bloom lacks a gram of the block")
		}
	}
	var recs []walRecord
	if _, torn, err := replaySegment(walPath, func(r walRecord) error { recs = append(recs, r); return nil }); err != nil || torn {
		t.Fatalf("replay v1 wal: torn=%v err=%v", torn, err)
	}
	if len(recs) != 1 || len(recs[0].entries) != len(rows.ts) || recs[0].tenant != "fixture" {
		t.Fatalf("wal records: %+v", recs)
	}
	for i, e := range recs[0].entries {
		if e.ts != rows.ts[i] || e.seq != rows.seq[i] || !bytes.Equal(e.line, rows.lines[i]) {
			t.Fatalf("wal entry %d: %+v", i, e)
		}
	}
}

// TestNeedleSkipsBlocks checks that a token search, and a substring search
// cut inside tokens on both sides (only inner grams can prune it), skip at
// least 90% of the blocks through their bloom filters.
func TestNeedleSkipsBlocks(t *testing.T) {
	cfg, clk := testConfig(t)
	cfg.BlockTargetBytes = 2 << 10
	s := openTest(t, cfg)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"GET", "POST", "status", "user", "session", "timeout", "connected", "served", "cache", "miss", "hit", "db", "query"}
	base := clk.Now().Add(-time.Hour)
	planted := 0
	for b := 0; b < 20; b++ {
		var batch []logmodel.Entry
		for i := 0; i < 1000; i++ {
			ls := logmodel.FromPairs("pod", fmt.Sprintf("p%d", i%10))
			line := fmt.Sprintf("%s %s %s id=%d", words[rng.IntN(len(words))], words[rng.IntN(len(words))], words[rng.IntN(len(words))], rng.IntN(1e6))
			if rng.IntN(2000) == 0 {
				line += " xneedle-7f3a9cx"
				planted++
			}
			batch = append(batch, ent(ls, base.Add(time.Duration(b*1000+i)*time.Millisecond), line))
		}
		mustAppend(t, s, "t", batch...)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, f := range []logmodel.LineFilter{{Type: logmodel.LineToken, Value: "xneedle-7f3a9cx"}, {Type: logmodel.LineContains, Value: "needl"}} {
		res, err := s.Query(ctx, Query{Tenant: "t", Limit: 1000, LineFilters: []logmodel.LineFilter{f}})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Entries) != planted {
			t.Fatalf("%q: found %d; planted %d", f.Value, len(res.Entries), planted)
		}
		st := res.Stats
		skipped := float64(st.BlocksSkippedBloom) / float64(st.BlocksTotal)
		t.Logf("%q: blocks %d, skipped by bloom %d (%.1f%%), scanned %d, bytes skipped %d", f.Value, st.BlocksTotal, st.BlocksSkippedBloom, 100*skipped, st.BlocksScanned, st.BytesSkipped)
		if st.BlocksTotal < 50 || skipped < 0.9 {
			t.Fatalf("%q: skipped %.1f%% of %d blocks; want at least 90%%", f.Value, 100*skipped, st.BlocksTotal)
		}
	}
}

// TestOlderPartsStillRead opens parts of formats 1 (blooms without grams)
// and 2 (without inner grams): they are read, and the hashes their blooms
// do not hold are not used to skip their blocks.
func TestOlderPartsStillRead(t *testing.T) {
	absent := []uint64{gramHash(0x7a7a7a7a, prefixSalt)}
	for _, tc := range []struct {
		file   string
		format uint32
		pl     *plan
	}{
		{"format-v1.part", 1, &plan{grams: absent}},
		{"format-v2.part", 2, &plan{inner: absent}},
		{"format-v3.part", 3, &plan{tokens: []uint64{tokenHash("status")}}},
	} {
		p, err := openPart(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		defer p.unref()
		if p.format != tc.format || p.entries != 20 {
			t.Fatalf("%s: format %d entries %d", tc.file, p.format, p.entries)
		}
		if !tc.pl.bloomPass(p, 0) {
			t.Fatalf("%s: a hash its blooms do not hold skipped a block", tc.file)
		}
		if tc.format < 3 && !(&plan{inner: absent}).bloomPass(p, 0) {
			t.Fatalf("%s: an inner gram skipped a block", tc.file)
		}
	}
}

// TestHeadSearch checks line filters on head entries when the anchor is
// searched in whole head buffers: the same lines as a line-by-line search,
// for plain, case-insensitive and regexp anchors, with lines of other
// streams and anchors across line boundaries in the same buffers.
func TestHeadSearch(t *testing.T) {
	cfg, clk := testConfig(t)
	s := openTest(t, cfg)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	words := []string{"error", "Error", "ERR", "or", "failed", "failure", "ok", "erro", "r"}
	base := clk.Now().Add(-time.Hour)
	var all []logmodel.Entry
	for b := 0; b < 10; b++ {
		var batch []logmodel.Entry
		for i := 0; i < 300; i++ {
			n := 1 + rng.IntN(4)
			line := ""
			for range n {
				line += words[rng.IntN(len(words))]
			}
			e := ent(logmodel.FromPairs("pod", fmt.Sprintf("p%d", i%7)), base.Add(time.Duration(b*300+i)*time.Millisecond), line)
			batch = append(batch, e)
		}
		mustAppend(t, s, "t", batch...)
		all = append(all, batch...)
	}
	for _, f := range []logmodel.LineFilter{
		{Type: logmodel.LineContains, Value: "error"},
		{Type: logmodel.LineContainsFold, Value: "error"},
		{Type: logmodel.LineContains, Value: "rorE"},
		{Type: logmodel.LineRegexp, Value: `fail(ed|ure)`},
		{Type: logmodel.LineRegexp, Value: `(?i)err`},
	} {
		c, err := compileFilter(f)
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for _, e := range all {
			if c.match(e.Line) {
				want++
			}
		}
		pl, err := s.prepare(Query{Tenant: "t", LineFilters: []logmodel.LineFilter{f}}, false, 0)
		if err != nil {
			t.Fatal(err)
		}
		search := pl.headSearch
		pl.release()
		res, err := s.Query(ctx, Query{Tenant: "t", Limit: 10000, LineFilters: []logmodel.LineFilter{f}})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Entries) != want || res.Stats.HeadEntriesScanned == 0 {
			t.Fatalf("%+v: %d entries (head scanned %d); want %d", f, len(res.Entries), res.Stats.HeadEntriesScanned, want)
		}
		if wantSearch := len(c.needle) >= 3 || len(c.lit) >= 3; search != wantSearch {
			t.Fatalf("%+v: head search %v; want %v", f, search, wantSearch)
		}
	}
}

// TestBloomEncoding checks that buildBloom's filters are the bit array of
// the format, as little-endian words, with bit p set for each probe p mapped
// by modulo or by multiply-shift, and that their false-positive rate is
// about 1.5% either way.
func TestBloomEncoding(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, mulShift := range []bool{false, true} {
		for _, n := range []int{1, 7, 100, 5000} {
			var set hashSet
			for i := 0; i < n; i++ {
				set.add(rng.Uint64())
			}
			got := buildBloom([]byte("prefix"), &set, mulShift)
			if string(got[:6]) != "prefix" {
				t.Fatal("buildBloom changed what dst held")
			}
			words := make([]uint64, (set.len()*bloomBitsPerToken+63)/64)
			m := uint64(len(words) * 64)
			set.each(func(h uint64) {
				for i := uint64(0); i < bloomProbes; i++ {
					x := h + i*((h>>32)|1)
					p := x % m
					if mulShift {
						x = h + i*(bits.RotateLeft64(h, 32)|1)
						p, _ = bits.Mul64(x, m)
					}
					words[p/64] |= 1 << (p % 64)
				}
			})
			var want []byte
			for _, w := range words {
				want = binary.LittleEndian.AppendUint64(want, w)
			}
			if !bytes.Equal(got[6:], want) {
				t.Fatalf("%d hashes, multiply-shift %v: filter differs from the format's bit array", n, mulShift)
			}
			set.each(func(h uint64) {
				if !bloomMayContain(got[6:], h, mulShift) {
					t.Fatalf("%d hashes, multiply-shift %v: filter lacks %x", n, mulShift, h)
				}
			})
			if n < 5000 {
				continue
			}
			fp := 0
			for i := 0; i < 100000; i++ {
				if h := rng.Uint64(); !set.has(h) && bloomMayContain(got[6:], h, mulShift) {
					fp++
				}
			}
			t.Logf("multiply-shift %v: %.2f%% false positives", mulShift, float64(fp)/1000)
			if fp > 2500 {
				t.Fatalf("multiply-shift %v: %.2f%% false positives", mulShift, float64(fp)/1000)
			}
		}
	}
}
