package store

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// TestFlushedHeadIsReleased checks that once a head is flushed nothing keeps
// it: streams that get no further entries (pods that are gone) used to point
// at the head they were last added to, which kept every old head and its
// WAL buffers in memory.
func TestFlushedHeadIsReleased(t *testing.T) {
	cfg, clk := testConfig(t)
	s := openTest(t, cfg)
	ctx := context.Background()
	base := clk.Now().Add(-time.Hour)
	for i := 0; i < 100; i++ {
		mustAppend(t, s, "t", ent(logmodel.FromPairs("pod", fmt.Sprintf("job-%d", i)), base.Add(time.Duration(i)*time.Second), "done"))
	}
	s.mu.Lock()
	old := weak.Make(s.active)
	s.mu.Unlock()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// New streams go to the new head; the old ones get nothing more.
	mustAppend(t, s, "t", ent(logmodel.FromPairs("pod", "job-new"), base.Add(time.Hour-time.Second), "started"))
	// A background goroutine may still hold the head for a moment after the
	// flush (more so on a loaded machine); a leak holds it for good.
	for deadline := time.Now().Add(5 * time.Second); old.Value() != nil && time.Now().Before(deadline); {
		runtime.GC()
		if old.Value() != nil {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if old.Value() != nil {
		t.Fatal("the flushed head is still reachable")
	}
	res, err := s.Query(ctx, Query{Tenant: "t", Matchers: []logmodel.Matcher{{Type: logmodel.MatchRegexp, Name: "pod", Value: "job-.*"}}, Limit: 1000})
	if err != nil || len(res.Entries) != 101 {
		t.Fatalf("query: %d entries, %v", len(res.Entries), err)
	}
}

// BenchmarkShortLivedStreams ingests streams that each live for one head
// (5 entries per stream, 20,000 streams per head, a flush after each head),
// as pods of batch jobs come and go, and reports the ingest rate and the
// heap kept per stream after the last flush.
func BenchmarkShortLivedStreams(b *testing.B) {
	const perHead, lines = 20_000, 5
	s, err := Open(DefaultConfig(b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	base := time.Now().Add(-24 * time.Hour)
	batch := make([]logmodel.Entry, 0, 2000)
	var raw int64
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		for range perHead {
			ls := logmodel.FromPairs("namespace", fmt.Sprintf("ns-%d", n%50), "pod", fmt.Sprintf("job-%d-x7k2p", n), "container", "main")
			for k := range lines {
				line := fmt.Appendf(nil, "job %d step %d finished in %d ms with status ok", n, k, n%1000)
				raw += int64(len(line))
				batch = append(batch, logmodel.Entry{Labels: ls, Timestamp: base.Add(time.Duration(n)*10*time.Millisecond + time.Duration(k)).UnixNano(), Line: line})
			}
			n++
			if len(batch) >= 2000 {
				if _, err := s.Append(ctx, "t", batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		if err := s.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.SetBytes(raw / int64(b.N))
	b.ReportMetric(float64(n*lines)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(ms.HeapAlloc)/float64(n), "heap-bytes/stream")
}
