package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// AppendResult reports what an Append did, entry by entry.
type AppendResult struct {
	// Cursors holds each input entry's cursor, aligned with the input. A
	// duplicate gets the zero cursor, as does a rejected entry.
	Cursors []logmodel.Cursor
	// Accepted counts stored entries; Duplicates counts retries of entries
	// already stored; Truncated counts lines cut to MaxLineBytes.
	Accepted, Duplicates, Truncated int
}

// ValidationError lists the entries an Append rejected; the others were
// stored. Callers can find it with errors.As.
type ValidationError struct {
	Rejected int
	// First describes the first rejection, naming the limit or field.
	First string
}

func (e *ValidationError) Error() string {
	if e.Rejected == 1 {
		return "1 entry rejected: " + e.First
	}
	return fmt.Sprintf("%d entries rejected; first: %s", e.Rejected, e.First)
}

// appendReq carries one validated batch to the writer goroutine.
type appendReq struct {
	t       *tenant
	streams []*Stream        // per row
	rows    []logmodel.Entry // the caller's entries when none was changed or rejected
	index   []int            // row -> input index; nil means the identity
	res     *AppendResult
	done    chan error
}

// input returns the input index of row i.
func (r *appendReq) input(i int) int {
	if r.index == nil {
		return i
	}
	return r.index[i]
}

// Append stores a batch of one tenant's entries and returns when they are
// durable under the configured fsync policy. Entries may be in any time order.
// An entry identical to a stored one of its stream (timestamp, line and
// metadata) is a retry and is stored once. Invalid entries are rejected and
// reported in a *ValidationError while the rest are stored. The entries must
// not be changed until Append returns.
func (s *Store) Append(ctx context.Context, tenantName string, entries []logmodel.Entry) (AppendResult, error) {
	res := AppendResult{Cursors: make([]logmodel.Cursor, len(entries))}
	if err := validTenant(tenantName); err != nil {
		return res, err
	}
	if len(entries) == 0 {
		return res, nil
	}
	s.mu.Lock()
	t := s.tenantLocked(tenantName)
	retention := s.retentionLocked(tenantName)
	s.mu.Unlock()
	now := s.cfg.Now()
	oldest := now.Add(-retention).UnixNano()
	newest := now.Add(s.cfg.MaxFuture).UnixNano()

	req := &appendReq{
		t: t, res: &res, done: make(chan error, 1),
		streams: make([]*Stream, 0, len(entries)),
	}
	// While every entry is stored as given, rows is the caller's slice
	// itself; the first rejected or changed entry makes it a copy with an
	// index back to the input.
	clean := true
	diverge := func(i int) {
		if !clean {
			return
		}
		clean = false
		req.rows = make([]logmodel.Entry, i, len(entries))
		copy(req.rows, entries[:i])
		req.index = make([]int, i, len(entries))
		for k := range req.index {
			req.index[k] = k
		}
	}
	var verr *ValidationError
	reject := func(i int, msg string) {
		diverge(i)
		if verr == nil {
			verr = &ValidationError{First: msg}
		}
		verr.Rejected++
	}
	var lastLabels logmodel.Labels
	var lastStream *Stream
	var lastErr string
	seen := newLabelCache(len(entries))
	for i := range entries {
		e := &entries[i]
		if lastStream == nil || !sameLabels(e.Labels, lastLabels) {
			lastLabels = e.Labels
			c := seen.slot(e.Labels)
			if c.labels == nil || !sameArray(c.labels, e.Labels) {
				c.labels, c.stream, c.err = e.Labels, nil, s.checkLabels(e.Labels)
				if c.err == "" {
					c.stream = t.stream(streamID(tenantName, e.Labels), e.Labels)
				}
			}
			lastStream, lastErr = c.stream, c.err
		}
		if lastErr != "" {
			reject(i, lastErr)
			continue
		}
		switch {
		case e.Timestamp < oldest:
			reject(i, fmt.Sprintf("timestamp %s is older than the retention of %s", time.Unix(0, e.Timestamp).UTC().Format(time.RFC3339Nano), retention))
			continue
		case e.Timestamp > newest:
			reject(i, fmt.Sprintf("timestamp %s is more than %s in the future", time.Unix(0, e.Timestamp).UTC().Format(time.RFC3339Nano), s.cfg.MaxFuture))
			continue
		}
		row := *e
		changed := false
		if len(row.Metadata) > 0 {
			if msg := s.checkMetadata(row.Metadata); msg != "" {
				reject(i, msg)
				continue
			}
			if !metadataSorted(row.Metadata) {
				row.Metadata = row.Metadata.Copy().Sort()
				changed = true
			}
		}
		if len(row.Line) > s.cfg.MaxLineBytes {
			row.Line = truncateLine(row.Line, s.cfg.MaxLineBytes)
			row.Metadata = withMeta(row.Metadata, logmodel.MetaTruncated, "true")
			res.Truncated++
			changed = true
		}
		if changed {
			diverge(i)
		}
		req.streams = append(req.streams, lastStream)
		if !clean {
			req.rows = append(req.rows, row)
			req.index = append(req.index, i)
		}
	}
	if clean {
		req.rows = entries
	}
	if len(req.rows) > 0 {
		if err := s.submit(ctx, req); err != nil {
			return res, err
		}
	}
	if verr != nil {
		return res, verr
	}
	return res, nil
}

