package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// maintenance runs retention and merges periodically.
func (s *Store) maintenance() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.MaintenanceInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := s.RunMaintenance(context.Background()); err != nil {
				s.log.Error("maintenance failed", "err", err)
			}
		case <-s.stop:
			return
		}
	}
}

// RunMaintenance applies retention and the disk budget, then merges parts.
// It runs on its own schedule inside the store; tests call it directly.
func (s *Store) RunMaintenance(ctx context.Context) error {
	if err := s.applyRetention(); err != nil {
		return err
	}
	for _, name := range s.tenantNames() {
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			merged, err := s.mergeOnce(name)
			if err != nil {
				return err
			}
			if !merged {
				break
			}
		}
	}
	return nil
}

// applyRetention deletes whole parts older than their tenant's retention,
// then the oldest parts while the disk budget is exceeded, and then the
// streams left without entries.
func (s *Store) applyRetention() error {
	dropped, err := s.dropExpiredParts()
	if err != nil || dropped == 0 {
		return err
	}
	return s.pruneStreams()
}

// dropExpiredParts deletes the parts that retention and the disk budget
// reject and returns how many.
func (s *Store) dropExpiredParts() (int, error) {
	now := s.cfg.Clock.Now()
	s.manifestMu.Lock()
	defer s.manifestMu.Unlock()
	var drop []*part
	s.mu.Lock()
	for name, t := range s.tenants {
		cutoff := now.Add(-s.retentionLocked(name)).UnixNano()
		keep := t.parts[:0]
		for _, p := range t.parts {
			if p.maxTs < cutoff {
				drop = append(drop, p)
			} else {
				keep = append(keep, p)
			}
		}
		t.parts = keep
	}
	if s.cfg.DiskBudget > 0 {
		var all []*part
		var total int64
		for _, t := range s.tenants {
			for _, p := range t.parts {
				all = append(all, p)
				total += p.size
			}
		}
		sort.Slice(all, func(i, j int) bool { return all[i].maxTs < all[j].maxTs })
		for _, p := range all {
			if total <= s.cfg.DiskBudget {
				break
			}
			total -= p.size
			drop = append(drop, p)
			t := s.tenants[p.tenant]
			for i, q := range t.parts {
				if q == p {
					t.parts = append(t.parts[:i], t.parts[i+1:]...)
					break
				}
			}
		}
	}
	s.mu.Unlock()
	if len(drop) == 0 {
		return 0, nil
	}
	if err := s.writeManifest(); err != nil {
		// The parts are out of the list in memory but still on disk and in the
		// old manifest: put them back so that memory and disk agree.
		s.mu.Lock()
		for _, p := range drop {
			t := s.tenants[p.tenant]
			t.parts = append(t.parts, p)
		}
		s.mu.Unlock()
		return 0, fmt.Errorf("store: retention: %w", err)
	}
	for _, p := range drop {
		s.stats.retentionParts.Add(1)
		p.removed.Store(true)
		p.unref()
	}
	s.log.Info("retention deleted parts", "parts", len(drop))
	return len(drop), nil
}

// pruneStreams drops registry entries of streams that no part or head holds
// any more. It runs on the writer goroutine, so no append is mid-flight.
// Never call it, nor anything else that waits for the writer, with
// manifestMu held: the writer may be waiting for the flusher
// (awaitFlusher), which takes manifestMu.
func (s *Store) pruneStreams() error {
	done := make(chan struct{})
	err := s.sendControl(context.Background(), func() {
		defer close(done)
		s.mu.RLock()
		heads := append(append([]*head(nil), s.frozen...), s.active)
		tenants := make([]*tenant, 0, len(s.tenants))
		for _, t := range s.tenants {
			tenants = append(tenants, t)
		}
		live := make(map[uint64]bool)
		for _, t := range tenants {
			for _, p := range t.parts {
				for _, ps := range p.streams {
					live[ps.id] = true
				}
			}
		}
		s.mu.RUnlock()
		for _, h := range heads {
			h.mu.RLock()
			for id := range h.streams {
				live[id] = true
			}
			h.mu.RUnlock()
		}
		for _, t := range tenants {
			t.smu.Lock()
			for id, st := range t.streams {
				if !live[id] {
					delete(t.streams, id)
					st.pruned = true
				}
			}
			clear(t.postings)
			for _, st := range t.streams {
				for _, l := range st.Labels {
					vals := t.postings[l.Name]
					if vals == nil {
						vals = make(map[string][]*Stream)
						t.postings[l.Name] = vals
					}
					vals[l.Value] = append(vals[l.Value], st)
				}
			}
			t.smu.Unlock()
		}
	})
	if err != nil {
		return nil // closing: nothing to prune
	}
	<-done
	return nil
}

