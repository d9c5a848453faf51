package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// Query selects entries of one tenant.
type Query struct {
	Tenant string
	// Matchers select streams by label; all must match.
	Matchers []logmodel.Matcher
	// Streams, when not nil, keeps only the selected streams with these
	// IDs. EntryFilter ignores it.
	Streams []uint64
	// Start is inclusive, End exclusive, both Unix nanoseconds. End 0 means
	// no upper bound.
	Start, End int64
	// LineFilters must all pass.
	LineFilters []logmodel.LineFilter
	// MetaFilters compare structured metadata; all must match.
	MetaFilters []logmodel.Matcher
	// Predicate, when set, is a further test run after the filters above. It
	// may run concurrently on several goroutines.
	Predicate func(s *Stream, e *EntryView) bool
	// RequiredTokens are tokens every match contains (for example the words
	// of a search expression); blocks whose bloom filters lack one are skipped.
	RequiredTokens []string
	// Direction orders the results; Limit caps them (default 100).
	Direction logmodel.Direction
	Limit     int
	// After continues a previous query after its last entry.
	After *logmodel.PageToken
}

// QueryStats describes the work a query did.
type QueryStats struct {
	Streams            int   `json:"streams"`
	Parts              int   `json:"parts"`
	BlocksTotal        int   `json:"blocks_total"`
	BlocksSkippedBloom int   `json:"blocks_skipped_bloom"`
	BlocksScanned      int   `json:"blocks_scanned"`
	BytesScanned       int64 `json:"bytes_scanned"`
	BytesSkipped       int64 `json:"bytes_skipped"`
	RawBytesScanned    int64 `json:"raw_bytes_scanned"`
	EntriesScanned     int64 `json:"entries_scanned"`
	HeadEntriesScanned int64 `json:"head_entries_scanned"`
	CorruptBlocks      int   `json:"corrupt_blocks"`
	Duration           time.Duration
}

func (a *QueryStats) add(b *QueryStats) {
	a.BlocksScanned += b.BlocksScanned
	a.BytesScanned += b.BytesScanned
	a.RawBytesScanned += b.RawBytesScanned
	a.EntriesScanned += b.EntriesScanned
	a.HeadEntriesScanned += b.HeadEntriesScanned
	a.CorruptBlocks += b.CorruptBlocks
}

// Result is a page of query results.
type Result struct {
	Entries []logmodel.Entry
	// HasMore says whether more entries match after the last one; Next
	// continues the query then.
	HasMore bool
	Next    logmodel.PageToken
	Stats   QueryStats
}

// DefaultLimit is the limit of a query that sets none.
const DefaultLimit = 100

// plan is a prepared query: matched streams and a snapshot of the data.
type plan struct {
	s       *Store
	q       Query
	t       *tenant
	streams map[uint64]*Stream
	parts   []*part
	heads   []*head
	filters []*compiledFilter
	// matchers and meta are q.Matchers and q.MetaFilters compiled.
	matchers, meta []*logmodel.CompiledMatcher
	tokens         []uint64
	grams          []uint64 // checked only in parts whose blooms hold grams
	inner          []uint64 // checked only in parts whose blooms hold inner grams
	anchor         []byte
	fold           bool
	// anchorDigits says the anchor holds digits, so it must be searched in
	// the text with its digits merged back.
	anchorDigits bool
	end          int64
	srcs         []source
	stats        QueryStats

	corruptMu  sync.Mutex // guards corrupt and corruptErr
	corrupt    []*part
	corruptErr []error

	// headSearch says head lines are tested through headHits: the anchor is
	// searched once in each whole head buffer, which is several times faster
	// than searching line by line when much of the head is scanned.
	headSearch bool
	headMu     sync.Mutex // guards headHits
	headHits   map[*byte]bufferHits
}

// bufferHits are where the plan's anchor starts in the first n bytes of a
// head buffer.
type bufferHits struct {
	n  int
	at []uint32
}

// source is one unit of scanning: a part block, all of a stream's blocks in
// a part (block < 0, only for metadata counts), or a head stream.
type source struct {
	p      *part
	block  int
	ps     *partStream
	hv     headView
	st     *Stream
	minTs  int64
	maxTs  int64
	minSeq uint64
	maxSeq uint64
}

func (s *Store) prepare(q Query, seqMode bool, afterSeq uint64) (*plan, error) {
	return s.prepareMode(q, seqMode, afterSeq, false)
}