func (s *Store) submit(ctx context.Context, req *appendReq) error {
	s.closeMu.RLock()
	if s.closed.Load() {
		s.closeMu.RUnlock()
		return ErrClosed
	}
	select {
	case s.reqs <- req:
	case <-ctx.Done():
		s.closeMu.RUnlock()
		return ctx.Err()
	}
	s.closeMu.RUnlock()
	// Once queued the batch is written whatever the caller does, so wait for
	// the outcome rather than report a cancellation that did not happen.
	return <-req.done
}

// labelCache remembers, within one Append, the streams of recent label
// sets by the address of their array: senders interleave streams in a
// batch, each entry pointing at its stream's one label set, and hashing the
// labels again for every entry costs more than the rest of Append.
type labelCache struct {
	slots []labelCacheSlot
	shift uint
}

type labelCacheSlot struct {
	labels logmodel.Labels
	stream *Stream
	err    string // why the labels are invalid
}

// maxLabelCache bounds the slots of one Append's label cache; a batch of a
// few thousand entries rarely has more streams than that.
const maxLabelCache = 1024

// newLabelCache returns a cache with about one slot per entry of a batch
// of n, up to maxLabelCache.
func newLabelCache(n int) labelCache {
	bits := uint(0)
	for 1<<bits < min(n, maxLabelCache) {
		bits++
	}
	return labelCache{slots: make([]labelCacheSlot, 1<<bits), shift: 64 - bits}
}

// slot returns the slot for ls, which may hold another label set. Label
// arrays lie at regular strides in memory, so their addresses are mixed
// (Fibonacci hashing) before they pick a slot.
func (c *labelCache) slot(ls logmodel.Labels) *labelCacheSlot {
	var p uint64
	if len(ls) > 0 {
		p = uint64(uintptr(unsafe.Pointer(&ls[0]))) // #nosec G103 -- the address is only hashed, never turned back into a pointer
	}
	return &c.slots[(p*0x9e3779b97f4a7c15)>>c.shift&uint64(len(c.slots)-1)]
}

// sameArray reports whether a and b are the same slice of the same array.
func sameArray(a, b logmodel.Labels) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

func sameLabels(a, b logmodel.Labels) bool {
	return sameArray(a, b) || a.Equal(b)
}

func streamID(tenant string, labels logmodel.Labels) uint64 {
	return labels.Hash() ^ mixHash(tokenHash(tenant))
}

func validTenant(name string) error {
	if name == "" || len(name) > 63 {
		return fmt.Errorf("tenant must be 1 to 63 characters, got %d", len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || (i > 0 && (c == '.' || c == '_' || c == '-'))) {
			return fmt.Errorf("tenant %q must match [a-z0-9][a-z0-9._-]{0,62}", name)
		}
	}
	return nil
}

