package query

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/logql"
	"github.com/kubelog/kubelog/internal/search"
	"github.com/kubelog/kubelog/internal/store"
	"github.com/kubelog/kubelog/internal/tail"
)

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC).UnixNano()

// newEngine opens a store in a temporary directory with a hub on its
// commits.
func newEngine(t testing.TB) *Engine {
	t.Helper()
	hub := tail.NewHub(tail.DefaultHubConfig())
	t.Cleanup(hub.Close)
	cfg := store.DefaultConfig(t.TempDir())
	cfg.Fsync = store.FsyncNever
	cfg.OnCommit = hub.OnCommit
	st, err := store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	e, err := New(Deps{Store: st, Hub: hub})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func entry(ns, pod, level string, ts int64, line string) logmodel.Entry {
	e := logmodel.Entry{Labels: logmodel.FromPairs("namespace", ns, "pod", pod), Timestamp: ts, Line: []byte(line)}
	if level != "" {
		e.Metadata = logmodel.FromPairs(logmodel.MetaLevel, level)
	}
	return e
}

func appendAll(t testing.TB, e *Engine, es ...logmodel.Entry) {
	t.Helper()
	if _, err := e.Append(context.Background(), "t", es); err != nil {
		t.Fatal(err)
	}
}

// sample is six entries over two namespaces and three pods, one a second.
func sample() []logmodel.Entry {
	return []logmodel.Entry{
		entry("a", "a-1", "info", t0, "GET /health 200"),
		entry("a", "a-1", "error", t0+1e9, "connection refused by upstream"),
		entry("a", "a-2", "info", t0+2e9, "GET /cart 200"),
		entry("b", "b-1", "error", t0+3e9, "timeout after 5s"),
		entry("b", "b-1", "warn", t0+4e9, "retrying connection"),
		entry("a", "a-2", "", t0+5e9, "plain line"),
	}
}

func lines(es []logmodel.Entry) []string {
	out := make([]string, len(es))
	for i := range es {
		out[i] = string(es[i].Line)
	}
	return out
}

func TestLogsPagesWithCursors(t *testing.T) {
	e := newEngine(t)
	appendAll(t, e, sample()...)
	q := store.Query{Tenant: "t", Direction: logmodel.Forward, Limit: 4}
	var got []string
	for range 3 {
		p, err := e.Logs(context.Background(), q, false)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, lines(p.Entries)...)
		if !p.HasMore {
			break
		}
		next := p.Next
		q.After = &next
	}
	want := lines(sample())
	if !slices.Equal(got, want) {
		t.Fatalf("pages: got %q; want %q", got, want)
	}
	if _, err := e.Logs(context.Background(), q, true); err != ErrNoArchive {
		t.Fatalf("with archive on a server without one: got %v; want ErrNoArchive", err)
	}
}

