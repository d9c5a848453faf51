package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
)

func TestDeleteRange(t *testing.T) {
	cfg, _ := testConfig(t)
	s := openTest(t, cfg)
	ctx := context.Background()
	a := logmodel.FromPairs("namespace", "a", "pod", "p1")
	b := logmodel.FromPairs("namespace", "b", "pod", "p2")
	base := testBase.Add(-6 * time.Hour)
	var es []logmodel.Entry
	for i := 0; i < 300; i++ {
		ts := base.Add(time.Duration(i) * time.Minute)
		es = append(es, ent(a, ts, fmt.Sprintf("a-%03d", i), "level", "info"), ent(b, ts, fmt.Sprintf("b-%03d", i)))
	}
	mustAppend(t, s, "t1", es[:300]...)
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, "t1", es[300:]...) // still in the head: DeleteRange flushes it
	snap := s.LastCursor("t1").Seq
	late := mustAppend(t, s, "t1", ent(a, base.Add(90*time.Minute+time.Second), "a-late"))
	// a-late falls inside the range but came after the snapshot: it stays.
	start, end := base.Add(time.Hour).UnixNano(), base.Add(3*time.Hour).UnixNano()
	n, err := s.DeleteRange(ctx, "t1", []logmodel.Matcher{{Type: logmodel.MatchEqual, Name: "namespace", Value: "a"}}, start, end, snap)
	if err != nil {
		t.Fatalf("DeleteRange: %v", err)
	}
	if n != 120 {
		t.Fatalf("deleted %d entries; want 120", n)
	}
	count := func(ns string, from, to int64) int {
		t.Helper()
		res, err := s.Query(ctx, Query{Tenant: "t1", Matchers: []logmodel.Matcher{{Type: logmodel.MatchEqual, Name: "namespace", Value: ns}}, Start: from, End: to, Limit: 1000, Direction: logmodel.Forward})
		if err != nil {
			t.Fatal(err)
		}
		return len(res.Entries)
	}
	if got := count("a", start, end); got != 1 {
		t.Errorf("namespace a in the range: got %d entries; want 1 (a-late)", got)
	}
	if got := count("a", 0, 0); got != 181 {
		t.Errorf("namespace a overall: got %d entries; want 181 (180 outside the range, and a-late)", got)
	}
	if got := count("b", start, end); got != 120 {
		t.Errorf("namespace b in the range: got %d; want 120 (not selected)", got)
	}
	res, err := s.Query(ctx, Query{Tenant: "t1", Matchers: []logmodel.Matcher{{Type: logmodel.MatchEqual, Name: "namespace", Value: "a"}}, Start: base.Add(59 * time.Minute).UnixNano(), Limit: 2, Direction: logmodel.Forward})
	if err != nil {
		t.Fatal(err)
	}
	if lines(res.Entries) != "a-059|a-late" || res.Entries[0].Metadata.Get("level") != "info" {
		t.Errorf("around the range: got %q %v; want a-059|a-late with level info", lines(res.Entries), res.Entries[0].Metadata)
	}
	if late.Cursors[0].Seq <= snap {
		t.Fatal("BUG: the late entry should come after the snapshot")
	}
	// A second call finds nothing more; data survives a restart.
	if n, err := s.DeleteRange(ctx, "t1", nil, start, end, 0); err != nil || n != 0 {
		t.Errorf("DeleteRange up to seq 0: %d, %v; want 0, nil", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, cfg)
	if got := count("a", 0, 0); got != 181 {
		t.Errorf("after restart: namespace a has %d entries; want 181", got)
	}
}