// checkLabels returns "" for a valid label set, else the broken limit.
func (s *Store) checkLabels(ls logmodel.Labels) string {
	if len(ls) == 0 {
		return "stream has no labels"
	}
	if len(ls) > s.cfg.MaxLabels {
		return fmt.Sprintf("stream has %d labels, over the limit max_labels=%d", len(ls), s.cfg.MaxLabels)
	}
	for i, l := range ls {
		if !logmodel.ValidLabelName(l.Name) {
			return (&logmodel.ErrInvalidLabel{Name: l.Name}).Error()
		}
		if len(l.Name) > s.cfg.MaxLabelNameLen {
			return fmt.Sprintf("label name %.40q... is %d bytes, over the limit max_label_name_length=%d", l.Name, len(l.Name), s.cfg.MaxLabelNameLen)
		}
		if len(l.Value) > s.cfg.MaxLabelValueLen {
			return fmt.Sprintf("value of label %q is %d bytes, over the limit max_label_value_length=%d", l.Name, len(l.Value), s.cfg.MaxLabelValueLen)
		}
		if i > 0 && ls[i-1].Name >= l.Name {
			return fmt.Sprintf("labels must be sorted and unique (at %q)", l.Name)
		}
	}
	return ""
}

func (s *Store) checkMetadata(md logmodel.Labels) string {
	size := 0
	for _, l := range md {
		if l.Name == "" {
			return "structured metadata has an empty name"
		}
		size += len(l.Name) + len(l.Value)
	}
	if size > s.cfg.MaxMetadataBytes {
		return fmt.Sprintf("structured metadata is %d bytes, over the limit max_metadata_bytes=%d", size, s.cfg.MaxMetadataBytes)
	}
	return ""
}

func metadataSorted(md logmodel.Labels) bool {
	for i := 1; i < len(md); i++ {
		if md[i-1].Name >= md[i].Name {
			return false
		}
	}
	return true
}

func withMeta(md logmodel.Labels, name, value string) logmodel.Labels {
	out := make(logmodel.Labels, 0, len(md)+1)
	out = append(out, md...)
	out = append(out, logmodel.Label{Name: name, Value: value})
	return out.Sort()
}

// truncateLine cuts line to at most n bytes, backing off to a UTF-8 boundary
// when the line is valid UTF-8 there.
func truncateLine(line []byte, n int) []byte {
	cut := n
	for i := 0; i < utf8.UTFMax && cut-i > 0; i++ {
		if utf8.RuneStart(line[cut-i]) {
			if utf8.Valid(line[cut-i:min(len(line), cut-i+utf8.UTFMax)]) || i == 0 {
				cut -= i
			}
			break
		}
	}
	return line[:cut]
}

// writer is the single goroutine that assigns cursors, applies batches to
// the head and freezes full heads. Group commit is pipelined: while the
// syncer writes and fsyncs one group's WAL record, the writer prepares the
// next group, whose entries stay invisible until their own record is durable.
// At most one group is in flight; the writer waits for it before anything
// that touches the WAL file or the head's identity (freeze, control, stop).
func (s *Store) writer() {
	defer s.wg.Done()
	defer close(s.syncReqs)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var syncTick <-chan time.Time
	if s.cfg.Fsync == FsyncInterval {
		t := time.NewTicker(s.cfg.FsyncInterval)
		defer t.Stop()
		syncTick = t.C
	}
	for {
		var synced <-chan error
		if s.inflight != nil {
			synced = s.syncDone
		}
		select {
		case err := <-synced:
			// A failure is answered at once, not when the next group comes.
			s.settle(err, nil)
		case req := <-s.reqs:
			// A new slice each time: the group in flight keeps its own.
			group := []*appendReq{req}
			// Group commit: take whatever else is queued, up to a bound.
		drain:
			for n := 0; n < 1024; n++ {
				select {
				case r := <-s.reqs:
					group = append(group, r)
				default:
					break drain
				}
			}
			s.commit(group)
			s.maybeFreeze()
		case fn := <-s.control:
			s.await(nil)
			fn()
		case <-tick.C:
			s.maybeFreeze()
		case <-syncTick:
			s.await(nil)
			if err := s.wal.sync(); err != nil {
				s.walFailed(err)
			}
		case <-s.stop:
			for {
				select {
				case req := <-s.reqs:
					s.commit([]*appendReq{req})
				default:
					s.await(nil)
					if err := s.freeze(); err != nil {
						s.log.Error("final head freeze failed; the WAL keeps its entries", "err", err)
					}
					return
				}
			}
		}
	}
}

