package store

import (
	"fmt"
	"path/filepath"
	"runtime"
	"sort"
	"sync"

	"github.com/kubelog/kubelog/internal/logmodel"
)

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
