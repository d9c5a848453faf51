package store

import (
	"fmt"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
)

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
	now := s.cfg.Clock.Now().UnixNano()
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

func (s *Store) walFailed(err error) {
	s.stats.walErrors.Add(1)
	s.stats.setWALError(err, s.cfg.Clock.Now())
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
