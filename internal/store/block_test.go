package store

import (
	"context"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// TestEmptyLinesStayInDecodableBlocks: empty lines add no bytes to a block, so
// flushes and merges must also cut blocks at maxBlockEntries, or the part they
// write is rejected as corrupt on its first read and set aside.
func TestEmptyLinesStayInDecodableBlocks(t *testing.T) {
	cfg, _ := testConfig(t)
	cfg.MergeMinParts = 2
	cfg.HeadMaxBytes = 1 << 40 // one part per Flush: a head of over maxBlockEntries lines
	s := openTest(t, cfg)
	a := logmodel.FromPairs("app", "a")
	next := 0
	appendEmpty := func(n int) {
		t.Helper()
		es := make([]logmodel.Entry, 0, 8192)
		for range n {
			es = append(es, logmodel.Entry{Labels: a, Timestamp: testBase.Add(time.Duration(next) * time.Microsecond).UnixNano()})
			next++
			if len(es) == cap(es) {
				mustAppend(t, s, "t1", es...)
				es = es[:0]
			}
		}
		if len(es) > 0 {
			mustAppend(t, s, "t1", es...)
		}
		if err := s.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	check := func(stage string) []*part {
		t.Helper()
		parts := s.snapshotParts("t1")
		total := 0
		d := new(blockDecoder)
		for _, p := range parts {
			var buf []byte
			for i := range p.blocks {
				var err error
				if buf, err = p.readBlock(i, buf); err != nil {
					t.Fatalf("%s: part %s block %d: %v", stage, p.name, i, err)
				}
				if err := d.decodeHeader(buf); err != nil {
					t.Fatalf("%s: part %s block %d of %d entries: %v", stage, p.name, i, p.blocks[i].count, err)
				}
				total += d.count
			}
		}
		if total != next {
			t.Fatalf("%s: got %d entries in blocks; want %d", stage, total, next)
		}
		return parts
	}
	appendEmpty(maxBlockEntries + 10)
	check("flush")
	appendEmpty(maxBlockEntries / 2)
	check("second flush")
	if err := s.RunMaintenance(context.Background()); err != nil {
		t.Fatal(err)
	}
	if parts := check("merge"); len(parts) != 1 {
		t.Fatalf("merge: got %d parts; want 1", len(parts))
	}
}