// prepareMode is prepare; with wholeStreams, a stream all of whose blocks in
// a part lie inside the time range becomes one source with block -1.
func (s *Store) prepareMode(q Query, seqMode bool, afterSeq uint64, wholeStreams bool) (*plan, error) {
	if err := validTenant(q.Tenant); err != nil {
		return nil, err
	}
	pl, err := newFilterPlan(q)
	if err != nil {
		return nil, err
	}
	pl.s = s
	for _, c := range pl.filters {
		if pl.anchor == nil {
			pl.anchor, pl.fold = c.anchor()
			pl.anchorDigits = bytes.ContainsAny(pl.anchor, "0123456789")
		}
	}
	s.mu.RLock()
	pl.t = s.tenants[q.Tenant]
	if pl.t != nil {
		pl.parts = append(pl.parts, pl.t.parts...)
		for _, p := range pl.parts {
			p.ref()
		}
		pl.heads = append(append(pl.heads, s.frozen...), s.active)
	}
	s.mu.RUnlock()
	if pl.t == nil {
		return pl, nil
	}
	pl.streams = pl.t.match(pl.matchers)
	if q.Streams != nil {
		only := make(map[uint64]*Stream, len(q.Streams))
		for _, id := range q.Streams {
			if st := pl.streams[id]; st != nil {
				only[id] = st
			}
		}
		pl.streams = only
	}
	pl.stats.Streams = len(pl.streams)
	visible := pl.t.visible.Load()
	for _, p := range pl.parts {
		if p.maxTs < q.Start || p.minTs >= pl.end || (seqMode && p.maxSeq <= afterSeq) {
			continue
		}
		pl.stats.Parts++
		visit := func(ps *partStream, st *Stream) {
			if wholeStreams && ps.minTs >= q.Start && ps.maxTs < pl.end && len(pl.tokens) == 0 && len(pl.grams) == 0 && len(pl.inner) == 0 {
				pl.srcs = append(pl.srcs, source{p: p, block: -1, ps: ps, st: st, minTs: ps.minTs, maxTs: ps.maxTs})
				return
			}
			for bi := ps.first; bi < ps.first+ps.n; bi++ {
				b := &p.blocks[bi]
				if b.maxTs < q.Start || b.minTs >= pl.end || (seqMode && b.maxSeq <= afterSeq) || pl.beforePage(b.minTs, b.maxTs) {
					continue
				}
				pl.stats.BlocksTotal++
				if !pl.bloomPass(p, bi) {
					pl.stats.BlocksSkippedBloom++
					pl.stats.BytesSkipped += int64(b.length)
					continue
				}
				pl.srcs = append(pl.srcs, source{p: p, block: bi, st: st, minTs: b.minTs, maxTs: b.maxTs, minSeq: b.minSeq, maxSeq: b.maxSeq})
			}
		}
		if len(pl.streams) < len(p.streams) {
			for id, st := range pl.streams {
				if i, ok := p.byID[id]; ok {
					visit(&p.streams[i], st)
				}
			}
		} else {
			for i := range p.streams {
				if st := pl.streams[p.streams[i].id]; st != nil {
					visit(&p.streams[i], st)
				}
			}
		}
	}
	for _, h := range pl.heads {
		for id, st := range pl.streams {
			hv, ok := h.view(id)
			if !ok || hv.maxTs < q.Start || hv.minTs >= pl.end || hv.minSeq > visible || (seqMode && hv.maxSeq <= afterSeq) || pl.beforePage(hv.minTs, hv.maxTs) {
				continue
			}
			pl.srcs = append(pl.srcs, source{hv: hv, st: st, minTs: hv.minTs, maxTs: hv.maxTs, minSeq: hv.minSeq, maxSeq: hv.maxSeq})
		}
	}
	pl.headSearch = pl.useHeadSearch()
	return pl, nil
}

// useHeadSearch reports whether searching whole head buffers pays: the
// anchor is long enough to be rare and the head streams scanned hold at
// least a quarter of the head's entries (the buffers hold every stream's).
func (pl *plan) useHeadSearch() bool {
	if len(pl.anchor) < 3 || len(pl.heads) == 0 {
		return false
	}
	var scanned, total int64
	for i := range pl.srcs {
		if pl.srcs[i].p == nil {
			scanned += int64(len(pl.srcs[i].hv.ts))
		}
	}
	for _, h := range pl.heads {
		total += h.entryCount()
	}
	return scanned > 0 && scanned*4 >= total
}

