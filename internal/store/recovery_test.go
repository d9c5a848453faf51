package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// The child side of TestKill9Recovery: it appends batches from several
// goroutines and prints "ack <batch>" for each acknowledged batch.
func init() {
	dir := os.Getenv("KUBELOG_STORE_CRASH_CHILD")
	if dir == "" {
		return
	}
	cfg := DefaultConfig(dir)
	cfg.HeadMaxBytes = 256 << 10 // flush often, so that the crash also hits flushes
	cfg.BlockTargetBytes = 8 << 10
	cfg.MergeMinParts = 3
	cfg.MaintenanceInterval = 50 * time.Millisecond
	s, err := Open(cfg)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	round, _ := strconv.Atoi(os.Getenv("KUBELOG_STORE_CRASH_ROUND"))
	out := bufio.NewWriter(os.Stdout)
	acks := make(chan int, 100)
	for w := 0; w < 4; w++ {
		go func(w int) {
			for b := w; ; b += 4 {
				if _, err := s.Append(context.Background(), "crash", crashBatch(round, b)); err != nil {
					fmt.Println("append:", err)
					os.Exit(2)
				}
				acks <- b
			}
		}(w)
	}
	for b := range acks {
		fmt.Fprintf(out, "ack %d\n", b)
		_ = out.Flush()
	}
}

func crashBatch(round, b int) []logmodel.Entry {
	ls := logmodel.FromPairs("pod", fmt.Sprintf("p%d", b%7))
	es := make([]logmodel.Entry, 50)
	for i := range es {
		es[i] = logmodel.Entry{
			Labels:    ls,
			Timestamp: time.Now().Add(-time.Minute).UnixNano() + int64(i),
			Line:      []byte(fmt.Sprintf("round %d batch %d line %d some text to make it longer %d", round, b, i, b*i)),
		}
	}
	return es
}

