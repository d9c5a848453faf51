package store

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// DeleteRange removes the tenant's entries of the streams matching matchers
// with a timestamp in [start, end) and a cursor up to maxSeq (entries
// appended later are kept). It flushes the head first, then rewrites each
// part holding such entries without them, the way merges rewrite parts; a
// part left empty is dropped. It returns the number of entries removed.
// The archive calls it once the entries are safely in object storage.
func (s *Store) DeleteRange(ctx context.Context, tenant string, matchers []logmodel.Matcher, start, end int64, maxSeq uint64) (int64, error) {
	if err := validTenant(tenant); err != nil {
		return 0, err
	}
	if err := s.Flush(ctx); err != nil {
		return 0, fmt.Errorf("store: delete range: flush: %w", err)
	}
	total, err := s.deleteRangeFromParts(ctx, tenant, matchers, start, end, maxSeq)
	if err != nil || total == 0 {
		return total, err
	}
	s.log.Info("deleted a time range", "tenant", tenant, "entries", total)
	// Outside manifestMu, as pruneStreams requires.
	return total, s.pruneStreams()
}

// deleteRangeFromParts rewrites the parts of DeleteRange and returns the
// number of entries removed.
func (s *Store) deleteRangeFromParts(ctx context.Context, tenant string, matchers []logmodel.Matcher, start, end int64, maxSeq uint64) (int64, error) {
	s.manifestMu.Lock()
	defer s.manifestMu.Unlock()
	s.mu.RLock()
	t := s.tenants[tenant]
	var cands []*part
	if t != nil {
		for _, p := range t.parts {
			if p.maxTs >= start && p.minTs < end && p.minSeq <= maxSeq {
				cands = append(cands, p)
			}
		}
	}
	s.mu.RUnlock()
	if t == nil {
		return 0, nil
	}
	ms, err := logmodel.CompileMatchers(matchers)
	if err != nil {
		return 0, err
	}
	streams := t.match(ms)
	var total int64
	for _, p := range cands {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		out, n, err := s.rewriteWithout(p, streams, start, end, maxSeq)
		if err != nil {
			return total, err
		}
		if n == 0 {
			if out != nil {
				out.removed.Store(true)
				out.unref()
			}
			continue
		}
		s.mu.Lock()
		for i, q := range t.parts {
			if q == p {
				t.parts = append(t.parts[:i], t.parts[i+1:]...)
				break
			}
		}
		if out != nil {
			s.addPartLocked(out)
		}
		s.mu.Unlock()
		if err := s.writeManifest(); err != nil {
			return total, fmt.Errorf("store: delete range manifest: %w", err)
		}
		p.removed.Store(true)
		p.unref()
		total += n
	}
	return total, nil
}

// rewriteWithout writes a copy of p without the entries of streams in
// [start, end) with seq <= maxSeq. It returns the new part (nil when nothing
// is left) and the number of entries left out; with none left out it writes
// nothing and returns (nil, 0).
func (s *Store) rewriteWithout(p *part, streams map[uint64]*Stream, start, end int64, maxSeq uint64) (*part, int64, error) {
	hit := func(b *blockMeta) bool { return b.maxTs >= start && b.minTs < end && b.minSeq <= maxSeq }
	touched := false
	for i := range p.streams {
		ps := &p.streams[i]
		if streams[ps.id] == nil {
			continue
		}
		for bi := ps.first; bi < ps.first+ps.n; bi++ {
			touched = touched || hit(&p.blocks[bi])
		}
	}
	if !touched {
		return nil, 0, nil
	}
	path := filepath.Join(s.partDir, newPartName(s.nextPartID.Add(1)-1))
	pw, err := newPartWriter(path, p.tenant)
	if err != nil {
		return nil, 0, err
	}
	var enc blockEncoder
	d := new(blockDecoder)
	var rows blockRows
	mdIdx := make(map[string]int32)
	var mdDict []logmodel.Labels
	var buf []byte
	var dropped int64
	for i := range p.streams {
		ps := &p.streams[i]
		started := false
		add := func(data []byte, m blockMeta, bloom []byte) error {
			if !started {
				pw.startStream(ps.id, ps.labels)
				started = true
			}
			return pw.addBlock(data, m, bloom)
		}
		for bi := ps.first; bi < ps.first+ps.n; bi++ {
			b := p.blocks[bi]
			if buf, err = p.readBlock(bi, buf); err != nil {
				pw.abort()
				return nil, 0, err
			}
			if streams[ps.id] == nil || !hit(&b) {
				if err := add(buf, b, p.bloom(bi)); err != nil {
					pw.abort()
					return nil, 0, err
				}
				continue
			}
			if err := d.decodeHeader(buf); err != nil {
				pw.abort()
				return nil, 0, err
			}
			if err := d.decodeText(); err != nil {
				pw.abort()
				return nil, 0, err
			}
			rows.reset()
			for k := 0; k < d.count; k++ {
				if d.ts[k] >= start && d.ts[k] < end && d.seq[k] <= maxSeq {
					dropped++
					continue
				}
				rows.appendDecoded(d, k, mdIdx, &mdDict)
			}
			if rows.Len() == 0 {
				continue
			}
			data, meta, bloom := enc.encode(nil, &rows, mdDict, nil)
			if err := add(data, meta, bloom); err != nil {
				pw.abort()
				return nil, 0, err
			}
		}
	}
	if len(pw.blocks) == 0 {
		pw.abort()
		return nil, dropped, nil
	}
	if err := pw.finish(); err != nil {
		return nil, 0, err
	}
	out, err := openPart(path)
	if err != nil {
		return nil, 0, err
	}
	return out, dropped, nil
}
