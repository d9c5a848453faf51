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
	f(Query{LineFilters: []LineFilter{{Type: LineContains, Value: "needle-7f3a9c"}}}, true, false, true, false)
	f(Query{LineFilters: []LineFilter{{Type: LineContains, Value: "missing-haystack"}}}, false, false, false, false)
	f(Query{RequiredTokens: []string{"login"}}, true)
	f(Query{RequiredTokens: []string{"logout"}}, false)
	f(Query{Start: 101, End: 102}, true, false, true, false)
	f(Query{Matchers: []*Matcher{MustMatcher(MatchEqual, "app", "web")}}, true, false, false, false)
	f(Query{Direction: logmodel.Forward, After: &logmodel.PageToken{Timestamp: 101, Seq: 2}}, true, false, false, true)
}
