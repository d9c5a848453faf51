package store

import (
	"sort"
	"sync"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// Stream identifies one stream of a tenant. Its fields are read-only.
type Stream struct {
	ID     uint64
	Tenant string
	Labels logmodel.Labels

	// maxTs is the largest timestamp stored for the stream, in the head or in
	// parts; pruned marks a stream dropped from the registry by retention.
	// Both are owned by the writer goroutine.
	maxTs int64
	// flushedMaxTs is the largest timestamp of the stream in frozen heads
	// and parts: a newer entry cannot duplicate anything there.
	flushedMaxTs int64
	pruned       bool
	// headLen is how many entries the stream had in the last head that was
	// frozen, to size its slices in the next head at once.
	headLen int32
	cur     *headStream // the stream's entries in the head it was last added to
}

// EntryView is one entry as a query or scan sees it. Line and Metadata may
// alias internal buffers; copy them to keep them past the callback.
type EntryView struct {
	Timestamp int64
	Seq       uint64
	Line      []byte
	Metadata  logmodel.Labels
}

// head is the in-memory store of recent entries. Entries are only ever
// appended; readers take a view under mu and then read without the lock.
type head struct {
	mu      sync.RWMutex // guards the fields below and the headStreams' slices
	streams map[uint64]*headStream
	mdIndex map[string]int32
	mdDict  []logmodel.Labels
	bytes   int64
	entries int64
	created int64 // unix nanos when the head received its first entry

	// bufs holds the lines in chunks, each chunk owned by one stream, so that
	// a stream's lines lie together when its blocks are encoded. A chunk is
	// allocated at its full length and its slice header never changes; its
	// stream fills it from the front (headStream.fill), and bytes are
	// written only past what any reader's view covers.
	bufs [][]byte

	// walEnd is the first WAL segment not covered by this head, set when the
	// head is frozen.
	walEnd uint64
}

func newHead() *head {
	return &head{streams: make(map[uint64]*headStream), mdIndex: make(map[string]int32)}
}

// headStream holds one stream's entries in arrival order.
type headStream struct {
	h   *head
	s   *Stream
	ts  []int64
	seq []uint64
	md  []int32
	ref []lineRef

	// chunk is the index in h.bufs of the chunk the stream fills, or -1;
	// fill is how much of it is used.
	chunk int32
	fill  uint32

	minTs, maxTs   int64
	minSeq, maxSeq uint64
	sorted         bool // timestamps non-decreasing in arrival order
	bytes          int64

	// byTs indexes the first byTsN entries by timestamp, for duplicate checks
	// on streams that arrived out of order; it is rebuilt as they grow.
	byTs  []int32
	byTsN int
	// tsSet holds every timestamp of a stream that arrived out of order, so
	// that most duplicate checks end at one lookup.
	tsSet *hashSet

	commitGen uint64 // the writer's last commit that touched this stream
}

// lineRef locates a line in the head's buffers.
type lineRef struct {
	buf, off, n uint32
}

// mdID interns a metadata set. Call with h.mu held for writing.
func (h *head) mdID(md logmodel.Labels, key []byte) int32 {
	if len(md) == 0 {
		return -1
	}
	if id, ok := h.mdIndex[string(key)]; ok {
		return id
	}
	id := int32(len(h.mdDict))
	h.mdDict = append(h.mdDict, md.Copy())
	h.mdIndex[string(key)] = id
	return id
}

// appendKey encodes md canonically for interning and comparison.
func appendMetaKey(dst []byte, md logmodel.Labels) []byte {
	for _, l := range md {
		dst = append(dst, l.Name...)
		dst = append(dst, 0)
		dst = append(dst, l.Value...)
		dst = append(dst, 0)
	}
	return dst
}

// streamFor returns the head's entries of s, creating them on first use.
// Call with h.mu held for writing.
func (h *head) streamFor(s *Stream) *headStream {
	if hs := s.cur; hs != nil && hs.h == h {
		return hs
	}
	hs := h.streams[s.ID]
	if hs == nil {
		hs = &headStream{h: h, s: s, chunk: -1, minTs: 1<<63 - 1, maxTs: -1 << 63, minSeq: 1<<64 - 1, sorted: true}
		if n := s.headLen; n > 0 {
			hs.ts, hs.seq = make([]int64, 0, n), make([]uint64, 0, n)
			hs.md, hs.ref = make([]int32, 0, n), make([]lineRef, 0, n)
		}
		h.streams[s.ID] = hs
	}
	s.cur = hs
	return hs
}

// addCopy appends one entry, copying its line into the head. Call with h.mu
// held for writing.
func (h *head) addCopy(s *Stream, ts int64, seq uint64, line []byte, mdID int32, now int64) {
	hs := h.streamFor(s)
	h.addTo(hs, ts, seq, h.appendLine(hs, line), mdID, now)
}

// Chunk sizes: a stream's first chunk is small, so that millions of
// short-lived streams cost little, and each next one doubles up to the
// largest, or fits a longer line. Chunks stay small enough that the chunks
// being filled, one per active stream, mostly stay in the CPU's caches from
// the moment they are allocated (and zeroed) until they are full, and large
// enough that a head search scans few of them.
const (
	minChunk = 512
	maxChunk = 16 << 10
)

// appendLine copies line into hs's chunk, starting a new chunk when it does
// not fit. Call with h.mu held for writing.
func (h *head) appendLine(hs *headStream, line []byte) lineRef {
	n := uint32(len(line))
	if hs.chunk < 0 || int(hs.fill)+len(line) > len(h.bufs[hs.chunk]) {
		size := minChunk
		if hs.chunk >= 0 {
			size = min(2*len(h.bufs[hs.chunk]), maxChunk)
		}
		h.bufs = append(h.bufs, make([]byte, max(size, len(line))))
		hs.chunk, hs.fill = int32(len(h.bufs)-1), 0
	}
	ref := lineRef{buf: uint32(hs.chunk), off: hs.fill, n: n}
	copy(h.bufs[hs.chunk][hs.fill:], line)
	hs.fill += n
	return ref
}

// addTo appends one entry whose line is already in the head's buffers.
func (h *head) addTo(hs *headStream, ts int64, seq uint64, ref lineRef, mdID int32, now int64) {
	if h.entries == 0 {
		h.created = now
	}
	if n := len(hs.ts); n > 0 && ts < hs.ts[n-1] {
		hs.sorted = false
	}
	hs.ts = append(hs.ts, ts)
	if hs.tsSet != nil {
		hs.tsSet.add(mixHash(uint64(ts)))
	}
	hs.seq = append(hs.seq, seq)
	hs.md = append(hs.md, mdID)
	hs.ref = append(hs.ref, ref)
	hs.minTs, hs.maxTs = min(hs.minTs, ts), max(hs.maxTs, ts)
	hs.minSeq, hs.maxSeq = min(hs.minSeq, seq), max(hs.maxSeq, seq)
	hs.bytes += int64(ref.n)
	h.bytes += int64(ref.n) + 40
	h.entries++
}

// headView is a consistent read-only snapshot of one head stream.
type headView struct {
	s              *Stream
	ts             []int64
	seq            []uint64
	md             []int32
	ref            []lineRef
	bufs           [][]byte
	chunk          int32  // the stream's open chunk when the view was taken
	fill           uint32 // how much of it the view may read
	mdDict         []logmodel.Labels
	minTs, maxTs   int64
	minSeq, maxSeq uint64
	sorted         bool
}

func (v *headView) line(i int) []byte {
	r := v.ref[i]
	return v.bufs[r.buf][r.off : r.off+r.n]
}

// chunkOf returns the written part of the chunk that entry i's line is in:
// the whole chunk once the stream has moved on from it, else what the view
// covers.
func (v *headView) chunkOf(i int) []byte {
	c := v.ref[i].buf
	if int32(c) == v.chunk {
		return v.bufs[c][:v.fill]
	}
	return v.bufs[c]
}

func (v *headView) metadata(i int) logmodel.Labels {
	if v.md[i] < 0 {
		return nil
	}
	return v.mdDict[v.md[i]]
}

// order returns entry indexes sorted by (ts, seq).
func (v *headView) order() []int32 {
	idx := make([]int32, len(v.ts))
	for i := range idx {
		idx[i] = int32(i)
	}
	if !v.sorted {
		sort.Slice(idx, func(a, b int) bool {
			i, j := idx[a], idx[b]
			return logmodel.Before(v.ts[i], v.seq[i], v.ts[j], v.seq[j])
		})
	}
	return idx
}

// entryCount returns the number of entries in the head.
func (h *head) entryCount() int64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.entries
}

