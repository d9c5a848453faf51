package store

import (
	"testing"

	"github.com/kubelog/kubelog/internal/logmodel"
)

func TestEntryFilterAndBloom(t *testing.T) {
	var b TokenBloom
	lines := []string{"GET /api/items status=200", "user login failed for needle-7f3a9c", "disk 93% full"}
	for _, l := range lines {
		b.Add([]byte(l))
	}
	bloom := b.Bytes()
	f := func(q Query, wantBloom bool, wantLines ...bool) {
		t.Helper()
		ef, err := NewEntryFilter(q)
		if err != nil {
			t.Fatal(err)
		}
		if got := ef.MayMatchBloom(bloom); got != wantBloom {
			t.Errorf("%+v: MayMatchBloom = %v; want %v", q.LineFilters, got, wantBloom)
		}
		for i, want := range wantLines {
			e := logmodel.Entry{Labels: logmodel.FromPairs("app", "api"), Timestamp: int64(100 + i), Line: []byte(lines[i]), Cursor: logmodel.Cursor{Seq: uint64(i + 1)}}
			if got := ef.Match(&e); got != want {
				t.Errorf("%+v: Match(%q) = %v; want %v", q, lines[i], got, want)
			}
		}
	}
	f(Query{}, true, true, true, true)
	f(Query{LineFilters: []logmodel.LineFilter{{Type: logmodel.LineContains, Value: "needle-7f3a9c"}}}, true, false, true, false)
	f(Query{LineFilters: []logmodel.LineFilter{{Type: logmodel.LineContains, Value: "missing-haystack"}}}, false, false, false, false)
	f(Query{RequiredTokens: []string{"login"}}, true)
	f(Query{RequiredTokens: []string{"logout"}}, false)
	f(Query{Start: 101, End: 102}, true, false, true, false)
	f(Query{Matchers: []logmodel.Matcher{{Type: logmodel.MatchEqual, Name: "app", Value: "web"}}}, true, false, false, false)
	f(Query{Direction: logmodel.Forward, After: &logmodel.PageToken{Timestamp: 101, Seq: 2}}, true, false, false, true)
}

// TestTokenBloomMatchesBlocks checks that a TokenBloom holds the same hashes
// as the bloom filter of a block of the same lines.
func TestTokenBloomMatchesBlocks(t *testing.T) {
	f := func(lines ...string) {
		t.Helper()
		var tb TokenBloom
		var set hashSet
		var recent [recentTokens]uint64
		var text, digits []byte
		for _, l := range lines {
			tb.Add([]byte(l))
			text, digits = splitLine(text, digits, []byte(l), &set, &recent)
		}
		if got, want := tb.Bytes(), buildBloom(nil, &set, false); string(got) != string(want) {
			t.Errorf("TokenBloom of %q: %x; want %x", lines, got, want)
		}
	}
	f()
	f("")
	f("GET /api/items status=200", "user login failed for needle-7f3a9c", "disk 93% full")
	f("081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating")
	f("ÄÖÜ straße 日本語 \xff\xfe a_b_c 1234 12ab", "abc", "ABCD abcd", "x1y2z3w4 0000 a")
}

func FuzzTokenBloom(f *testing.F) {
	f.Add([]byte("user login failed for needle-7f3a9c"))
	f.Add([]byte("ÄÖÜ straße 日本語 \xff\xfe a_b_c 1234 12ab"))
	var tb TokenBloom
	f.Fuzz(func(t *testing.T, line []byte) {
		// tb is reused, as archive objects reuse theirs: Reset must forget.
		tb.Reset()
		var set hashSet
		var recent [recentTokens]uint64
		for _, l := range [][]byte{line, line[len(line)/2:], line} {
			tb.Add(l)
			splitLine(nil, nil, l, &set, &recent)
		}
		if got, want := tb.Bytes(), buildBloom(nil, &set, false); string(got) != string(want) {
			t.Errorf("TokenBloom of %q: %x; want %x", line, got, want)
		}
	})
}

// BenchmarkEntryFilterMatch is the live path of a follow: each committed
// entry is tested against the follow's query.
func BenchmarkEntryFilterMatch(b *testing.B) {
	ef, err := NewEntryFilter(Query{
		Matchers:    []logmodel.Matcher{{Type: logmodel.MatchEqual, Name: "namespace", Value: "pay"}},
		LineFilters: []logmodel.LineFilter{{Type: logmodel.LineContains, Value: "GET"}, {Type: logmodel.LineNotRegexp, Value: `status=5\d\d`}},
		Predicate:   func(s *Stream, e *EntryView) bool { return len(e.Line) > 0 },
	})
	if err != nil {
		b.Fatal(err)
	}
	es := []logmodel.Entry{
		{Labels: logmodel.FromPairs("namespace", "pay", "pod", "api-1"), Line: []byte("GET /api/items status=200 took 12ms")},
		{Labels: logmodel.FromPairs("namespace", "pay", "pod", "api-1"), Line: []byte("POST /api/cart status=503 took 2ms")},
		{Labels: logmodel.FromPairs("namespace", "shop", "pod", "web-1"), Line: []byte("GET / status=200")},
	}
	var n int64
	for i := range es {
		n += int64(len(es[i].Line))
	}
	b.ReportAllocs()
	b.SetBytes(n)
	for b.Loop() {
		for i := range es {
			ef.Match(&es[i])
		}
	}
}
