package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// modelEntry is an entry of the naive in-memory model.
type modelEntry struct {
	tenant string
	labels logmodel.Labels
	ts     int64
	seq    uint64
	line   string
	md     logmodel.Labels
}

// TestPropertyAgainstModel appends random batches (out of order, with
// retries and duplicates) and runs random queries, comparing every answer with
// a naive model, across flushes, merges and restarts.
func TestPropertyAgainstModel(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runProperty(t, seed) })
	}
}

func runProperty(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed*7))
	cfg, _ := testConfig(t)
	cfg.BlockTargetBytes = 1024
	cfg.MergeMinParts = 3
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	ctx := context.Background()
	tenants := []string{"a", "b"}
	var streams []logmodel.Labels
	for i := 0; i < 12; i++ {
		streams = append(streams, logmodel.FromPairs("namespace", fmt.Sprintf("ns%d", i%3), "pod", fmt.Sprintf("pod%d", i), "container", "c"))
	}
	words := []string{"error", "warn", "info", "timeout", "connection", "refused", "GET", "POST", "needle"}
	var model []modelEntry
	seen := map[string]bool{}
	var history [][]logmodel.Entry
	for step := 0; step < 60; step++ {
		tn := tenants[rng.IntN(len(tenants))]
		var batch []logmodel.Entry
		if len(history) > 0 && rng.IntN(6) == 0 {
			batch = history[rng.IntN(len(history))] // a pusher's retry
		} else {
			for i := 0; i < 1+rng.IntN(80); i++ {
				ls := streams[rng.IntN(len(streams))]
				ts := testBase.Add(time.Duration(rng.IntN(600)) * time.Second / 4).UnixNano()
				line := fmt.Sprintf("%s %s %d", words[rng.IntN(len(words))], words[rng.IntN(len(words))], rng.IntN(50))
				var md logmodel.Labels
				if rng.IntN(2) == 0 {
					md = logmodel.FromPairs("level", words[rng.IntN(3)])
				}
				batch = append(batch, logmodel.Entry{Labels: ls, Timestamp: ts, Line: []byte(line), Metadata: md})
			}
			history = append(history, batch)
		}
		res, err := s.Append(ctx, tn, batch)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range batch {
			key := fmt.Sprintf("%s|%s|%d|%s|%s", tn, e.Labels, e.Timestamp, e.Line, e.Metadata)
			if seen[key] {
				if !res.Cursors[i].IsZero() {
					t.Fatalf("step %d: duplicate %s stored again", step, key)
				}
				continue
			}
			if res.Cursors[i].IsZero() {
				t.Fatalf("step %d: new entry %s not stored", step, key)
			}
			seen[key] = true
			model = append(model, modelEntry{tenant: tn, labels: e.Labels, ts: e.Timestamp, seq: res.Cursors[i].Seq, line: string(e.Line), md: e.Metadata})
		}
		switch rng.IntN(10) {
		case 0:
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		case 1:
			if err := s.RunMaintenance(ctx); err != nil {
				t.Fatal(err)
			}
		case 2:
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if s, err = Open(cfg); err != nil {
				t.Fatal(err)
			}
		}
		for q := 0; q < 4; q++ {
			checkRandomQuery(t, s, rng, model, tenants, words)
		}
	}
}