// headLineMayMatch reports whether line i of a head view may pass the line
// filters: false when it lacks the anchor.
func (sc *scanner) headLineMayMatch(hv *headView, i int) bool {
	r := hv.ref[i]
	buf := hv.chunkOf(i)
	if len(buf) == 0 {
		return true
	}
	if &buf[0] != sc.hitsBuf || sc.hits.n < len(buf) {
		sc.hitsBuf, sc.hits = &buf[0], sc.pl.hitsIn(buf)
	}
	end := r.off + r.n
	if int(end) > sc.hits.n {
		return true // the buffer grew after it was searched
	}
	k, _ := slices.BinarySearch(sc.hits.at, r.off)
	return k < len(sc.hits.at) && sc.hits.at[k]+uint32(len(sc.pl.anchor)) <= end
}

// hitsIn returns where the anchor starts in buf, searching it on first use.
func (pl *plan) hitsIn(buf []byte) bufferHits {
	pl.headMu.Lock()
	defer pl.headMu.Unlock()
	key := &buf[0]
	if h, ok := pl.headHits[key]; ok && h.n >= len(buf) {
		return h
	}
	h := bufferHits{n: len(buf)}
	for off := 0; off < len(buf); {
		var j int
		if pl.fold {
			j = indexFold(buf[off:], pl.anchor)
		} else {
			j = bytes.Index(buf[off:], pl.anchor)
		}
		if j < 0 {
			break
		}
		h.at = append(h.at, uint32(off+j))
		off += j + 1
	}
	if pl.headHits == nil {
		pl.headHits = make(map[*byte]bufferHits)
	}
	pl.headHits[key] = h
	return h
}

// beforePage reports whether a source lies entirely before the page token.
func (pl *plan) beforePage(minTs, maxTs int64) bool {
	a := pl.q.After
	if a == nil {
		return false
	}
	if pl.q.Direction == logmodel.Backward {
		return minTs > a.Timestamp
	}
	return maxTs < a.Timestamp
}

// afterPage reports whether (ts, seq) comes after the page token in the
// query's order.
func (pl *plan) afterPage(ts int64, seq uint64) bool {
	a := pl.q.After
	if a == nil {
		return true
	}
	if pl.q.Direction == logmodel.Backward {
		return logmodel.Before(ts, seq, a.Timestamp, a.Seq)
	}
	return logmodel.Before(a.Timestamp, a.Seq, ts, seq)
}

func (pl *plan) bloomPass(p *part, bi int) bool {
	grams, inner := p.format >= 2 && len(pl.grams) > 0, p.format >= 3 && len(pl.inner) > 0
	if len(pl.tokens) == 0 && !grams && !inner {
		return true
	}
	f, mulShift := p.bloom(bi), p.format >= 4
	for _, h := range pl.tokens {
		if !bloomMayContain(f, h, mulShift) {
			return false
		}
	}
	if grams {
		for _, h := range pl.grams {
			if !bloomMayContain(f, h, mulShift) {
				return false
			}
		}
	}
	if inner {
		for _, h := range pl.inner {
			if !bloomMayContain(f, h, mulShift) {
				return false
			}
		}
	}
	return true
}

// markCorrupt notes a part with a corrupt block, to be set aside when the
// query ends.
func (pl *plan) markCorrupt(p *part, err error) {
	pl.corruptMu.Lock()
	defer pl.corruptMu.Unlock()
	for _, q := range pl.corrupt {
		if q == p {
			return
		}
	}
	pl.corrupt = append(pl.corrupt, p)
	pl.corruptErr = append(pl.corruptErr, err)
}

func (pl *plan) release() {
	for i, p := range pl.corrupt {
		pl.s.setAside(p, pl.corruptErr[i])
	}
	for _, p := range pl.parts {
		p.unref()
	}
	pl.parts = nil
}