// undo records how to roll a head stream back if the WAL write fails.
type undo struct {
	hs *headStream
	n  int
}

// pendingGroup is a commit group whose entries are in the head but whose WAL
// record is not yet durable.
type pendingGroup struct {
	group    []*appendReq
	buf      []byte // the group's WAL records
	h        *head
	undos    []undo
	firstSeq map[*tenant]uint64 // per tenant, the group's first cursor
	lastSeq  map[*tenant]uint64 // and its last
}

// maxKeptWALBuf is the largest WAL buffer the writer keeps for a later group.
const maxKeptWALBuf = 16 << 20

// commit prepares one group, waits for the group in flight and hands this
// one to the syncer.
func (s *Store) commit(group []*appendReq) {
	p := s.prepareGroup(group)
	if s.await(p) {
		s.inflight = p
		s.syncReqs <- p
	}
}

// prepareGroup applies a group to the head, assigning cursors, and encodes its WAL
// records. Readers do not see the entries until publish.
func (s *Store) prepareGroup(group []*appendReq) *pendingGroup {
	h := s.active
	now := s.cfg.Now().UnixNano()
	p := &pendingGroup{group: group, h: h, firstSeq: make(map[*tenant]uint64), lastSeq: make(map[*tenant]uint64)}
	// WAL buffers are reused from group to group: the head copies lines
	// into its own chunks.
	var buf []byte
	if n := len(s.walBufs); n > 0 {
		buf, s.walBufs = s.walBufs[n-1], s.walBufs[:n-1]
	}
	s.commitGen++
	var key []byte
	h.mu.Lock()
	for _, req := range group {
		t := req.t
		if _, ok := p.firstSeq[t]; !ok {
			p.firstSeq[t] = t.nextSeq.Load()
		}
		s.walEnc.begin(buf, t.name)
		for i := range req.rows {
			row := &req.rows[i]
			st := req.streams[i]
			if st.pruned {
				st = t.stream(st.ID, st.Labels)
				req.streams[i] = st
			}
			if row.Timestamp <= st.maxTs && s.isDuplicate(h, st, row) {
				req.res.Duplicates++
				continue
			}
			seq := t.nextSeq.Load()
			t.nextSeq.Store(seq + 1)
			hs := h.streamFor(st)
			if hs.commitGen != s.commitGen {
				hs.commitGen = s.commitGen
				p.undos = append(p.undos, undo{hs: hs, n: len(hs.ts)})
			}
			mdID := int32(-1)
			if len(row.Metadata) > 0 {
				key = appendMetaKey(key[:0], row.Metadata)
				mdID = h.mdID(row.Metadata, key)
			}
			s.walEnc.add(st, row.Timestamp, seq, row.Metadata, row.Line)
			h.addTo(hs, row.Timestamp, seq, h.appendLine(hs, row.Line), mdID, now)
			st.maxTs = max(st.maxTs, row.Timestamp)
			req.res.Cursors[req.input(i)] = logmodel.Cursor{Seq: seq}
			req.res.Accepted++
		}
		buf = s.walEnc.finish()
	}
	h.mu.Unlock()
	for t := range p.firstSeq {
		p.lastSeq[t] = t.nextSeq.Load() - 1
	}
	p.buf = buf
	return p
}

// await waits for the group in flight, if any, and reports whether it
// became durable. If it did not, await rolls it back, together with next (a
// group prepared on top of it, or nil), and fails the requests of both.
func (s *Store) await(next *pendingGroup) bool {
	p := s.inflight
	if p == nil {
		return true
	}
	return s.settle(<-s.syncDone, next)
}

