package store

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// maybeFreeze freezes the active head when it is full or old enough.
func (s *Store) maybeFreeze() {
	h := s.active
	h.mu.RLock()
	bytes, entries, created := h.bytes, h.entries, h.created
	h.mu.RUnlock()
	if entries == 0 {
		return
	}
	if bytes >= s.cfg.HeadMaxBytes || s.cfg.Clock.Now().UnixNano()-created >= int64(s.cfg.HeadMaxAge) {
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

// partPlan is one part to write: a tenant's streams in one time window, each
// stream's rows cut into blocks.
type partPlan struct {
	tenant  string
	window  int64
	streams []planStream
}

type planStream struct {
	s      *Stream
	blocks []blockRows
	// out receives the encoded blocks, in order.
	out []encodedBlock
}

type encodedBlock struct {
	data  []byte
	meta  blockMeta
	bloom []byte
}

// writeHead writes a frozen head as parts, one per tenant and window.
func (s *Store) writeHead(h *head) ([]*part, error) {
	plans := s.planHead(h)
	s.encodePlans(plans, h.mdDict)
	var parts []*part
	for _, pl := range plans {
		p, err := s.writePlan(pl)
		if err != nil {
			for _, q := range parts {
				q.removed.Store(true)
				q.unref()
			}
			return nil, err
		}
		parts = append(parts, p)
	}
	return parts, nil
}

// planHead groups the head's entries by tenant, window and stream, sorted.
func (s *Store) planHead(h *head) []*partPlan {
	window := int64(s.cfg.PartWindow)
	byKey := make(map[string]*partPlan)
	var plans []*partPlan
	ids := make([]uint64, 0, len(h.streams))
	for id := range h.streams {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		hs := h.streams[id]
		v := hs.viewLocked(h)
		order := v.order()
		var cur *planStream
		curWin := int64(-1 << 63)
		var rows *blockRows
		var rowBytes int
		for k, i := range order {
			ts := v.ts[i]
			w := floorDiv(ts, window)
			if cur == nil || w != curWin {
				key := fmt.Sprintf("%s/%d", hs.s.Tenant, w)
				pl := byKey[key]
				if pl == nil {
					pl = &partPlan{tenant: hs.s.Tenant, window: w}
					byKey[key] = pl
					plans = append(plans, pl)
				}
				pl.streams = append(pl.streams, planStream{s: hs.s})
				cur = &pl.streams[len(pl.streams)-1]
				curWin = w
				rows = nil
			}
			line := v.line(int(i))
			// A block ends at its target size, or at the entry count a decoder
			// accepts: empty lines add no bytes.
			if rows == nil || (rowBytes+len(line) > s.cfg.BlockTargetBytes || rows.Len() >= maxBlockEntries) && rows.Len() > 0 {
				cur.blocks = append(cur.blocks, newBlockRows(min(len(order)-k, s.cfg.BlockTargetBytes/100)))
				rows = &cur.blocks[len(cur.blocks)-1]
				rowBytes = 0
			}
			rows.ts = append(rows.ts, ts)
			rows.seq = append(rows.seq, v.seq[i])
			rows.md = append(rows.md, v.md[i])
			rows.lines = append(rows.lines, line)
			rowBytes += len(line)
		}
	}
	sort.Slice(plans, func(i, j int) bool {
		if plans[i].tenant != plans[j].tenant {
			return plans[i].tenant < plans[j].tenant
		}
		return plans[i].window < plans[j].window
	})
	return plans
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// encodePlans encodes every block of the plans on every core. Leaving one
// core to the writer and the WAL syncer made ingest slower once the writer
// waited for the flusher (see awaitFlusher): flushing is what bounds it, and
// on 2 cores the bench ingested 996-1,078K lines/s with two encoders against
// 936-1,036K with one.
func (s *Store) encodePlans(plans []*partPlan, mdDict []logmodel.Labels) {
	type job struct {
		ps *planStream
		i  int
	}
	jobs := make(chan job, 64)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var enc blockEncoder
			for j := range jobs {
				data, meta, bloom := enc.encode(nil, &j.ps.blocks[j.i], mdDict, nil)
				j.ps.out[j.i] = encodedBlock{data: data, meta: meta, bloom: bloom}
			}
		}()
	}
	for _, pl := range plans {
		for si := range pl.streams {
			ps := &pl.streams[si]
			ps.out = make([]encodedBlock, len(ps.blocks))
			for i := range ps.blocks {
				jobs <- job{ps: ps, i: i}
			}
		}
	}
	close(jobs)
	wg.Wait()
}

// writePlan writes one encoded plan to a new part file and opens it.
func (s *Store) writePlan(pl *partPlan) (*part, error) {
	name := newPartName(s.nextPartID.Add(1) - 1)
	path := filepath.Join(s.partDir, name)
	pw, err := newPartWriter(path, pl.tenant)
	if err != nil {
		return nil, err
	}
	blocks, bloomBytes := 0, 0
	for _, ps := range pl.streams {
		blocks += len(ps.out)
		for _, b := range ps.out {
			bloomBytes += len(b.bloom)
		}
	}
	pw.reserve(blocks, bloomBytes)
	for _, ps := range pl.streams {
		pw.startStream(ps.s.ID, ps.s.Labels)
		for _, b := range ps.out {
			if err := pw.addBlock(b.data, b.meta, b.bloom); err != nil {
				pw.abort()
				return nil, err
			}
		}
	}
	if err := pw.finish(); err != nil {
		return nil, err
	}
	return openPart(path)
}