// mergeOnce merges the parts of one window of the tenant when it has too
// many. It reports whether it merged.
func (s *Store) mergeOnce(tenantName string) (bool, error) {
	window := int64(s.cfg.PartWindow)
	s.mu.RLock()
	t := s.tenants[tenantName]
	groups := make(map[int64][]*part)
	if t != nil {
		for _, p := range t.parts {
			w := floorDiv(p.minTs, window)
			groups[w] = append(groups[w], p)
		}
	}
	var inputs []*part
	for _, g := range groups {
		if len(g) >= s.cfg.MergeMinParts && len(g) > len(inputs) {
			inputs = g
		}
	}
	for _, p := range inputs {
		p.ref()
	}
	s.mu.RUnlock()
	if len(inputs) == 0 {
		return false, nil
	}
	defer func() {
		for _, p := range inputs {
			p.unref()
		}
	}()
	start := time.Now()
	out, err := s.mergeParts(tenantName, inputs)
	if err != nil {
		return false, err
	}
	s.manifestMu.Lock()
	defer s.manifestMu.Unlock()
	s.mu.Lock()
	present := 0
	for _, p := range t.parts {
		for _, q := range inputs {
			if p == q {
				present++
			}
		}
	}
	if present != len(inputs) {
		// Retention removed an input meanwhile; drop the merge.
		s.mu.Unlock()
		out.removed.Store(true)
		out.unref()
		return false, nil
	}
	keep := t.parts[:0]
	for _, p := range t.parts {
		merged := false
		for _, q := range inputs {
			merged = merged || p == q
		}
		if !merged {
			keep = append(keep, p)
		}
	}
	t.parts = keep
	s.addPartLocked(out)
	s.mu.Unlock()
	if err := s.writeManifest(); err != nil {
		return false, fmt.Errorf("store: merge manifest: %w", err)
	}
	for _, p := range inputs {
		p.removed.Store(true)
		p.unref() // the store's reference; the deferred unref drops ours
	}
	s.stats.merges.Add(1)
	s.log.Debug("parts merged", "tenant", tenantName, "inputs", len(inputs), "took", time.Since(start))
	return true, nil
}

// mergeParts writes one part holding every block of inputs. Blocks are copied
// as they are, except small ones, which are decoded and re-encoded together.
func (s *Store) mergeParts(tenantName string, inputs []*part) (*part, error) {
	type ref struct {
		p  *part
		bi int
	}
	byStream := make(map[uint64][]ref)
	labels := make(map[uint64]*partStream)
	for _, p := range inputs {
		for i := range p.streams {
			ps := &p.streams[i]
			labels[ps.id] = ps
			for bi := ps.first; bi < ps.first+ps.n; bi++ {
				byStream[ps.id] = append(byStream[ps.id], ref{p, bi})
			}
		}
	}
	ids := make([]uint64, 0, len(byStream))
	for id := range byStream {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	name := newPartName(s.nextPartID.Add(1) - 1)
	path := filepath.Join(s.partDir, name)
	pw, err := newPartWriter(path, tenantName)
	if err != nil {
		return nil, err
	}
	small := uint64(s.cfg.BlockTargetBytes / 4)
	var enc blockEncoder
	d := new(blockDecoder)
	var pending blockRows
	var pendingBytes int
	mdIdx := make(map[string]int32)
	var mdDict []logmodel.Labels
	var buf []byte
	flushPending := func() error {
		if pending.Len() == 0 {
			return nil
		}
		sort.Sort(&pending)
		data, meta, bloom := enc.encode(nil, &pending, mdDict, nil)
		pending.reset()
		pendingBytes = 0
		return pw.addBlock(data, meta, bloom)
	}
	for _, id := range ids {
		refs := byStream[id]
		sort.Slice(refs, func(i, j int) bool { return refs[i].p.blocks[refs[i].bi].minTs < refs[j].p.blocks[refs[j].bi].minTs })
		pw.startStream(id, labels[id].labels)
		for _, r := range refs {
			b := r.p.blocks[r.bi]
			buf, err = r.p.readBlock(r.bi, buf)
			if err != nil {
				pw.abort()
				return nil, err
			}
			// Blocks of older parts are re-encoded so that the merged
			// part's blooms all hold every kind of gram.
			if b.rawBytes >= small && r.p.format == partFormat {
				if err := pw.addBlock(buf, b, r.p.bloom(r.bi)); err != nil {
					pw.abort()
					return nil, err
				}
				continue
			}
			if err := d.decodeHeader(buf); err != nil {
				pw.abort()
				return nil, err
			}
			if err := d.decodeText(); err != nil {
				pw.abort()
				return nil, err
			}
			for i := 0; i < d.count; i++ {
				if pending.Len() >= maxBlockEntries { // as in planHead: empty lines add no bytes
					if err := flushPending(); err != nil {
						pw.abort()
						return nil, err
					}
				}
				pending.appendDecoded(d, i, mdIdx, &mdDict)
				pendingBytes += d.lineLen(i)
			}
			if pendingBytes >= s.cfg.BlockTargetBytes {
				if err := flushPending(); err != nil {
					pw.abort()
					return nil, err
				}
			}
		}
		if err := flushPending(); err != nil {
			pw.abort()
			return nil, err
		}
	}
	if err := pw.finish(); err != nil {
		return nil, err
	}
	return openPart(path)
}

// setAside removes a part found corrupt while reading from the store, moves
// its file to the corrupt directory and counts it. Queries go on without it.
func (s *Store) setAside(p *part, cause error) {
	s.manifestMu.Lock()
	defer s.manifestMu.Unlock()
	s.mu.Lock()
	t := s.tenants[p.tenant]
	found := false
	if t != nil {
		for i, q := range t.parts {
			if q == p {
				t.parts = append(t.parts[:i], t.parts[i+1:]...)
				found = true
				break
			}
		}
	}
	s.mu.Unlock()
	if !found {
		return
	}
	if err := s.writeManifest(); err != nil {
		s.log.Error("cannot drop corrupt part from the manifest", "part", p.name, "err", err)
	}
	s.quarantine(p.name, cause)
	p.unref()
}