// settle takes the outcome err of the group in flight, as await does.
func (s *Store) settle(err error, next *pendingGroup) bool {
	p := s.inflight
	s.inflight = nil
	s.keepWALBuf(p.buf)
	if err == nil {
		return true
	}
	s.walFailed(err)
	if next != nil {
		s.keepWALBuf(next.buf)
		s.rollback(next)
		s.fail(next, fmt.Errorf("store: append not durable: an earlier write failed: %w", err))
	}
	s.rollback(p)
	s.fail(p, fmt.Errorf("store: append not durable: %w", err))
	return false
}

// keepWALBuf returns a WAL buffer for a later group; a rare huge group does
// not pin its buffer.
func (s *Store) keepWALBuf(buf []byte) {
	if cap(buf) <= maxKeptWALBuf && len(s.walBufs) < 2 {
		s.walBufs = append(s.walBufs, buf[:0])
	}
}

// fail answers every request of a group that was rolled back with err.
func (s *Store) fail(p *pendingGroup, err error) {
	for _, req := range p.group {
		req.res.Accepted, req.res.Duplicates = 0, 0
		clear(req.res.Cursors)
		req.done <- err
	}
}

// syncer writes and fsyncs the WAL records of the groups the writer hands
// it, one at a time, and publishes each group that became durable.
func (s *Store) syncer() {
	defer s.wg.Done()
	for p := range s.syncReqs {
		err := s.writeWAL(p.buf)
		if err == nil {
			s.walOK()
			s.publish(p)
		}
		s.syncDone <- err
	}
}

// writeWAL writes one group's records under the fsync policy. Only the
// syncer calls it, while a group is in flight; the writer touches the WAL
// file only when none is.
func (s *Store) writeWAL(buf []byte) error {
	if s.wal.broken {
		if err := s.rotateWAL(); err != nil {
			return err
		}
	}
	if len(buf) == 0 {
		return nil
	}
	if err := s.wal.write(buf); err != nil {
		return err
	}
	if s.cfg.Fsync == FsyncAlways {
		return s.wal.sync()
	}
	return nil
}

// publish makes a durable group visible to readers, hands its entries to
// OnCommit and answers its requests.
func (s *Store) publish(p *pendingGroup) {
	for t, seq := range p.lastSeq {
		t.visible.Store(seq)
	}
	if s.cfg.OnCommit != nil {
		committed := make(map[*tenant][]CommittedEntry)
		for _, req := range p.group {
			for i, row := range req.rows {
				c := req.res.Cursors[req.input(i)]
				if c.IsZero() {
					continue
				}
				committed[req.t] = append(committed[req.t], CommittedEntry{
					Stream: req.streams[i],
					Entry:  EntryView{Timestamp: row.Timestamp, Seq: c.Seq, Line: row.Line, Metadata: row.Metadata},
				})
			}
		}
		for t, es := range committed {
			s.cfg.OnCommit(t.name, es)
		}
	}
	var n, bytes int64
	for _, req := range p.group {
		n += int64(req.res.Accepted)
		for _, row := range req.rows {
			bytes += int64(len(row.Line))
		}
		req.done <- nil
	}
	s.stats.appendedEntries.Add(n)
	s.stats.appendedBytes.Add(bytes)
}

// rollback removes a failed group's entries from the head and returns their
// cursors; no reader saw them, since visibility only advances after the WAL.
// Groups are rolled back newest first.
func (s *Store) rollback(p *pendingGroup) {
	h := p.h
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, u := range p.undos {
		hs := u.hs
		for i := u.n; i < len(hs.ts); i++ {
			h.bytes -= int64(hs.ref[i].n) + 40
			h.entries--
			hs.bytes -= int64(hs.ref[i].n)
		}
		hs.ts, hs.seq, hs.md, hs.ref = hs.ts[:u.n], hs.seq[:u.n], hs.md[:u.n], hs.ref[:u.n]
		hs.byTs, hs.byTsN, hs.tsSet = hs.byTs[:0], 0, nil
		if u.n == 0 {
			delete(h.streams, hs.s.ID)
			hs.s.cur = nil
		}
	}
	for t, seq := range p.firstSeq {
		t.nextSeq.Store(seq)
	}
}