// TestKill9Recovery kills a real child process with SIGKILL while it appends,
// restarts the store and checks that every acknowledged entry is present once.
func TestKill9Recovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	for round := 0; round < 3; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "KUBELOG_STORE_CRASH_CHILD="+dir, fmt.Sprintf("KUBELOG_STORE_CRASH_ROUND=%d", round))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := map[int]bool{}
		want := map[string]bool{}
		sc := bufio.NewScanner(stdout)
		deadline := time.Now().Add(time.Duration(300+round*200) * time.Millisecond)
		for sc.Scan() {
			line := sc.Text()
			b, err := strconv.Atoi(strings.TrimPrefix(line, "ack "))
			if err != nil {
				t.Fatalf("child: %s", line)
			}
			acked[b] = true
			if time.Now().After(deadline) {
				_ = cmd.Process.Signal(syscall.SIGKILL)
				break
			}
		}
		for sc.Scan() {
			if b, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "ack ")); err == nil {
				acked[b] = true
			}
		}
		_ = cmd.Wait()
		if len(acked) == 0 {
			t.Fatal("child acknowledged nothing")
		}
		cfg := DefaultConfig(dir)
		s, err := Open(cfg)
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		counts := map[string]int{}
		res, _, err := s.ReadAfter(context.Background(), Query{Tenant: "crash"}, logmodel.Cursor{}, 10_000_000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range res {
			counts[string(e.Line)]++
		}
		for line, n := range counts {
			if n != 1 {
				t.Fatalf("round %d: %q stored %d times", round, line, n)
			}
		}
		for b := range acked {
			for _, e := range crashBatch(round, b) {
				want[string(e.Line)] = true
			}
		}
		for line := range want {
			if counts[line] != 1 {
				t.Fatalf("round %d: acknowledged line %q lost", round, line)
			}
		}
		t.Logf("round %d: %d batches acknowledged, %d entries stored, stats %+v", round, len(acked), len(counts), s.Stats("crash"))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// crashCopy copies s's WAL into a new data dir, as a crash before Close
// would leave it, and returns the dir.
func crashCopy(t *testing.T, s *Store) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "wal"), 0o755); err != nil {
		t.Fatal(err)
	}
	segs, _ := listWALSegments(s.walDir)
	for _, n := range segs {
		data, err := os.ReadFile(filepath.Join(s.walDir, walSegmentName(n)))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "wal", walSegmentName(n)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestTornWALTailIsTruncated(t *testing.T) {
	cfg, _ := testConfig(t)
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := logmodel.FromPairs("app", "a")
	mustAppend(t, s, "t", ent(a, testBase, "one"), ent(a, testBase.Add(time.Second), "two"))
	crashDir := crashCopy(t, s)
	_ = s.Close()
	segs, _ := listWALSegments(filepath.Join(crashDir, "wal"))
	walPath := filepath.Join(crashDir, "wal", walSegmentName(segs[len(segs)-1]))
	data, err := os.ReadFile(walPath)
	if err != nil {
		t.Fatal(err)
	}
	// A second record, torn in the middle.
	torn := append(append([]byte{}, data...), data[:len(data)/2]...)
	if err := os.WriteFile(walPath, torn, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.Dir = crashDir
	s2 := openTest(t, cfg)
	res, _ := s2.Query(context.Background(), Query{Tenant: "t"})
	if got := lines(res.Entries); got != "one|two" {
		t.Fatalf("got %q; want one|two", got)
	}
	if st := s2.Stats(""); st.WALTornTails != 1 {
		t.Fatalf("WALTornTails %d; want 1", st.WALTornTails)
	}
	fi, err := os.Stat(walPath)
	if err != nil || fi.Size() != int64(len(data)) {
		t.Fatalf("torn segment is %v bytes (%v); want %d", fi.Size(), err, len(data))
	}
}

// TestRetriesReplayedOnce replays a WAL whose second record mixes retries,
// which it marks as not stored, with new entries: each entry comes back
// once, with the cursor it was acknowledged with.
func TestRetriesReplayedOnce(t *testing.T) {
	cfg, _ := testConfig(t)
	s := openTest(t, cfg)
	a, b := logmodel.FromPairs("app", "a"), logmodel.FromPairs("app", "b")
	x, y := ent(a, testBase, "x"), ent(b, testBase.Add(time.Second), "y")
	r1 := mustAppend(t, s, "t", x, y)
	z, w := ent(a, testBase.Add(2*time.Second), "z"), ent(b, testBase, "w")
	r2 := mustAppend(t, s, "t", y, z, x, w, z)
	if r2.Accepted != 2 || r2.Duplicates != 3 {
		t.Fatalf("accepted %d duplicates %d; want 2 and 3", r2.Accepted, r2.Duplicates)
	}
	want := map[string]uint64{"x": r1.Cursors[0].Seq, "y": r1.Cursors[1].Seq, "z": r2.Cursors[1].Seq, "w": r2.Cursors[3].Seq}
	cfg.Dir = crashCopy(t, s)
	s2 := openTest(t, cfg)
	got, _, err := s2.ReadAfter(context.Background(), Query{Tenant: "t"}, logmodel.Cursor{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("replayed %d entries; want %d", len(got), len(want))
	}
	for _, e := range got {
		if want[string(e.Line)] != e.Cursor.Seq {
			t.Fatalf("%q replayed with cursor %d; want %d", e.Line, e.Cursor.Seq, want[string(e.Line)])
		}
	}
	if r := mustAppend(t, s2, "t", ent(a, testBase.Add(3*time.Second), "v")); r.Cursors[0].Seq != 5 {
		t.Fatalf("next cursor %d; want 5", r.Cursors[0].Seq)
	}
}

func TestCorruptPartIsSetAside(t *testing.T) {
	cfg, _ := testConfig(t)
	s := openTest(t, cfg)
	ctx := context.Background()
	a, b := logmodel.FromPairs("app", "a"), logmodel.FromPairs("app", "b")
	mustAppend(t, s, "t", ent(a, testBase, "first part line"))
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, "t", ent(b, testBase.Add(time.Second), "second part line"))
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s.mu.RLock()
	first := s.tenants["t"].parts[0]
	s.mu.RUnlock()
	// Flip a byte inside the first block of the first part.
	f, err := os.OpenFile(first.path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	off := int64(first.blocks[0].off) + int64(first.blocks[0].length) - 2
	if _, err := f.WriteAt([]byte{0xAA}, off); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	res, err := s.Query(ctx, Query{Tenant: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if got := lines(res.Entries); got != "second part line" || res.Stats.CorruptBlocks != 1 {
		t.Fatalf("got %q with %d corrupt blocks; want the second part's line and 1", got, res.Stats.CorruptBlocks)
	}
	st := s.Stats("")
	if st.CorruptParts != 1 || st.Parts != 1 {
		t.Fatalf("corrupt parts %d, parts %d; want 1 and 1", st.CorruptParts, st.Parts)
	}
	if _, err := os.Stat(filepath.Join(cfg.Dir, "corrupt", first.name)); err != nil {
		t.Fatalf("corrupt part not set aside: %v", err)
	}
	// A restart does not bring it back.
	_ = s.Close()
	s2 := openTest(t, cfg)
	res, _ = s2.Query(ctx, Query{Tenant: "t"})
	if got := lines(res.Entries); got != "second part line" {
		t.Fatalf("after restart got %q", got)
	}
}

func TestCorruptPartFoundAtOpen(t *testing.T) {
	cfg, _ := testConfig(t)
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, "t", ent(logmodel.FromPairs("app", "a"), testBase, "x"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	parts, _ := filepath.Glob(filepath.Join(cfg.Dir, "parts", "*.part"))
	if len(parts) != 1 {
		t.Fatalf("%d parts; want 1", len(parts))
	}
	if err := os.Truncate(parts[0], 20); err != nil {
		t.Fatal(err)
	}
	s2 := openTest(t, cfg)
	if st := s2.Stats(""); st.CorruptParts != 1 || st.Parts != 0 {
		t.Fatalf("corrupt %d parts %d; want 1 and 0", st.CorruptParts, st.Parts)
	}
	mustAppend(t, s2, "t", ent(logmodel.FromPairs("app", "a"), testBase.Add(time.Second), "y"))
}

// TestWALWriteFailure makes the WAL fail: the append is refused, nothing of
// it is visible or kept, the store reports the error, and it recovers once
// writes work again.
func TestWALWriteFailure(t *testing.T) {
	cfg, _ := testConfig(t)
	s := openTest(t, cfg)
	ctx := context.Background()
	a := logmodel.FromPairs("app", "a")
	mustAppend(t, s, "t", ent(a, testBase, "before"))
	restore := failWAL(t, s, false)
	_, err := s.Append(ctx, "t", []logmodel.Entry{ent(a, testBase.Add(time.Second), "lost")})
	if err == nil {
		t.Fatal("append succeeded on a failing WAL")
	}
	if s.Health() == nil || s.Stats("").WALErrors != 1 {
		t.Fatalf("health %v, wal errors %d; want an error and 1", s.Health(), s.Stats("").WALErrors)
	}
	res, _ := s.Query(ctx, Query{Tenant: "t"})
	if got := lines(res.Entries); got != "before" {
		t.Fatalf("after failure got %q; want only \"before\"", got)
	}
	restore()
	r := mustAppend(t, s, "t", ent(a, testBase.Add(time.Second), "after"))
	if r.Cursors[0].Seq != 2 {
		t.Fatalf("cursor after recovery %d; want 2 (the failed append's cursor is reused, never seen)", r.Cursors[0].Seq)
	}
	if s.Health() != nil {
		t.Fatalf("health after recovery: %v", s.Health())
	}
	res, _ = s.Query(ctx, Query{Tenant: "t"})
	if got := lines(res.Entries); got != "before|after" {
		t.Fatalf("got %q; want before|after", got)
	}
	_ = s.Close()
	s2 := openTest(t, cfg)
	res, _ = s2.Query(ctx, Query{Tenant: "t"})
	if got := lines(res.Entries); got != "before|after" {
		t.Fatalf("after restart got %q; want before|after", got)
	}
}

// TestWALWriteFailurePipelined fails the WAL under concurrent appends, so
// that groups are prepared on top of a group whose write fails: every one of
// them must fail, none may become visible, and their cursors are reused.
func TestWALWriteFailurePipelined(t *testing.T) {
	cfg, _ := testConfig(t)
	s := openTest(t, cfg)
	ctx := context.Background()
	a := logmodel.FromPairs("app", "a")
	mustAppend(t, s, "t", ent(a, testBase, "before"))
	restore := failWAL(t, s, true)
	var wg sync.WaitGroup
	var succeeded atomic.Int64
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				es := []logmodel.Entry{ent(logmodel.FromPairs("app", fmt.Sprint(g)), testBase.Add(time.Duration(i+1)*time.Millisecond), "lost")}
				if _, err := s.Append(ctx, "t", es); err == nil {
					succeeded.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := succeeded.Load(); n != 0 {
		t.Fatalf("%d appends succeeded on a failing WAL", n)
	}
	res, _ := s.Query(ctx, Query{Tenant: "t"})
	if got := lines(res.Entries); got != "before" {
		t.Fatalf("after failures got %q; want only \"before\"", got)
	}
	restore()
	r := mustAppend(t, s, "t", ent(a, testBase.Add(time.Second), "after"))
	if r.Cursors[0].Seq != 2 {
		t.Fatalf("cursor after recovery %d; want 2", r.Cursors[0].Seq)
	}
	if n := s.Stats("").WALErrors; n < 2 {
		t.Fatalf("%d WAL errors; want one per failed group, at least 2", n)
	}
	_ = s.Close()
	s2 := openTest(t, cfg)
	res, _ = s2.Query(ctx, Query{Tenant: "t"})
	if got := lines(res.Entries); got != "before|after" {
		t.Fatalf("after restart got %q; want before|after", got)
	}
}

// failWAL makes the WAL's writes fail by swapping its segment for a
// read-only handle of itself; with blockRotation, moving to a new segment
// fails too, since a directory stands where it would be created. restore
// undoes both, keeping whichever segment the store now writes.
func failWAL(t *testing.T, s *Store, blockRotation bool) (restore func()) {
	t.Helper()
	onWriter := func(fn func()) {
		done := make(chan struct{})
		_ = s.sendControl(context.Background(), func() { fn(); close(done) })
		<-done
	}
	var good *os.File
	next := filepath.Join(s.walDir, walSegmentName(s.wal.num+1))
	onWriter(func() {
		good = s.wal.f
		ro, err := os.Open(good.Name())
		if err != nil {
			t.Error(err)
		}
		s.wal.f = ro
		if blockRotation {
			if err := os.Mkdir(next, 0o755); err != nil {
				t.Error(err)
			}
		}
	})
	return func() {
		onWriter(func() {
			if blockRotation {
				if err := os.Remove(next); err != nil {
					t.Error(err)
				}
			}
			if !s.wal.broken {
				_ = s.wal.f.Close()
				s.wal.f = good
			} else {
				_ = good.Close()
			}
		})
	}
}