// match returns the tenant's streams that satisfy every matcher.
func (t *tenant) match(ms []*logmodel.CompiledMatcher) map[uint64]*Stream {
	t.smu.RLock()
	defer t.smu.RUnlock()
	var cands []*Stream
	var best *logmodel.CompiledMatcher
	for _, m := range ms {
		if m.Type == logmodel.MatchEqual && m.Value != "" {
			if best == nil || len(t.postings[m.Name][m.Value]) < len(t.postings[best.Name][best.Value]) {
				best = m
			}
		}
	}
	if best != nil {
		cands = t.postings[best.Name][best.Value]
	} else {
		cands = make([]*Stream, 0, len(t.streams))
		for _, s := range t.streams {
			cands = append(cands, s)
		}
	}
	out := make(map[uint64]*Stream, len(cands))
next:
	for _, s := range cands {
		for _, m := range ms {
			if !m.Matches(s.Labels.Get(m.Name)) {
				continue next
			}
		}
		out[s.ID] = s
	}
	return out
}

// scanner evaluates a plan's filters over sources. One per goroutine.
type scanner struct {
	pl    *plan
	dec   *blockDecoder
	lower []byte
	cands []int32
	view  EntryView
	stats QueryStats
	// hitsBuf and hits are the head buffer last looked up in plan.headHits
	// and its anchor positions.
	hitsBuf *byte
	hits    bufferHits
}

func (pl *plan) newScanner() *scanner {
	return &scanner{pl: pl, dec: decoderPool.Get().(*blockDecoder)}
}

func (sc *scanner) close() { decoderPool.Put(sc.dec) }

// errStop ends a scan early without error.
var errStop = errors.New("stop")

// scan calls fn for each matching entry of src, in (ts, seq) order, or in
// reverse order when backward is set. fn returns errStop to end the source.
func (sc *scanner) scan(src *source, backward bool, fn func(e *EntryView) error) error {
	if src.p == nil {
		return sc.scanHead(src, backward, fn)
	}
	d := sc.dec
	var err error
	d.raw, err = src.p.readBlock(src.block, d.raw)
	if err == nil {
		err = d.decodeHeader(d.raw)
	}
	if err == nil {
		err = d.decodeMasked()
	}
	if err != nil {
		if errors.Is(err, errCorrupt) {
			sc.stats.CorruptBlocks++
			sc.pl.markCorrupt(src.p, err)
			return nil
		}
		return err
	}
	sc.stats.BlocksScanned++
	sc.stats.BytesScanned += int64(src.p.blocks[src.block].length)
	sc.stats.RawBytesScanned += int64(len(d.text))
	sc.stats.EntriesScanned += int64(d.count)
	cands := sc.candidates()
	n := len(cands)
	if cands == nil {
		d.mergeAll()
		n = d.count
	}
	for k := 0; k < n; k++ {
		kk := k
		if backward {
			kk = n - 1 - k
		}
		i := kk
		if cands != nil {
			i = int(cands[kk])
		}
		sc.view = EntryView{Timestamp: d.ts[i], Seq: d.seq[i], Line: d.line(i), Metadata: d.metadata(i)}
		if !sc.accept(src.st, &sc.view) {
			continue
		}
		if err := fn(&sc.view); err != nil {
			if err == errStop {
				return nil
			}
			return err
		}
	}
	return nil
}

// candidates returns the indexes of lines that contain the plan's anchor
// literal, found by searching the block text as a whole, or nil when every
// line is a candidate. An anchor without digits is searched in the masked
// text, so that only candidate lines need their digits back.
func (sc *scanner) candidates() []int32 {
	a := sc.pl.anchor
	if len(a) == 0 {
		return nil
	}
	if sc.pl.anchorDigits {
		sc.dec.mergeAll()
	}
	d := sc.dec
	text := d.text
	if sc.pl.fold {
		sc.lower = grow(sc.lower, len(text))
		for i, c := range text {
			sc.lower[i] = lowerByte[c]
		}
		text = sc.lower
	}
	sc.cands = sc.cands[:0]
	line := 0
	for off := 0; off < len(text); {
		j := bytes.Index(text[off:], a)
		if j < 0 {
			break
		}
		pos := uint32(off + j)
		// Find the line holding pos: lines are short, so walk forward.
		for d.lineAt[line+1] <= pos {
			line++
		}
		if pos+uint32(len(a)) <= d.lineAt[line+1] {
			sc.cands = append(sc.cands, int32(line))
			off = int(d.lineAt[line+1])
			line++
			if line >= d.count {
				break
			}
			continue
		}
		off = int(pos) + 1
	}
	return sc.cands
}

