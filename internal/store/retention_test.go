package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
)

func TestRetentionByAgeWithInjectedClock(t *testing.T) {
	cfg, clk := testConfig(t)
	cfg.PartWindow = time.Hour
	cfg.Retention = 48 * time.Hour
	s := openTest(t, cfg)
	ctx := context.Background()
	a := logmodel.FromPairs("app", "a")
	// One entry per hour over two days: 48 parts.
	start := clk.Now().Add(-47 * time.Hour)
	for h := 0; h < 48; h++ {
		mustAppend(t, s, "t", ent(a, start.Add(time.Duration(h)*time.Hour), fmt.Sprintf("hour %d", h)))
	}
	s.SetRetention("short", 2*time.Hour)
	mustAppend(t, s, "short", ent(a, clk.Now().Add(-90*time.Minute), "recent"), ent(a, clk.Now().Add(-30*time.Minute), "newest"))
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	count := func(tenant string) uint64 {
		n, _, _, err := s.Count(ctx, Query{Tenant: tenant})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count("t"); n != 48 {
		t.Fatalf("before retention %d entries; want 48", n)
	}
	clk.Step(10 * time.Hour)
	if err := s.RunMaintenance(ctx); err != nil {
		t.Fatal(err)
	}
	// Parts whose newest entry is older than now-48h are gone: hours 0..8
	// (hour 9 sits exactly at the cutoff and stays).
	if n := count("t"); n != 39 {
		t.Fatalf("after 10h: %d entries; want 39", n)
	}
	res, _ := s.Query(ctx, Query{Tenant: "t", Limit: 1})
	if got := lines(res.Entries); got != "hour 9" {
		t.Fatalf("oldest left %q; want hour 9", got)
	}
	if n := count("short"); n != 0 {
		t.Fatalf("tenant with 2h retention keeps %d entries; want 0", n)
	}
	if st := s.Stats(""); st.RetentionParts < 10 {
		t.Fatalf("retention deleted %d parts; want at least 10", st.RetentionParts)
	}
	// Appends older than retention are refused, naming the limit.
	_, err := s.Append(ctx, "t", []logmodel.Entry{ent(a, clk.Now().Add(-49*time.Hour), "old")})
	if err == nil || !strings.Contains(err.Error(), "retention") {
		t.Fatalf("append older than retention: %v", err)
	}
}

func TestRetentionByDiskBudget(t *testing.T) {
	cfg, clk := testConfig(t)
	cfg.PartWindow = time.Hour
	s := openTest(t, cfg)
	ctx := context.Background()
	a := logmodel.FromPairs("app", "a")
	start := clk.Now().Add(-20 * time.Hour)
	for h := 0; h < 20; h++ {
		var batch []logmodel.Entry
		for i := 0; i < 200; i++ {
			batch = append(batch, ent(a, start.Add(time.Duration(h)*time.Hour+time.Duration(i)*time.Second), fmt.Sprintf("hour %d line %d %s", h, i, strings.Repeat("x", i%50))))
		}
		mustAppend(t, s, "t", batch...)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	st := s.Stats("")
	perPart := st.PartBytes / int64(st.Parts)
	s.cfg.DiskBudget = perPart * 5
	if err := s.RunMaintenance(ctx); err != nil {
		t.Fatal(err)
	}
	st = s.Stats("")
	if st.PartBytes > s.cfg.DiskBudget || st.Parts < 4 {
		t.Fatalf("after budget: %d parts, %d bytes; budget %d", st.Parts, st.PartBytes, s.cfg.DiskBudget)
	}
	res, _ := s.Query(ctx, Query{Tenant: "t", Direction: logmodel.Backward, Limit: 1})
	if got := lines(res.Entries); got != "hour 19 line 199 "+strings.Repeat("x", 199%50) {
		t.Fatalf("newest entry %q; the newest parts must survive", got)
	}
}

// TestQueryDuringRetentionSeesWholeParts runs queries while retention deletes
// parts: a query sees a part entirely or not at all.
func TestQueryDuringRetentionSeesWholeParts(t *testing.T) {
	cfg, clk := testConfig(t)
	cfg.PartWindow = time.Hour
	s := openTest(t, cfg)
	ctx := context.Background()
	a := logmodel.FromPairs("app", "a")
	start := clk.Now().Add(-20 * time.Hour)
	for h := 0; h < 20; h++ {
		var batch []logmodel.Entry
		for i := 0; i < 100; i++ {
			batch = append(batch, ent(a, start.Add(time.Duration(h)*time.Hour+time.Duration(i)*time.Second), fmt.Sprintf("h%d i%d", h, i)))
		}
		mustAppend(t, s, "t", batch...)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		for i := 0; i < 30; i++ {
			n, _, _, err := s.Count(ctx, Query{Tenant: "t", LineFilters: []logmodel.LineFilter{{Type: logmodel.LineContains, Value: " i"}}})
			if err != nil {
				done <- err
				return
			}
			if n%100 != 0 {
				done <- fmt.Errorf("count %d is not a whole number of parts", n)
				return
			}
		}
		done <- nil
	}()
	for h := 0; h < 10; h++ {
		s.SetRetention("t", time.Duration(20-h)*time.Hour)
		if err := s.RunMaintenance(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestRetentionWhileAppendsWait runs retention, which prunes streams on the
// writer goroutine, while the writer waits for a flush that retention's
// manifest lock holds back: retention must let the lock go before it waits
// for the writer, or the three wait for each other for ever (the test then
// fails, and hangs in Close until go test's timeout).
func TestRetentionWhileAppendsWait(t *testing.T) {
	cfg, clk := testConfig(t)
	cfg.HeadMaxBytes = 4 << 10
	s := openTest(t, cfg)
	ctx := context.Background()
	s.SetRetention("old", time.Hour)
	mustAppend(t, s, "old", ent(logmodel.FromPairs("app", "gone"), clk.Now().Add(-30*time.Minute), "soon expired"))
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Step(time.Hour)

	s.manifestMu.Lock()
	retained := make(chan error, 1)
	go func() { retained <- s.applyRetention() }()
	time.Sleep(20 * time.Millisecond) // retention queues for the manifest lock first
	appended := appendInBackground(s, clk.Now().Add(-time.Minute), 20, 50)
	waitForFlushWait(s)
	s.manifestMu.Unlock()
	for _, ch := range []<-chan error{retained, appended} {
		awaitDone(t, ch, "retention and appends still wait for each other after 10s")
	}
	if st := s.Stats(""); st.RetentionParts != 1 {
		t.Fatalf("retention deleted %d parts; want 1", st.RetentionParts)
	}
}