func checkRandomQuery(t *testing.T, s *Store, rng *rand.Rand, model []modelEntry, tenants, words []string) {
	t.Helper()
	ctx := context.Background()
	tn := tenants[rng.IntN(len(tenants))]
	q := Query{Tenant: tn, Limit: 1 + rng.IntN(40)}
	if rng.IntN(2) == 0 {
		q.Direction = logmodel.Backward
	}
	if rng.IntN(2) == 0 {
		q.Matchers = append(q.Matchers, logmodel.Matcher{Type: logmodel.MatchEqual, Name: "namespace", Value: fmt.Sprintf("ns%d", rng.IntN(3))})
	}
	if rng.IntN(3) == 0 {
		q.Matchers = append(q.Matchers, logmodel.Matcher{Type: logmodel.MatchRegexp, Name: "pod", Value: "pod[1-5]"})
	}
	if rng.IntN(2) == 0 {
		q.Start = testBase.Add(time.Duration(rng.IntN(150)) * time.Second).UnixNano()
		q.End = q.Start + int64(time.Duration(1+rng.IntN(100))*time.Second)
	}
	switch rng.IntN(5) {
	case 0:
		q.LineFilters = []logmodel.LineFilter{{Type: logmodel.LineToken, Value: words[rng.IntN(len(words))]}}
	case 1:
		q.LineFilters = []logmodel.LineFilter{{Type: logmodel.LineNotContains, Value: words[rng.IntN(len(words))]}}
	case 2:
		q.LineFilters = []logmodel.LineFilter{{Type: logmodel.LineRegexp, Value: "(?i)(err|warn)"}}
	case 3:
		// A substring cut from a line: bloom grams must never lose a match.
		w := words[rng.IntN(len(words))] + " " + words[rng.IntN(len(words))]
		a := rng.IntN(len(w))
		b := a + 1 + rng.IntN(len(w)-a)
		q.LineFilters = []logmodel.LineFilter{{Type: logmodel.LineContains, Value: w[a:b]}}
	}
	if rng.IntN(4) == 0 {
		q.MetaFilters = []logmodel.Matcher{{Type: logmodel.MatchEqual, Name: "level", Value: words[rng.IntN(3)]}}
	}
	var want []modelEntry
	for _, e := range model {
		if e.tenant != tn || !modelMatch(q, e) {
			continue
		}
		want = append(want, e)
	}
	sort.Slice(want, func(i, j int) bool {
		a, b := want[i], want[j]
		if q.Direction == logmodel.Backward {
			a, b = b, a
		}
		return logmodel.Before(a.ts, a.seq, b.ts, b.seq)
	})
	// Page through everything and compare.
	var got []logmodel.Entry
	for page := 0; ; page++ {
		res, err := s.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, res.Entries...)
		if testing.Verbose() {
			t.Logf("page %d: %d entries more=%v next=%+v", page, len(res.Entries), res.HasMore, res.Next)
		}
		if !res.HasMore {
			break
		}
		if len(res.Entries) != q.Limit {
			t.Fatalf("page of %d entries with has_more; limit %d", len(res.Entries), q.Limit)
		}
		next := res.Next
		q.After = &next
		if page > 1000 {
			t.Fatal("paging does not end")
		}
	}
	if len(got) != len(want) {
		gs := map[uint64]bool{}
		for _, g := range got {
			gs[g.Cursor.Seq] = true
		}
		for _, w := range want {
			if !gs[w.seq] {
				t.Logf("missing %+v", w)
			}
		}
		s.mu.RLock()
		for _, p := range s.tenants[tn].parts {
			for _, b := range p.blocks {
				t.Logf("part %s block stream %s ts %d..%d seq %d..%d n=%d", p.name, p.streams[b.stream].labels, b.minTs, b.maxTs, b.minSeq, b.maxSeq, b.count)
			}
		}
		t.Logf("stats %+v", s.Stats(""))
		t.Logf("frozen %d active entries %d visible %d", len(s.frozen), s.active.entries, s.tenants[tn].visible.Load())
		for _, hs := range s.active.streams {
			v := hs.viewLocked(s.active)
			t.Logf("head stream %s %s ts %d..%d seq %v sorted %v", hs.s.Tenant, hs.s.Labels, v.minTs, v.maxTs, v.seq, v.sorted)
		}
		s.mu.RUnlock()
		t.Fatalf("query %+v: got %d entries; want %d", q, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Timestamp != w.ts || g.Cursor.Seq != w.seq || string(g.Line) != w.line || !g.Labels.Equal(w.labels) || !g.Metadata.Equal(w.md) {
			t.Fatalf("query %+v: entry %d got %d/%d %q; want %d/%d %q", q, i, g.Timestamp, g.Cursor.Seq, g.Line, w.ts, w.seq, w.line)
		}
	}
	// ReadAfter from a random cursor returns the model's entries in seq order.
	var all []modelEntry
	for _, e := range model {
		if e.tenant == tn {
			all = append(all, e)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].seq < all[j].seq })
	from := uint64(0)
	if len(all) > 0 {
		from = all[rng.IntN(len(all))].seq
	}
	lim := 1 + rng.IntN(30)
	es, more, err := s.ReadAfter(ctx, Query{Tenant: tn}, logmodel.Cursor{Seq: from}, lim)
	if err != nil {
		t.Fatal(err)
	}
	var exp []modelEntry
	for _, e := range all {
		if e.seq > from {
			exp = append(exp, e)
		}
	}
	wantMore := len(exp) > lim
	if len(exp) > lim {
		exp = exp[:lim]
	}
	if len(es) != len(exp) || more != wantMore {
		t.Fatalf("ReadAfter(%d, %d): got %d more=%v; want %d more=%v", from, lim, len(es), more, len(exp), wantMore)
	}
	for i := range es {
		if es[i].Cursor.Seq != exp[i].seq || string(es[i].Line) != exp[i].line {
			t.Fatalf("ReadAfter entry %d: got seq %d; want %d", i, es[i].Cursor.Seq, exp[i].seq)
		}
	}
	n, _, _, err := s.Count(ctx, Query{Tenant: tn, Start: q.Start, End: q.End, Matchers: q.Matchers})
	if err != nil {
		t.Fatal(err)
	}
	var wantN uint64
	for _, e := range model {
		if e.tenant == tn && modelMatch(Query{Start: q.Start, End: q.End, Matchers: q.Matchers}, e) {
			wantN++
		}
	}
	if n != wantN {
		t.Fatalf("Count: got %d; want %d", n, wantN)
	}
}

func modelMatch(q Query, e modelEntry) bool {
	for _, m := range q.Matchers {
		if !mustCompile(m).Matches(e.labels.Get(m.Name)) {
			return false
		}
	}
	if e.ts < q.Start || (q.End != 0 && e.ts >= q.End) {
		return false
	}
	for _, f := range q.LineFilters {
		c, err := compileFilter(f)
		if err != nil {
			panic(err)
		}
		if !naiveFilter(c, e.line) {
			return false
		}
	}
	for _, m := range q.MetaFilters {
		if !mustCompile(m).Matches(e.md.Get(m.Name)) {
			return false
		}
	}
	return true
}

func mustCompile(m logmodel.Matcher) *logmodel.CompiledMatcher {
	c, err := m.Compile()
	if err != nil {
		panic(err)
	}
	return c
}

// naiveFilter evaluates a filter without the engine's shortcuts.
func naiveFilter(c *compiledFilter, line string) bool {
	switch c.typ {
	case logmodel.LineToken:
		for _, tok := range splitTokens(line) {
			if tok == string(c.needle) {
				return true
			}
		}
		return false
	case logmodel.LineNotContains:
		return !containsString(line, string(c.needle))
	case logmodel.LineContains:
		return containsString(line, string(c.needle))
	case logmodel.LineRegexp:
		return c.re.MatchString(line)
	}
	panic("naiveFilter: unsupported filter")
}

func containsString(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