func (sc *scanner) scanHead(src *source, backward bool, fn func(e *EntryView) error) error {
	hv := &src.hv
	visible := sc.pl.t.visible.Load()
	order := hv.order()
	sc.stats.HeadEntriesScanned += int64(len(order))
	for k := range order {
		i := order[k]
		if backward {
			i = order[len(order)-1-k]
		}
		if hv.seq[i] > visible || (sc.pl.headSearch && !sc.headLineMayMatch(hv, int(i))) {
			continue
		}
		sc.view = EntryView{Timestamp: hv.ts[i], Seq: hv.seq[i], Line: hv.line(int(i)), Metadata: hv.metadata(int(i))}
		if !sc.accept(src.st, &sc.view) {
			continue
		}
		if err := fn(&sc.view); err != nil {
			if err == errStop {
				return nil
			}
			return err
		}
	}
	return nil
}

// scanHeadAfter visits a head stream's entries with seq > after in arrival
// (cursor) order, stopping after max matches: a head stream's cursors grow
// with its arrival order, so the start is found by binary search.
func (sc *scanner) scanHeadAfter(src *source, after uint64, max int, fn func(e *EntryView) error) error {
	hv := &src.hv
	visible := sc.pl.t.visible.Load()
	i := sort.Search(len(hv.seq), func(i int) bool { return hv.seq[i] > after })
	n := 0
	for ; i < len(hv.seq) && n < max; i++ {
		if hv.seq[i] > visible {
			break
		}
		sc.stats.HeadEntriesScanned++
		sc.view = EntryView{Timestamp: hv.ts[i], Seq: hv.seq[i], Line: hv.line(i), Metadata: hv.metadata(i)}
		if !sc.accept(src.st, &sc.view) {
			continue
		}
		if err := fn(&sc.view); err != nil {
			return err
		}
		n++
	}
	return nil
}

// accept applies the time range, page position and filters to one entry.
func (sc *scanner) accept(st *Stream, e *EntryView) bool {
	pl := sc.pl
	if e.Timestamp < pl.q.Start || e.Timestamp >= pl.end || !pl.afterPage(e.Timestamp, e.Seq) {
		return false
	}
	for _, f := range pl.filters {
		if !f.match(e.Line) {
			return false
		}
	}
	for _, m := range pl.meta {
		if !m.Matches(e.Metadata.Get(m.Name)) {
			return false
		}
	}
	if pl.q.Predicate != nil && !pl.q.Predicate(st, e) {
		return false
	}
	return true
}