func TestSearch(t *testing.T) {
	e := newEngine(t)
	appendAll(t, e, sample()...)
	expr, err := search.Parse(`connection -level:warn`)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Search(context.Background(), store.Query{Tenant: "t", Direction: logmodel.Forward}, expr, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := lines(p.Entries); !slices.Equal(got, []string{"connection refused by upstream"}) {
		t.Fatalf("search: got %q", got)
	}
}

func TestStats(t *testing.T) {
	e := newEngine(t)
	appendAll(t, e, sample()...)
	st, err := e.Stats(context.Background(), StatsRequest{Query: store.Query{Tenant: "t", Start: t0, End: t0 + 6e9}, Interval: 2 * time.Second, Buckets: 3, Top: 2})
	if err != nil {
		t.Fatal(err)
	}
	if st.TotalLines != 6 || st.ByNamespace["a"] != 4 || st.ByNamespace["b"] != 2 {
		t.Fatalf("totals: %+v", st)
	}
	if want := map[string]uint64{"info": 2, "error": 2, "warn": 1, "unknown": 1}; fmt.Sprint(st.ByLevel) != fmt.Sprint(want) {
		t.Fatalf("by level: got %v; want %v", st.ByLevel, want)
	}
	if want := []PodCount{{"a", "a-1", 2}, {"a", "a-2", 2}}; !slices.Equal(st.TopPods, want) {
		t.Fatalf("top pods: got %v; want %v", st.TopPods, want)
	}
	if want := []uint64{2, 2, 2}; !slices.Equal(st.Histogram, want) {
		t.Fatalf("histogram: got %v; want %v", st.Histogram, want)
	}
	// With a metadata filter the totals count the matching entries.
	q := store.Query{Tenant: "t", MetaFilters: []logmodel.Matcher{{Type: logmodel.MatchEqual, Name: logmodel.MetaLevel, Value: "error"}}}
	if st, err = e.Stats(context.Background(), StatsRequest{Query: q, Top: 10}); err != nil {
		t.Fatal(err)
	}
	if st.TotalLines != 2 || st.ByLevel["error"] != 2 || len(st.ByLevel) != 1 {
		t.Fatalf("filtered stats: %+v", st)
	}
}

func TestGroupsAndWindow(t *testing.T) {
	e := newEngine(t)
	appendAll(t, e, sample()...)
	gs, err := e.Groups(context.Background(), "t", nil, 0, 0, func(ls logmodel.Labels) (Group, bool) {
		return Group{Name: ls.Get("namespace")}, true
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(gs, func(a, b Group) int { return int(a.Entries) - int(b.Entries) })
	if len(gs) != 2 || gs[0].Name != "b" || gs[0].Entries != 2 || gs[0].Streams != 1 || gs[1].Entries != 4 || gs[1].Streams != 2 {
		t.Fatalf("groups: %+v", gs)
	}
	w, err := e.Window(context.Background(), "t", []logmodel.Matcher{{Type: logmodel.MatchEqual, Name: "namespace", Value: "a"}}, 10*time.Second, t0+6e9)
	if err != nil {
		t.Fatal(err)
	}
	if w.Lines != 4 || w.Streams != 2 || w.ErrorLines != 1 {
		t.Fatalf("window: %+v", w)
	}
}

func TestVolume(t *testing.T) {
	e := newEngine(t)
	appendAll(t, e, sample()...)
	vs, err := e.Volume(context.Background(), VolumeRequest{Tenant: "t", Start: t0, End: t0 + 6e9, Step: 3e9, Targets: []string{"namespace"}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[0].Labels.Get("namespace") != "a" || vs[1].Labels.Get("namespace") != "b" {
		t.Fatalf("volume groups: %+v", vs)
	}
	var sum uint64
	for _, v := range vs[0].Points {
		sum += v
	}
	if sum != vs[0].Total || len(vs[0].Points) != 2 || vs[1].Points[t0+6e9] != vs[1].Total {
		t.Fatalf("volume points: %+v %+v", vs[0], vs[1])
	}
}

// Entries orders by (timestamp, cursor) numerically: an entry on a whole
// second comes before a later one in the same second, which RFC 3339 text
// ("…:00Z" > "…:00.5Z") would misorder.
func TestEntriesOrder(t *testing.T) {
	v := logql.Streams{
		{Labels: logmodel.FromPairs("a", "1"), Entries: []logql.StreamEntry{{Timestamp: t0 + 5e8, Line: "half", Cursor: logmodel.Cursor{Seq: 2}}}},
		{Labels: logmodel.FromPairs("a", "2"), Entries: []logql.StreamEntry{
			{Timestamp: t0, Line: "whole", Cursor: logmodel.Cursor{Seq: 3}},
			{Timestamp: t0 + 5e8, Line: "half-later", Cursor: logmodel.Cursor{Seq: 4}},
		}},
	}
	if got := lines(Entries(v, logmodel.Forward)); !slices.Equal(got, []string{"whole", "half", "half-later"}) {
		t.Fatalf("forward: %q", got)
	}
	got := Entries(v, logmodel.Backward)
	if l := lines(got); !slices.Equal(l, []string{"half-later", "half", "whole"}) {
		t.Fatalf("backward: %q", l)
	}
	if got[0].Cursor.Seq != 4 {
		t.Fatalf("cursor lost: %+v", got[0])
	}
}

func TestMergeEntries(t *testing.T) {
	mk := func(pairs ...int64) []logmodel.Entry {
		var out []logmodel.Entry
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, logmodel.Entry{Timestamp: pairs[i], Cursor: logmodel.Cursor{Seq: uint64(pairs[i+1])}})
		}
		return out
	}
	seqs := func(es []logmodel.Entry) []uint64 {
		var out []uint64
		for _, e := range es {
			out = append(out, e.Cursor.Seq)
		}
		return out
	}
	local, arch := mk(10, 5, 20, 6, 30, 7), mk(5, 1, 20, 6, 25, 3)
	if got := seqs(mergeEntries(local, arch, false)); !slices.Equal(got, []uint64{1, 5, 6, 3, 7}) {
		t.Fatalf("forward merge: %v", got)
	}
	slices.Reverse(local)
	slices.Reverse(arch)
	if got := seqs(mergeEntries(local, arch, true)); !slices.Equal(got, []uint64{7, 3, 6, 5, 1}) {
		t.Fatalf("backward merge: %v", got)
	}
}

// A follow's store query decides both its replay and its live part: the
// entries stored before it starts and those appended after pass the same
// matchers and line filters.
func TestFollowReplayAndLiveAgree(t *testing.T) {
	e := newEngine(t)
	appendAll(t, e, sample()...)
	expr, err := logql.ParseExpr(`{namespace="a"} |= "GET" !~ "cart"`)
	if err != nil {
		t.Fatal(err)
	}
	spec := tail.FollowSpec{Tenant: "t", Query: LogQLSelection("t", expr), Cursor: logmodel.Cursor{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var got []string
	done := make(chan error, 1)
	go func() {
		done <- e.Follow(ctx, spec, func(ev tail.Event) error {
			if ev.Entry != nil {
				mu.Lock()
				got = append(got, string(ev.Entry.Line))
				mu.Unlock()
			}
			return nil
		})
	}()
	waitFor := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			c := len(got)
			mu.Unlock()
			if c >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("follow delivered %d entries; want %d", c, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor(1)
	appendAll(t, e, entry("a", "a-3", "", t0+6e9, "GET /live 200"), entry("b", "b-1", "", t0+7e9, "GET /other 200"),
		entry("a", "a-3", "", t0+8e9, "GET /cart 500"), entry("a", "a-3", "", t0+9e9, "GET /again 200"))
	waitFor(3)
	time.Sleep(50 * time.Millisecond)
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"GET /health 200", "GET /live 200", "GET /again 200"}; !slices.Equal(got, want) {
		t.Fatalf("follow: got %q; want %q", got, want)
	}
}

func BenchmarkStats(b *testing.B) {
	e := newEngine(b)
	var es []logmodel.Entry
	var raw int64
	for i := range 20_000 {
		en := entry(fmt.Sprintf("ns-%d", i%4), fmt.Sprintf("pod-%d", i%40), []string{"info", "warn", "error"}[i%3], t0+int64(i)*1e6, fmt.Sprintf("request %d served in %dms", i, i%97))
		raw += int64(len(en.Line))
		es = append(es, en)
	}
	appendAll(b, e, es...)
	req := StatsRequest{Query: store.Query{Tenant: "t", Start: t0, End: t0 + 20e9}, Interval: time.Second, Buckets: 20, Top: 10}
	b.ReportAllocs()
	b.SetBytes(raw)
	for b.Loop() {
		if _, err := e.Stats(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}