// view returns a snapshot of stream id, or false when the head lacks it.
func (h *head) view(id uint64) (headView, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	hs := h.streams[id]
	if hs == nil {
		return headView{}, false
	}
	return hs.viewLocked(h), true
}

func (hs *headStream) viewLocked(h *head) headView {
	return headView{
		s: hs.s, ts: hs.ts, seq: hs.seq, md: hs.md, ref: hs.ref, bufs: h.bufs, chunk: hs.chunk, fill: hs.fill, mdDict: h.mdDict,
		minTs: hs.minTs, maxTs: hs.maxTs, minSeq: hs.minSeq, maxSeq: hs.maxSeq, sorted: hs.sorted,
	}
}

// views returns snapshots of every stream of tenant.
func (h *head) views(tenant string) []headView {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var out []headView
	for _, hs := range h.streams {
		if hs.s.Tenant == tenant {
			out = append(out, hs.viewLocked(h))
		}
	}
	return out
}

// contains reports whether the stream already holds an identical entry. Call
// with h.mu held for writing (it may build the timestamp index).
func (h *head) contains(s *Stream, ts int64, line []byte, md logmodel.Labels) bool {
	hs := h.streams[s.ID]
	if hs == nil || ts < hs.minTs || ts > hs.maxTs {
		return false
	}
	match := func(i int) bool {
		r := hs.ref[i]
		if hs.ts[i] != ts || string(h.bufs[r.buf][r.off:r.off+r.n]) != string(line) {
			return false
		}
		var got logmodel.Labels
		if hs.md[i] >= 0 {
			got = h.mdDict[hs.md[i]]
		}
		return got.Equal(md)
	}
	if hs.sorted {
		i := sort.Search(len(hs.ts), func(i int) bool { return hs.ts[i] >= ts })
		for ; i < len(hs.ts) && hs.ts[i] == ts; i++ {
			if match(i) {
				return true
			}
		}
		return false
	}
	if hs.tsSet == nil {
		hs.tsSet = &hashSet{}
		for _, t := range hs.ts {
			hs.tsSet.add(mixHash(uint64(t)))
		}
	}
	if !hs.tsSet.has(mixHash(uint64(ts))) {
		return false
	}
	if unsorted := len(hs.ts) - hs.byTsN; unsorted > 64 && unsorted > hs.byTsN/32 {
		hs.byTs = hs.byTs[:0]
		for i := range hs.ts {
			hs.byTs = append(hs.byTs, int32(i))
		}
		sort.Slice(hs.byTs, func(a, b int) bool { return hs.ts[hs.byTs[a]] < hs.ts[hs.byTs[b]] })
		hs.byTsN = len(hs.ts)
	}
	k := sort.Search(len(hs.byTs), func(k int) bool { return hs.ts[hs.byTs[k]] >= ts })
	for ; k < len(hs.byTs) && hs.ts[hs.byTs[k]] == ts; k++ {
		if match(int(hs.byTs[k])) {
			return true
		}
	}
	for i := hs.byTsN; i < len(hs.ts); i++ {
		if match(i) {
			return true
		}
	}
	return false
}
