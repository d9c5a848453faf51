package archive

import (
	"bytes"
	"context"
	"slices"

	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/store"
)

// pending is one stream's entries of one hour, waiting to be written.
type pending struct {
	st   *store.Stream
	rows []row
	// arenas hold the lines and metadata the rows point into, one per scan
	// worker.
	arenas []collectArena
}

// row is one collected entry. It holds no pointers, so that the garbage
// collector skips the entries held in memory: its line is the n bytes at
// off in chunk c of worker w's arena, its metadata md in that arena's list
// (-1 for none), and s indexes its stream in the batch collected.
type row struct {
	ts     int64
	seq    uint64
	off, n uint32
	c      uint32
	md     int32
	w      int32
	s      int32
}

// entry rebuilds the entry of r.
func (g *pending) entry(r *row) logmodel.Entry {
	a := &g.arenas[r.w]
	e := logmodel.Entry{Labels: g.st.Labels, Timestamp: r.ts, Line: a.chunks[r.c][r.off : r.off+r.n : r.off+r.n], Cursor: logmodel.Cursor{Seq: r.seq}}
	if r.md >= 0 {
		e.Metadata = a.mds[r.md]
	}
	return e
}

// collectBatchBytes bounds the line bytes of the streams a job collects at
// once (a single stream's hour may exceed it), so that a job's memory does
// not grow with the hour's data.
const collectBatchBytes = 8 << 20

// collector reads batches of streams of one hour, reusing its buffers from
// one batch to the next: the previous batch's groups are invalid once
// collect is called again.
type collector struct {
	st *store.Store
	// arenas and rows are per scan worker; rows in scan order.
	arenas []collectArena
	rows   [][]row
	// sorted holds the batch's rows grouped by stream.
	sorted []row
	counts []int
}

func newCollector(st *store.Store) *collector {
	return &collector{st: st, arenas: make([]collectArena, st.Workers()), rows: make([][]row, st.Workers())}
}

// collect reads the entries of the batch's streams in [start, end) with a
// cursor up to snap, grouped by stream in the batch's order; encodeObject
// sorts each group, on the encoding goroutines.
func (c *collector) collect(ctx context.Context, tenant string, matchers []logmodel.Matcher, start, end int64, snap uint64, batch []store.StreamStat) ([]*pending, error) {
	ids := make([]uint64, len(batch))
	index := make(map[uint64]int32, len(batch))
	for i, s := range batch {
		ids[i] = s.Stream.ID
		index[s.Stream.ID] = int32(i)
	}
	for w := range c.arenas {
		c.arenas[w].reset()
		c.rows[w] = c.rows[w][:0]
	}
	// Each worker remembers its last stream: a source is one stream's.
	last := make([]struct {
		id uint64
		s  int32
	}, len(c.arenas))
	for w := range last {
		last[w].s = -1
	}
	q := store.Query{Tenant: tenant, Matchers: matchers, Streams: ids, Start: start, End: end,
		Predicate: func(_ *store.Stream, e *store.EntryView) bool { return e.Seq <= snap }}
	_, err := c.st.Scan(ctx, q, func(w int, st *store.Stream, e *store.EntryView) error {
		l := &last[w]
		if l.s < 0 || l.id != st.ID {
			l.id, l.s = st.ID, index[st.ID]
		}
		a := &c.arenas[w]
		ch, off := a.line(e.Line)
		c.rows[w] = append(c.rows[w], row{ts: e.Timestamp, seq: e.Seq, c: ch, off: off, n: uint32(len(e.Line)), md: a.metadata(e.Metadata), w: int32(w), s: l.s})
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.counts = append(c.counts[:0], make([]int, len(batch)+1)...)
	total := 0
	for _, rs := range c.rows {
		for i := range rs {
			c.counts[rs[i].s+1]++
		}
		total += len(rs)
	}
	for i := 1; i < len(c.counts); i++ {
		c.counts[i] += c.counts[i-1]
	}
	c.sorted = slices.Grow(c.sorted[:0], total)[:total]
	next := slices.Clone(c.counts)
	for _, rs := range c.rows {
		for i := range rs {
			c.sorted[next[rs[i].s]] = rs[i]
			next[rs[i].s]++
		}
	}
	out := make([]*pending, 0, len(batch))
	for i, s := range batch {
		if lo, hi := c.counts[i], c.counts[i+1]; hi > lo {
			out = append(out, &pending{st: s.Stream, rows: c.sorted[lo:hi:hi], arenas: c.arenas})
		}
	}
	return out, nil
}

// collectArena copies the lines one scan worker collects into large
// chunks, and keeps one metadata copy for consecutive entries with equal
// metadata, to spare the allocator and the GC.
type collectArena struct {
	chunks [][]byte
	// spare holds emptied chunks for reuse.
	spare [][]byte
	mds   []logmodel.Labels
}

// reset empties the arena, keeping standard chunks for reuse, about as
// many as a batch fills.
func (a *collectArena) reset() {
	for _, c := range a.chunks {
		if cap(c) == arenaChunk && len(a.spare) < collectBatchBytes/arenaChunk+1 {
			a.spare = append(a.spare, c[:0])
		}
	}
	clear(a.chunks)
	a.chunks = a.chunks[:0]
	clear(a.mds)
	a.mds = a.mds[:0]
}

const arenaChunk = 1 << 20

// line copies b and returns where it went.
func (a *collectArena) line(b []byte) (chunk, off uint32) {
	if len(b) > arenaChunk/4 {
		a.chunks = append(a.chunks, bytes.Clone(b))
		return uint32(len(a.chunks) - 1), 0
	}
	if len(a.chunks) == 0 || cap(a.chunks[len(a.chunks)-1])-len(a.chunks[len(a.chunks)-1]) < len(b) {
		if n := len(a.spare); n > 0 {
			a.chunks = append(a.chunks, a.spare[n-1])
			a.spare = a.spare[:n-1]
		} else {
			a.chunks = append(a.chunks, make([]byte, 0, arenaChunk))
		}
	}
	i := len(a.chunks) - 1
	off = uint32(len(a.chunks[i]))
	a.chunks[i] = append(a.chunks[i], b...)
	return uint32(i), off
}

// metadata returns the index of md's copy, -1 for none.
func (a *collectArena) metadata(md logmodel.Labels) int32 {
	if len(md) == 0 {
		return -1
	}
	if n := len(a.mds); n == 0 || !a.mds[n-1].Equal(md) {
		a.mds = append(a.mds, md.Copy())
	}
	return int32(len(a.mds) - 1)
}