// isDuplicate reports whether the stream already stores row. It runs on the
// writer goroutine with h.mu held.
func (s *Store) isDuplicate(h *head, st *Stream, row *logmodel.Entry) bool {
	if h.contains(st, row.Timestamp, row.Line, row.Metadata) {
		return true
	}
	if row.Timestamp > st.flushedMaxTs {
		return false
	}
	s.mu.RLock()
	frozen := append([]*head(nil), s.frozen...)
	t := s.tenants[st.Tenant]
	var parts []*part
	if t != nil {
		parts = append(parts, t.parts...)
		for _, p := range parts {
			p.ref()
		}
	}
	s.mu.RUnlock()
	defer func() {
		for _, p := range parts {
			p.unref()
		}
	}()
	for _, f := range frozen {
		f.mu.Lock()
		found := f.contains(st, row.Timestamp, row.Line, row.Metadata)
		f.mu.Unlock()
		if found {
			return true
		}
	}
	for _, p := range parts {
		found, err := p.contains(st.ID, row, &s.dupCache)
		if err != nil {
			s.log.Warn("duplicate check could not read a block", "part", p.name, "err", err)
			continue
		}
		if found {
			return true
		}
	}
	return false
}

// dupBlock keeps the last block decoded for duplicate checks: entries of a
// retried or reordered batch tend to fall in the same block one after
// another. Owned by the writer goroutine.
type dupBlock struct {
	p  *part
	bi int
	d  blockDecoder
}

// contains reports whether the part stores an entry identical to row.
func (p *part) contains(id uint64, row *logmodel.Entry, c *dupBlock) (bool, error) {
	si, ok := p.byID[id]
	if !ok || row.Timestamp < p.minTs || row.Timestamp > p.maxTs {
		return false, nil
	}
	ps := &p.streams[si]
	for bi := ps.first; bi < ps.first+ps.n; bi++ {
		b := &p.blocks[bi]
		if row.Timestamp < b.minTs || row.Timestamp > b.maxTs {
			continue
		}
		d := &c.d
		if c.p != p || c.bi != bi {
			c.p = nil
			var err error
			if d.raw, err = p.readBlock(bi, d.raw); err != nil {
				return false, err
			}
			if err := d.decodeHeader(d.raw); err != nil {
				return false, err
			}
			if err := d.decodeText(); err != nil {
				return false, err
			}
			c.p, c.bi = p, bi
		}
		i := sort.Search(d.count, func(i int) bool { return d.ts[i] >= row.Timestamp })
		for ; i < d.count && d.ts[i] == row.Timestamp; i++ {
			if string(d.line(i)) == string(row.Line) && d.metadata(i).Equal(row.Metadata) {
				return true, nil
			}
		}
	}
	return false, nil
}

func (s *Store) walFailed(err error) {
	s.stats.walErrors.Add(1)
	s.stats.setWALError(err, s.cfg.Now())
	s.log.Error("WAL write failed; appends fail until writes succeed again", "err", err)
}

func (s *Store) walOK() { s.stats.clearWALError() }

// rotateWAL moves writing to a new segment, leaving a broken one behind.
func (s *Store) rotateWAL() error {
	next, err := createWALSegment(s.walDir, s.wal.num+1)
	if err != nil {
		return err
	}
	_ = s.wal.close()
	s.wal = next
	return nil
}

// maybeFreeze freezes the active head when it is full or old enough.
func (s *Store) maybeFreeze() {
	h := s.active
	h.mu.RLock()
	bytes, entries, created := h.bytes, h.entries, h.created
	h.mu.RUnlock()
	if entries == 0 {
		return
	}
	if bytes >= s.cfg.HeadMaxBytes || s.cfg.Now().UnixNano()-created >= int64(s.cfg.HeadMaxAge) {
		s.await(nil)
		if err := s.freeze(); err != nil {
			s.log.Error("head freeze failed", "err", err)
		}
	}
}

