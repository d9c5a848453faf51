package store

import (
	testingclock "k8s.io/utils/clock/testing"

	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// testLogWriter sends the store's log to the test log.
type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

var testBase = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func testConfig(t *testing.T) (Config, *testingclock.FakeClock) {
	t.Helper()
	clk := testingclock.NewFakeClock(testBase.Add(time.Hour))
	cfg := DefaultConfig(t.TempDir())
	cfg.Clock = clk
	cfg.BlockTargetBytes = 4 << 10
	cfg.Logger = slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return cfg, clk
}

func openTest(t *testing.T, cfg Config) *Store {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func ent(labels logmodel.Labels, ts time.Time, line string, md ...string) logmodel.Entry {
	e := logmodel.Entry{Labels: labels, Timestamp: ts.UnixNano(), Line: []byte(line)}
	if len(md) > 0 {
		e.Metadata = logmodel.FromPairs(md...)
	}
	return e
}

func mustAppend(t *testing.T, s *Store, tenant string, es ...logmodel.Entry) AppendResult {
	t.Helper()
	res, err := s.Append(context.Background(), tenant, es)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return res
}

func lines(es []logmodel.Entry) string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('|')
		}
		b.Write(e.Line)
	}
	return b.String()
}

func TestAppendQueryAcrossFlushAndRestart(t *testing.T) {
	cfg, _ := testConfig(t)
	s := openTest(t, cfg)
	a := logmodel.FromPairs("app", "a", "namespace", "ns1")
	b := logmodel.FromPairs("app", "b", "namespace", "ns2")
	mustAppend(t, s, "t1",
		ent(a, testBase.Add(3*time.Second), "a3 error here", "level", "error"),
		ent(a, testBase.Add(1*time.Second), "a1 hello"),
		ent(b, testBase.Add(2*time.Second), "b2 world", "level", "info"),
	)
	check := func(stage string, s *Store) {
		t.Helper()
		ctx := context.Background()
		res, err := s.Query(ctx, Query{Tenant: "t1"})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := lines(res.Entries), "a1 hello|b2 world|a3 error here"; got != want {
			t.Fatalf("%s: forward got %q; want %q", stage, got, want)
		}
		res, _ = s.Query(ctx, Query{Tenant: "t1", Direction: logmodel.Backward, Limit: 2})
		if got, want := lines(res.Entries), "a3 error here|b2 world"; got != want || !res.HasMore {
			t.Fatalf("%s: backward got %q more=%v; want %q more", stage, got, res.HasMore, want)
		}
		res, _ = s.Query(ctx, Query{Tenant: "t1", Direction: logmodel.Backward, Limit: 2, After: &res.Next})
		if got, want := lines(res.Entries), "a1 hello"; got != want || res.HasMore {
			t.Fatalf("%s: page 2 got %q more=%v; want %q", stage, got, res.HasMore, want)
		}
		res, _ = s.Query(ctx, Query{Tenant: "t1", Matchers: []logmodel.Matcher{{Type: logmodel.MatchEqual, Name: "app", Value: "a"}}})
		if got, want := lines(res.Entries), "a1 hello|a3 error here"; got != want {
			t.Fatalf("%s: matcher got %q; want %q", stage, got, want)
		}
		res, _ = s.Query(ctx, Query{Tenant: "t1", LineFilters: []logmodel.LineFilter{{Type: logmodel.LineToken, Value: "error"}}})
		if got, want := lines(res.Entries), "a3 error here"; got != want {
			t.Fatalf("%s: token got %q; want %q", stage, got, want)
		}
		res, _ = s.Query(ctx, Query{Tenant: "t1", MetaFilters: []logmodel.Matcher{{Type: logmodel.MatchEqual, Name: "level", Value: "info"}}})
		if got, want := lines(res.Entries), "b2 world"; got != want {
			t.Fatalf("%s: metadata got %q; want %q", stage, got, want)
		}
		if md := res.Entries[0].Metadata.Get("level"); md != "info" {
			t.Fatalf("%s: metadata level %q", stage, md)
		}
		res, _ = s.Query(ctx, Query{Tenant: "t2"})
		if len(res.Entries) != 0 {
			t.Fatalf("%s: tenant t2 sees %d entries of t1", stage, len(res.Entries))
		}
		n, _, _, err := s.Count(ctx, Query{Tenant: "t1"})
		if err != nil || n != 3 {
			t.Fatalf("%s: count %d, %v; want 3", stage, n, err)
		}
	}
	check("head", s)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	check("parts", s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openTest(t, cfg)
	check("reopened", s2)
	res := mustAppend(t, s2, "t1", ent(a, testBase.Add(4*time.Second), "a4"))
	if res.Cursors[0].Seq != 4 {
		t.Fatalf("cursor after restart %d; want 4", res.Cursors[0].Seq)
	}
}

func TestDuplicatesAreStoredOnce(t *testing.T) {
	cfg, _ := testConfig(t)
	s := openTest(t, cfg)
	a := logmodel.FromPairs("app", "a")
	batch := []logmodel.Entry{
		ent(a, testBase.Add(time.Second), "x"),
		ent(a, testBase.Add(time.Second), "x", "ordinal", "1"),
		ent(a, testBase.Add(2*time.Second), "y"),
	}
	r1 := mustAppend(t, s, "t", batch...)
	if r1.Accepted != 3 {
		t.Fatalf("accepted %d; want 3", r1.Accepted)
	}
	r2 := mustAppend(t, s, "t", batch...)
	if r2.Accepted != 0 || r2.Duplicates != 3 {
		t.Fatalf("retry accepted %d dups %d; want 0 and 3", r2.Accepted, r2.Duplicates)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	r3 := mustAppend(t, s, "t", batch...)
	if r3.Accepted != 0 || r3.Duplicates != 3 {
		t.Fatalf("retry after flush accepted %d dups %d; want 0 and 3", r3.Accepted, r3.Duplicates)
	}
	r4 := mustAppend(t, s, "t", ent(a, testBase.Add(time.Second), "x", "ordinal", "2"))
	if r4.Accepted != 1 {
		t.Fatalf("distinct ordinal accepted %d; want 1", r4.Accepted)
	}
}

func TestValidation(t *testing.T) {
	cfg, clk := testConfig(t)
	cfg.MaxLineBytes = 10
	s := openTest(t, cfg)
	a := logmodel.FromPairs("app", "a")
	res, err := s.Append(context.Background(), "t", []logmodel.Entry{
		ent(a, testBase, "0123456789abcdef"),
		ent(a, clk.Now().Add(time.Hour), "future"),
		ent(logmodel.Labels{{Name: "bad-name", Value: "x"}}, testBase, "x"),
		ent(a, clk.Now().Add(-31*24*time.Hour), "too old"),
	})
	var verr *ValidationError
	if !errors.As(err, &verr) || verr.Rejected != 3 {
		t.Fatalf("err %v; want 3 rejected", err)
	}
	if res.Accepted != 1 || res.Truncated != 1 {
		t.Fatalf("accepted %d truncated %d; want 1 and 1", res.Accepted, res.Truncated)
	}
	got, _ := s.Query(context.Background(), Query{Tenant: "t"})
	if lines(got.Entries) != "0123456789" || got.Entries[0].Metadata.Get("truncated") != "true" {
		t.Fatalf("got %q %v", lines(got.Entries), got.Entries[0].Metadata)
	}
	many := logmodel.Labels{}
	for i := 0; i < 40; i++ {
		many = append(many, logmodel.Label{Name: fmt.Sprintf("l%02d", i), Value: "v"})
	}
	_, err = s.Append(context.Background(), "t", []logmodel.Entry{ent(many, testBase, "x")})
	if err == nil || !strings.Contains(err.Error(), "max_labels") {
		t.Fatalf("err %v; want one naming max_labels", err)
	}
}

func TestScanStreams(t *testing.T) {
	cfg, _ := testConfig(t)
	s := openTest(t, cfg)
	a, b, c := logmodel.FromPairs("app", "a"), logmodel.FromPairs("app", "b"), logmodel.FromPairs("app", "c")
	mustAppend(t, s, "t1", ent(a, testBase, "a0"), ent(b, testBase, "b0"), ent(c, testBase, "c0"))
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, "t1", ent(a, testBase.Add(time.Second), "a1"), ent(b, testBase.Add(time.Second), "b1"), ent(c, testBase.Add(time.Second), "c1"))
	ids := map[string]uint64{}
	var idsMu sync.Mutex
	_, err := s.Scan(context.Background(), Query{Tenant: "t1"}, func(_ int, st *Stream, _ *EntryView) error {
		idsMu.Lock()
		ids[st.Labels.Get("app")] = st.ID
		idsMu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f := func(streams []uint64, want string) {
		t.Helper()
		var mu sync.Mutex
		var got []string
		_, err := s.Scan(context.Background(), Query{Tenant: "t1", Streams: streams}, func(_ int, _ *Stream, e *EntryView) error {
			mu.Lock()
			got = append(got, string(e.Line))
			mu.Unlock()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if g := strings.Join(got, " "); g != want {
			t.Errorf("Streams %v: got %q; want %q", streams, g, want)
		}
	}
	f(nil, "a0 a1 b0 b1 c0 c1")
	f([]uint64{}, "")
	f([]uint64{ids["a"], ids["c"]}, "a0 a1 c0 c1")
	f([]uint64{ids["b"], ids["b"] ^ ids["a"] ^ ids["c"] ^ 1}, "b0 b1")
}

// TestAppendInterleavedStreams appends a batch that interleaves more label
// sets than Append's cache of streams has slots, some sharing one array as
// a sender's entries do, one equal to another in a different array, and one
// invalid, and checks that every entry lands in its own stream.
func TestAppendInterleavedStreams(t *testing.T) {
	cfg, _ := testConfig(t)
	s := openTest(t, cfg)
	const streams = 150
	sets := make([]logmodel.Labels, streams)
	for i := range sets {
		sets[i] = logmodel.FromPairs("pod", fmt.Sprintf("p%03d", i))
	}
	bad := logmodel.Labels{{Name: "", Value: "x"}}
	var es []logmodel.Entry
	for round := range 4 {
		for i := range sets {
			ls := sets[i]
			if round == 3 && i == 7 {
				ls = logmodel.FromPairs("pod", "p007") // equal, not the same array
			}
			es = append(es, ent(ls, testBase.Add(time.Duration(round*streams+i)*time.Millisecond), fmt.Sprintf("%d/%d", i, round)))
			if i%50 == 0 {
				es = append(es, ent(bad, testBase, "rejected"))
			}
		}
	}
	res, err := s.Append(context.Background(), "t1", es)
	var verr *ValidationError
	if !errors.As(err, &verr) || verr.Rejected != 12 || res.Accepted != 4*streams {
		t.Fatalf("accepted %d, err %v", res.Accepted, err)
	}
	for _, i := range []int{0, 7, 63, 64, 127, 149} {
		q, err := s.Query(context.Background(), Query{Tenant: "t1", Matchers: []logmodel.Matcher{{Type: logmodel.MatchEqual, Name: "pod", Value: fmt.Sprintf("p%03d", i)}}})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := lines(q.Entries), fmt.Sprintf("%d/0|%d/1|%d/2|%d/3", i, i, i, i); got != want {
			t.Errorf("stream p%03d: %q; want %q", i, got, want)
		}
	}
	series, err := s.Series(context.Background(), "t1", nil, 0, math.MaxInt64)
	if err != nil || len(series) != streams {
		t.Fatalf("%d series, %v", len(series), err)
	}
}

// TestFrozenHeadsAreBounded blocks the flusher and checks that appends are
// held back once maxFrozenHeads heads wait for it, that queries go on
// meanwhile, and that every entry is stored once the flusher runs again.
func TestFrozenHeadsAreBounded(t *testing.T) {
	cfg, _ := testConfig(t)
	cfg.HeadMaxBytes = 4 << 10
	s := openTest(t, cfg)
	const batches, perBatch = 20, 50
	s.manifestMu.Lock() // the flusher cannot write a head
	done := appendInBackground(s, testBase, batches, perBatch)
	if !waitForFlushWait(s) {
		s.manifestMu.Unlock()
		t.Fatal("the writer never waited for the flusher")
	}
	select {
	case err := <-done:
		s.manifestMu.Unlock()
		t.Fatalf("all appends returned (%v) while the flusher was blocked", err)
	case <-time.After(100 * time.Millisecond):
	}
	s.mu.RLock()
	frozen := len(s.frozen)
	s.mu.RUnlock()
	res, err := s.Query(context.Background(), Query{Tenant: "t", Limit: 1})
	s.manifestMu.Unlock()
	if frozen != maxFrozenHeads {
		t.Fatalf("%d heads frozen; want %d", frozen, maxFrozenHeads)
	}
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("query while appends were held back: %v, %d entries", err, len(res.Entries))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	res, err = s.Query(context.Background(), Query{Tenant: "t", Limit: batches * perBatch})
	if err != nil || len(res.Entries) != batches*perBatch {
		t.Fatalf("stored %d entries (%v); want %d", len(res.Entries), err, batches*perBatch)
	}
	if st := s.Stats(""); st.FlushWaitSeconds < 0.1 {
		t.Fatalf("stats count %d waits for the flusher, %.3fs in all; want at least the 0.1s it was blocked", st.FlushWaits, st.FlushWaitSeconds)
	}
}

// TestFailingFlushDoesNotHoldAppendsBack makes every flush fail (the part
// directory is a file) and checks that appends go on into the WAL rather
// than wait for the flusher, and that everything is stored once flushes
// work again.
func TestFailingFlushDoesNotHoldAppendsBack(t *testing.T) {
	cfg, _ := testConfig(t)
	cfg.HeadMaxBytes = 4 << 10
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s := openTest(t, cfg)
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The flusher reads partDir with manifestMu held.
	s.manifestMu.Lock()
	partDir := s.partDir
	s.partDir = notDir
	s.manifestMu.Unlock()
	const batches, perBatch = 20, 50
	awaitDone(t, appendInBackground(s, testBase, batches, perBatch), "appends waited for a flusher that keeps failing")
	s.mu.RLock()
	frozen := len(s.frozen)
	s.mu.RUnlock()
	if frozen < 2 {
		t.Fatalf("%d heads frozen while flushes failed; want several", frozen)
	}
	s.manifestMu.Lock()
	s.partDir = partDir
	s.manifestMu.Unlock()
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	res, err := s.Query(context.Background(), Query{Tenant: "t", Limit: batches * perBatch})
	if err != nil || len(res.Entries) != batches*perBatch {
		t.Fatalf("stored %d entries (%v); want %d", len(res.Entries), err, batches*perBatch)
	}
}

// appendInBackground appends batches of perBatch entries of one stream to
// tenant "t", from base on, a millisecond apart, with lines long enough that
// a few batches fill a 4 KiB head, and reports the outcome on the channel.
func appendInBackground(s *Store, base time.Time, batches, perBatch int) <-chan error {
	a := logmodel.FromPairs("app", "a")
	done := make(chan error, 1)
	go func() {
		for b := 0; b < batches; b++ {
			es := make([]logmodel.Entry, perBatch)
			for i := range es {
				es[i] = ent(a, base.Add(time.Duration(b*perBatch+i)*time.Millisecond), fmt.Sprintf("batch %d line %d, long enough to fill a small head", b, i))
			}
			if _, err := s.Append(context.Background(), "t", es); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	return done
}

// waitForFlushWait reports whether the writer starts waiting for the
// flusher within 10 seconds.
func waitForFlushWait(s *Store) bool {
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats("").FlushWaits == 0 {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// awaitDone fails the test with the error done reports, or with stuck when
// it reports nothing within 10 seconds.
func awaitDone(t *testing.T, done <-chan error, stuck string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal(stuck)
	}
}