// Query returns one page of matching entries in the requested order. Ties in
// time are broken by cursor, so paging with Result.Next never repeats or
// skips an entry. It stops reading once Limit is met.
func (s *Store) Query(ctx context.Context, q Query) (*Result, error) {
	start := time.Now()
	if q.Limit <= 0 {
		q.Limit = DefaultLimit
	}
	if q.After != nil && q.After.Direction != q.Direction {
		return nil, fmt.Errorf("page token was made for direction %s", q.After.Direction)
	}
	pl, err := s.prepare(q, false, 0)
	if err != nil {
		return nil, err
	}
	defer pl.release()
	backward := q.Direction == logmodel.Backward
	if backward {
		sort.Slice(pl.srcs, func(i, j int) bool { return pl.srcs[i].maxTs > pl.srcs[j].maxTs })
	} else {
		sort.Slice(pl.srcs, func(i, j int) bool { return pl.srcs[i].minTs < pl.srcs[j].minTs })
	}
	want := q.Limit + 1
	top := newTopK(want, backward)
	workers := runtime.GOMAXPROCS(0)
	var mu sync.Mutex
	for next := 0; next < len(pl.srcs); {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if top.full() {
			w := top.worst()
			src := &pl.srcs[next]
			if (!backward && src.minTs > w.Timestamp) || (backward && src.maxTs < w.Timestamp) {
				break
			}
		}
		wave := pl.srcs[next:min(len(pl.srcs), next+2*workers)]
		next += len(wave)
		err := parallel(len(wave), workers, func(i int) error {
			sc := pl.newScanner()
			defer sc.close()
			var local []logmodel.Entry
			err := sc.scan(&wave[i], backward, func(e *EntryView) error {
				local = append(local, toEntry(wave[i].st, e))
				if len(local) >= want {
					return errStop
				}
				return nil
			})
			mu.Lock()
			defer mu.Unlock()
			pl.stats.add(&sc.stats)
			for _, e := range local {
				top.push(e)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	res := &Result{Entries: top.sorted()}
	if len(res.Entries) > q.Limit {
		res.Entries = res.Entries[:q.Limit]
		res.HasMore = true
	}
	if n := len(res.Entries); n > 0 {
		last := res.Entries[n-1]
		res.Next = logmodel.PageToken{Direction: q.Direction, Timestamp: last.Timestamp, Seq: last.Cursor.Seq}
	}
	pl.stats.Duration = time.Since(start)
	res.Stats = pl.stats
	return res, nil
}

func toEntry(st *Stream, e *EntryView) logmodel.Entry {
	return logmodel.Entry{
		Labels:    st.Labels,
		Timestamp: e.Timestamp,
		Line:      bytes.Clone(e.Line),
		Metadata:  e.Metadata.Copy(),
		Cursor:    logmodel.Cursor{Seq: e.Seq},
	}
}

// parallel runs fn(0..n-1) on up to workers goroutines and returns the first
// error.
func parallel(n, workers int, fn func(i int) error) error {
	if n == 1 {
		return fn(0)
	}
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	idx := make(chan int, n)
	for i := 0; i < n; i++ {
		idx <- i
	}
	close(idx)
	for w := 0; w < min(workers, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range idx {
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// topK keeps the k entries that come first in the query's order.
type topK struct {
	k        int
	backward bool
	h        []logmodel.Entry // a heap whose root is the worst kept entry
}

func newTopK(k int, backward bool) *topK { return &topK{k: k, backward: backward} }

// better reports whether a comes before b in the query's order.
func (t *topK) better(a, b *logmodel.Entry) bool {
	if t.backward {
		return logmodel.Before(b.Timestamp, b.Cursor.Seq, a.Timestamp, a.Cursor.Seq)
	}
	return logmodel.Before(a.Timestamp, a.Cursor.Seq, b.Timestamp, b.Cursor.Seq)
}

func (t *topK) full() bool { return len(t.h) >= t.k }

func (t *topK) worst() *logmodel.Entry { return &t.h[0] }

func (t *topK) push(e logmodel.Entry) {
	if len(t.h) < t.k {
		t.h = append(t.h, e)
		t.up(len(t.h) - 1)
		return
	}
	if !t.better(&e, &t.h[0]) {
		return
	}
	t.h[0] = e
	t.down(0)
}

func (t *topK) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !t.better(&t.h[p], &t.h[i]) {
			return
		}
		t.h[p], t.h[i] = t.h[i], t.h[p]
		i = p
	}
}

func (t *topK) down(i int) {
	for {
		l, r, w := 2*i+1, 2*i+2, i
		if l < len(t.h) && t.better(&t.h[w], &t.h[l]) {
			w = l
		}
		if r < len(t.h) && t.better(&t.h[w], &t.h[r]) {
			w = r
		}
		if w == i {
			return
		}
		t.h[w], t.h[i] = t.h[i], t.h[w]
		i = w
	}
}

func (t *topK) sorted() []logmodel.Entry {
	out := t.h
	sort.Slice(out, func(i, j int) bool { return t.better(&out[i], &out[j]) })
	return out
}

// Workers is the number of goroutines a Scan callback may run on; worker
// indexes passed to it are below this.
func (s *Store) Workers() int { return runtime.GOMAXPROCS(0) }

// Scan calls fn for every matching entry, in no particular order, on up to
// Workers goroutines at once; worker identifies the goroutine so that callers
// can keep per-worker state without locks. Limit, Direction and After are
// ignored. The EntryView is valid only during the call.
func (s *Store) Scan(ctx context.Context, q Query, fn func(worker int, st *Stream, e *EntryView) error) (QueryStats, error) {
	start := time.Now()
	q.After = nil
	pl, err := s.prepare(q, false, 0)
	if err != nil {
		return QueryStats{}, err
	}
	defer pl.release()
	workers := s.Workers()
	next := make(chan int, len(pl.srcs))
	for i := range pl.srcs {
		next <- i
	}
	close(next)
	var mu sync.Mutex
	err = parallel(workers, workers, func(w int) error {
		sc := pl.newScanner()
		defer sc.close()
		defer func() {
			mu.Lock()
			pl.stats.add(&sc.stats)
			mu.Unlock()
		}()
		for i := range next {
			if err := ctx.Err(); err != nil {
				return err
			}
			src := &pl.srcs[i]
			if err := sc.scan(src, false, func(e *EntryView) error { return fn(w, src.st, e) }); err != nil {
				return err
			}
		}
		return nil
	})
	pl.stats.Duration = time.Since(start)
	return pl.stats, err
}