// freeze rotates the WAL and hands the active head to the flusher. It runs on
// the writer goroutine.
func (s *Store) freeze() error {
	h := s.active
	h.mu.RLock()
	empty := h.entries == 0
	h.mu.RUnlock()
	if empty {
		return nil
	}
	s.awaitFlusher()
	if err := s.wal.sync(); err != nil {
		return err
	}
	if err := s.rotateWAL(); err != nil {
		return err
	}
	h.walEnd = s.wal.num
	for _, hs := range h.streams {
		hs.s.flushedMaxTs = max(hs.s.flushedMaxTs, hs.maxTs)
		hs.s.headLen = int32(min(len(hs.ts), 1<<20))
		// A stream that gets no more entries must not keep the frozen head,
		// and with it the head's buffers, alive after the flush.
		hs.s.cur = nil
	}
	s.mu.Lock()
	s.frozen = append(s.frozen, h)
	s.active = newHead()
	s.mu.Unlock()
	select {
	case s.flushReq <- struct{}{}:
	default:
	}
	return nil
}

// maxFrozenHeads bounds the heads frozen and not yet written, the one the
// flusher is writing included. When ingest outruns flushing, appends are
// held back rather than heads piled up in memory. When flushing fails, appends
// go on into the WAL and heads pile up, as they must to keep ingesting.
const maxFrozenHeads = 1

// awaitFlusher waits, on the writer goroutine, until fewer than
// maxFrozenHeads heads are frozen, the last flush failed, or the store
// stops. Stats count the waits and their time.
func (s *Store) awaitFlusher() {
	var start time.Time
	defer func() {
		if !start.IsZero() {
			s.stats.flushWaitNanos.Add(int64(time.Since(start)))
		}
	}()
	for {
		s.mu.RLock()
		n := len(s.frozen)
		s.mu.RUnlock()
		if n < maxFrozenHeads || s.flushFailing.Load() {
			return
		}
		if start.IsZero() {
			start = time.Now()
			s.stats.flushWaits.Add(1)
		}
		select {
		case <-s.flushed:
		case <-s.stop:
			return
		}
	}
}

// flusher writes frozen heads into parts.
func (s *Store) flusher() {
	defer s.wg.Done()
	for {
		select {
		case <-s.flushReq:
			s.manifestMu.Lock()
			err := s.flushFrozen()
			s.manifestMu.Unlock()
			s.flushFailing.Store(err != nil)
			if err != nil {
				s.log.Error("flush failed; will retry", "err", err)
				select {
				case s.flushed <- struct{}{}: // a waiting writer goes on
				default:
				}
				select {
				case <-time.After(time.Second):
					select {
					case s.flushReq <- struct{}{}:
					default:
					}
				case <-s.stop:
					return
				}
			}
		case <-s.stop:
			return
		}
	}
}

// flushFrozen writes every frozen head, oldest first. Call with manifestMu held.
func (s *Store) flushFrozen() error {
	for {
		s.mu.RLock()
		var h *head
		if len(s.frozen) > 0 {
			h = s.frozen[0]
		}
		s.mu.RUnlock()
		if h == nil {
			return nil
		}
		start := time.Now()
		parts, err := s.writeHead(h)
		if err != nil {
			return err
		}
		s.mu.Lock()
		for _, p := range parts {
			s.addPartLocked(p)
		}
		s.frozen[0] = nil // the backing array must not keep the head alive
		s.frozen = s.frozen[1:]
		s.walCheckpoint = h.walEnd
		s.mu.Unlock()
		select {
		case s.flushed <- struct{}{}:
		default:
		}
		if err := s.writeManifest(); err != nil {
			return fmt.Errorf("store: write manifest: %w", err)
		}
		segs, _ := listWALSegments(s.walDir)
		for _, n := range segs {
			if n < h.walEnd {
				_ = os.Remove(filepath.Join(s.walDir, walSegmentName(n)))
			}
		}
		s.stats.flushes.Add(1)
		s.log.Debug("head flushed", "parts", len(parts), "entries", h.entries, "took", time.Since(start))
	}
}
