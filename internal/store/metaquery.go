package store

import (
	"context"
	"errors"
	"slices"
	"sort"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// ReadAfter returns up to limit entries of the tenant appended after cursor,
// in ingest (cursor) order, that match q's matchers and filters (q's time
// range, direction, limit and page token are ignored). Live tail uses it to
// replay what a subscriber missed. more reports whether further matching
// entries exist after the last one returned.
func (s *Store) ReadAfter(ctx context.Context, q Query, cursor logmodel.Cursor, limit int) (entries []logmodel.Entry, more bool, err error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	q.Start, q.End, q.After, q.Direction = 0, 0, nil, logmodel.Forward
	pl, err := s.prepare(q, true, cursor.Seq)
	if err != nil {
		return nil, false, err
	}
	defer pl.release()
	sort.Slice(pl.srcs, func(i, j int) bool { return pl.srcs[i].minSeq < pl.srcs[j].minSeq })
	want := limit + 1
	var got []logmodel.Entry
	sc := pl.newScanner()
	defer sc.close()
	for i := range pl.srcs {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		src := &pl.srcs[i]
		if len(got) >= want && src.minSeq > got[want-1].Cursor.Seq {
			break
		}
		collect := func(e *EntryView) error {
			if e.Seq > cursor.Seq {
				got = append(got, toEntry(src.st, e))
			}
			return nil
		}
		var err error
		if src.p == nil {
			err = sc.scanHeadAfter(src, cursor.Seq, want, collect)
		} else {
			err = sc.scan(src, false, collect)
		}
		if err != nil {
			return nil, false, err
		}
		sort.Slice(got, func(a, b int) bool { return got[a].Cursor.Seq < got[b].Cursor.Seq })
		if len(got) > want {
			got = got[:want]
		}
	}
	if len(got) > limit {
		return got[:limit], true, nil
	}
	return got, false, nil
}

// LastCursor returns the tenant's newest visible cursor (zero when empty).
func (s *Store) LastCursor(tenant string) logmodel.Cursor {
	t := s.tenant(tenant)
	if t == nil {
		return logmodel.Cursor{}
	}
	return logmodel.Cursor{Seq: t.visible.Load()}
}

// OldestCursor returns the oldest cursor the tenant still stores, so that a
// reader can tell whether retention removed entries after its cursor. It is
// the zero cursor when the tenant stores nothing.
func (s *Store) OldestCursor(tenant string) logmodel.Cursor {
	oldest := uint64(0)
	consider := func(seq uint64) {
		if oldest == 0 || seq < oldest {
			oldest = seq
		}
	}
	// The heads are read after s.mu is released: the writer holds a head's
	// lock while it takes s.mu (isDuplicate), so holding s.mu while taking a
	// head's lock could deadlock with it.
	s.mu.RLock()
	t := s.tenants[tenant]
	if t == nil {
		s.mu.RUnlock()
		return logmodel.Cursor{}
	}
	for _, p := range t.parts {
		consider(p.minSeq)
	}
	heads := append(append([]*head(nil), s.frozen...), s.active)
	s.mu.RUnlock()
	for _, h := range heads {
		for _, hv := range h.views(tenant) {
			consider(hv.minSeq)
		}
	}
	return logmodel.Cursor{Seq: oldest}
}

// StreamStat counts one stream's entries and line bytes over a time range.
type StreamStat struct {
	Stream  *Stream
	Entries uint64
	Bytes   uint64
}

// StreamStats counts entries and bytes per stream over [start, end) from
// block metadata and timestamps, without decompressing lines. end 0 means no
// upper bound.
func (s *Store) StreamStats(ctx context.Context, tenant string, matchers []logmodel.Matcher, start, end int64) ([]StreamStat, QueryStats, error) {
	pl, err := s.prepareMode(Query{Tenant: tenant, Matchers: matchers, Start: start, End: end}, false, 0, true)
	if err != nil {
		return nil, QueryStats{}, err
	}
	defer pl.release()
	byID := make(map[uint64]*StreamStat)
	stat := func(st *Stream) *StreamStat {
		r := byID[st.ID]
		if r == nil {
			r = &StreamStat{Stream: st}
			byID[st.ID] = r
		}
		return r
	}
	d := decoderPool.Get().(*blockDecoder)
	defer decoderPool.Put(d)
	for i := range pl.srcs {
		if err := ctx.Err(); err != nil {
			return nil, pl.stats, err
		}
		src := &pl.srcs[i]
		r := stat(src.st)
		if src.p == nil {
			visible := pl.t.visible.Load()
			hv := &src.hv
			for j, ts := range hv.ts {
				if ts >= start && ts < pl.end && hv.seq[j] <= visible {
					r.Entries++
					r.Bytes += uint64(hv.ref[j].n)
				}
			}
			continue
		}
		if src.block < 0 {
			r.Entries += src.ps.entries
			r.Bytes += src.ps.rawBytes
			continue
		}
		b := &src.p.blocks[src.block]
		if b.minTs >= start && b.maxTs < pl.end {
			r.Entries += uint64(b.count)
			r.Bytes += b.rawBytes
			continue
		}
		if d.raw, err = src.p.readBlock(src.block, d.raw); err == nil {
			err = d.decodeHeader(d.raw)
		}
		if err != nil {
			if errors.Is(err, errCorrupt) {
				pl.stats.CorruptBlocks++
				pl.markCorrupt(src.p, err)
				continue
			}
			return nil, pl.stats, err
		}
		pl.stats.BlocksScanned++
		for j := 0; j < d.count; j++ {
			if d.ts[j] >= start && d.ts[j] < pl.end {
				r.Entries++
				r.Bytes += uint64(d.lineLen(j))
			}
		}
	}
	out := make([]StreamStat, 0, len(byID))
	for _, r := range byID {
		if r.Entries > 0 {
			out = append(out, *r)
		}
	}
	slices.SortFunc(out, func(a, b StreamStat) int { return a.Stream.Labels.Compare(b.Stream.Labels) })
	return out, pl.stats, nil
}

// Count returns the number of entries and line bytes matching q. Without
// line, metadata or predicate filters it is answered from metadata.
func (s *Store) Count(ctx context.Context, q Query) (entries, bytes uint64, stats QueryStats, err error) {
	if len(q.LineFilters) == 0 && len(q.MetaFilters) == 0 && q.Predicate == nil && len(q.RequiredTokens) == 0 {
		ss, st, err := s.StreamStats(ctx, q.Tenant, q.Matchers, q.Start, q.End)
		for _, r := range ss {
			entries += r.Entries
			bytes += r.Bytes
		}
		return entries, bytes, st, err
	}
	counts := make([][2]uint64, s.Workers())
	stats, err = s.Scan(ctx, q, func(w int, _ *Stream, e *EntryView) error {
		counts[w][0]++
		counts[w][1] += uint64(len(e.Line))
		return nil
	})
	for _, c := range counts {
		entries += c[0]
		bytes += c[1]
	}
	return entries, bytes, stats, err
}

// Series returns the label sets of streams with entries in [start, end) that
// match the matchers, sorted.
func (s *Store) Series(ctx context.Context, tenant string, matchers []logmodel.Matcher, start, end int64) ([]logmodel.Labels, error) {
	streams, err := s.activeStreams(tenant, matchers, start, end)
	if err != nil {
		return nil, err
	}
	out := make([]logmodel.Labels, 0, len(streams))
	for _, st := range streams {
		out = append(out, st.Labels)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}

// LabelNames returns the label names of matching streams with entries in
// [start, end), sorted.
func (s *Store) LabelNames(ctx context.Context, tenant string, matchers []logmodel.Matcher, start, end int64) ([]string, error) {
	streams, err := s.activeStreams(tenant, matchers, start, end)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, st := range streams {
		for _, l := range st.Labels {
			set[l.Name] = true
		}
	}
	return sortedKeys(set), nil
}

// LabelValues returns the values of label name among matching streams with
// entries in [start, end), sorted.
func (s *Store) LabelValues(ctx context.Context, tenant, name string, matchers []logmodel.Matcher, start, end int64) ([]string, error) {
	streams, err := s.activeStreams(tenant, matchers, start, end)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, st := range streams {
		if v := st.Labels.Get(name); v != "" {
			set[v] = true
		}
	}
	return sortedKeys(set), nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// activeStreams returns matching streams with a block or head entries
// overlapping [start, end), judged at block granularity.
func (s *Store) activeStreams(tenant string, matchers []logmodel.Matcher, start, end int64) ([]*Stream, error) {
	pl, err := s.prepareMode(Query{Tenant: tenant, Matchers: matchers, Start: start, End: end}, false, 0, true)
	if err != nil {
		return nil, err
	}
	defer pl.release()
	seen := make(map[uint64]*Stream)
	for i := range pl.srcs {
		seen[pl.srcs[i].st.ID] = pl.srcs[i].st
	}
	out := make([]*Stream, 0, len(seen))
	for _, st := range seen {
		out = append(out, st)
	}
	return out, nil
}
