package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// TestWALRecordsStayUnderTheLimit: one append larger than a record may be
// goes into several records, none over the limit, and all of it replays.
func TestWALRecordsStayUnderTheLimit(t *testing.T) {
	cfg, _ := testConfig(t)
	s := openTest(t, cfg)
	const limit = 4 << 10
	s.walEnc.limit = limit // before the first append, which hands it to the writer
	streams := []logmodel.Labels{logmodel.FromPairs("app", "a"), logmodel.FromPairs("app", "b", "pod", strings.Repeat("p", 300))}
	var es []logmodel.Entry
	var want []string
	for i := range 200 {
		line := fmt.Sprintf("%03d %s", i, strings.Repeat("x", i%150))
		es = append(es, ent(streams[i%2], testBase.Add(time.Duration(i)*time.Millisecond), line, "k", strings.Repeat("v", i%40)))
		want = append(want, line)
	}
	if res := mustAppend(t, s, "t", es...); res.Accepted != len(es) {
		t.Fatalf("accepted %d; want %d", res.Accepted, len(es))
	}
	cfg.Dir = crashCopy(t, s)
	segs, err := listWALSegments(filepath.Join(cfg.Dir, "wal"))
	if err != nil {
		t.Fatal(err)
	}
	records, replayed := 0, 0
	for _, n := range segs {
		path := filepath.Join(cfg.Dir, "wal", walSegmentName(n))
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; off+walHeaderSize <= len(data); {
			size := int(binary.LittleEndian.Uint32(data[off:]))
			if size > limit {
				t.Fatalf("segment %d: record at %d has a %d-byte payload; want at most %d", n, off, size, limit)
			}
			off += walHeaderSize + size
		}
		_, torn, err := replaySegment(path, func(r walRecord) error {
			records++
			replayed += len(r.entries)
			return nil
		})
		if err != nil || torn {
			t.Fatalf("segment %d: torn %v, err %v", n, torn, err)
		}
	}
	if records < 2 || replayed != len(es) {
		t.Fatalf("got %d records of %d entries; want several of %d", records, replayed, len(es))
	}
	s2 := openTest(t, cfg)
	res, err := s2.Query(context.Background(), Query{Tenant: "t", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if got := lines(res.Entries); got != strings.Join(want, "|") {
		t.Fatalf("replayed %d entries; want %d in order", len(res.Entries), len(want))
	}
}
