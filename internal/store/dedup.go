package store

import (
	"sort"

	"github.com/kubelog/kubelog/internal/logmodel"
)

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
