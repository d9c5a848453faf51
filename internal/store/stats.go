package store

import (
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// storeCounters are the store's running counters.
type storeCounters struct {
	appendedEntries atomic.Int64
	appendedBytes   atomic.Int64
	flushes         atomic.Int64
	merges          atomic.Int64
	retentionParts  atomic.Int64
	corruptParts    atomic.Int64
	walTornTails    atomic.Int64
	walErrors       atomic.Int64
	flushWaits      atomic.Int64 // times appends were held back for the flusher
	flushWaitNanos  atomic.Int64 // and for how long in all

	mu         sync.Mutex // guards the two fields below
	walErr     string
	walErrTime time.Time
}

func (c *storeCounters) setWALError(err error, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.walErr, c.walErrTime = err.Error(), at
}

func (c *storeCounters) clearWALError() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.walErr = ""
}

// Stats describes the store as a whole, or one tenant of it.
type Stats struct {
	Dir              string    `json:"path"`
	Tenants          int       `json:"tenants"`
	Streams          int       `json:"streams"`
	Parts            int       `json:"parts"`
	Entries          uint64    `json:"entries"`
	RawBytes         uint64    `json:"raw_bytes"`
	PartBytes        int64     `json:"part_bytes"`
	WALBytes         int64     `json:"wal_bytes"`
	DiskBytes        int64     `json:"disk_bytes"`
	CompressionRatio float64   `json:"compression_ratio"`
	HeadEntries      int64     `json:"head_entries"`
	HeadBytes        int64     `json:"head_bytes"`
	OldestTime       time.Time `json:"oldest_time,omitzero"`
	NewestTime       time.Time `json:"newest_time,omitzero"`
	CorruptParts     int64     `json:"corrupt_parts"`
	WALTornTails     int64     `json:"wal_torn_tails"`
	WALErrors        int64     `json:"wal_errors"`
	LastWALError     string    `json:"last_wal_error,omitempty"`
	LastWALErrorAt   time.Time `json:"last_wal_error_at,omitzero"`
	Flushes          int64     `json:"flushes"`
	Merges           int64     `json:"merges"`
	FlushWaits       int64     `json:"flush_waits"`
	FlushWaitSeconds float64   `json:"flush_wait_seconds"`
	RetentionParts   int64     `json:"retention_deleted_parts"`
	AppendedEntries  int64     `json:"appended_entries"`
	AppendedBytes    int64     `json:"appended_bytes"`
}

// Stats returns figures for the whole store (tenant "") or one tenant.
func (s *Store) Stats(tenantName string) Stats {
	st := Stats{Dir: s.cfg.Dir}
	s.mu.RLock()
	heads := append(append([]*head(nil), s.frozen...), s.active)
	oldest, newest := int64(0), int64(0)
	span := func(lo, hi int64) {
		if oldest == 0 || lo < oldest {
			oldest = lo
		}
		if hi > newest {
			newest = hi
		}
	}
	for name, t := range s.tenants {
		if tenantName != "" && name != tenantName {
			continue
		}
		st.Tenants++
		t.smu.RLock()
		st.Streams += len(t.streams)
		t.smu.RUnlock()
		for _, p := range t.parts {
			st.Parts++
			st.Entries += p.entries
			st.RawBytes += p.rawBytes
			st.PartBytes += p.size
			span(p.minTs, p.maxTs)
		}
	}
	s.mu.RUnlock()
	for _, h := range heads {
		h.mu.RLock()
		for _, hs := range h.streams {
			if tenantName != "" && hs.s.Tenant != tenantName {
				continue
			}
			st.HeadEntries += int64(len(hs.ts))
			st.HeadBytes += hs.bytes
			span(hs.minTs, hs.maxTs)
		}
		h.mu.RUnlock()
	}
	st.Entries += uint64(st.HeadEntries)
	st.RawBytes += uint64(st.HeadBytes)
	if oldest != 0 {
		st.OldestTime, st.NewestTime = time.Unix(0, oldest).UTC(), time.Unix(0, newest).UTC()
	}
	if segs, err := listWALSegments(s.walDir); err == nil && tenantName == "" {
		for _, n := range segs {
			if fi, err := os.Stat(s.walDir + "/" + walSegmentName(n)); err == nil {
				st.WALBytes += fi.Size()
			}
		}
	}
	st.DiskBytes = st.PartBytes + st.WALBytes
	if st.PartBytes > 0 {
		var partRaw uint64
		for _, p := range s.snapshotParts(tenantName) {
			partRaw += p.rawBytes
		}
		st.CompressionRatio = float64(partRaw) / float64(st.PartBytes)
	}
	c := &s.stats
	st.CorruptParts = c.corruptParts.Load()
	st.WALTornTails = c.walTornTails.Load()
	st.WALErrors = c.walErrors.Load()
	st.Flushes = c.flushes.Load()
	st.Merges = c.merges.Load()
	st.FlushWaits = c.flushWaits.Load()
	st.FlushWaitSeconds = time.Duration(c.flushWaitNanos.Load()).Seconds()
	st.RetentionParts = c.retentionParts.Load()
	st.AppendedEntries = c.appendedEntries.Load()
	st.AppendedBytes = c.appendedBytes.Load()
	c.mu.Lock()
	st.LastWALError, st.LastWALErrorAt = c.walErr, c.walErrTime
	c.mu.Unlock()
	return st
}

func (s *Store) snapshotParts(tenantName string) []*part {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*part
	for name, t := range s.tenants {
		if tenantName == "" || name == tenantName {
			out = append(out, t.parts...)
		}
	}
	return out
}

// Health reports the store's condition: nil when healthy, else the last WAL
// error, which clears once a write succeeds again.
func (s *Store) Health() error {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	if s.stats.walErr != "" {
		return &HealthError{Message: s.stats.walErr, Since: s.stats.walErrTime}
	}
	return nil
}

// HealthError describes a failing store.
type HealthError struct {
	Message string
	Since   time.Time
}

func (e *HealthError) Error() string { return "wal: " + e.Message }
