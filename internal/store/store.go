// Package store is kubelog's log storage engine: a write-ahead log with group
// commit feeding an in-memory head, flushed into immutable, columnar,
// compressed parts with per-block bloom filters, merged in the background and
// deleted whole by retention. Every entry gets a per-tenant cursor (an ingest
// sequence number) that totally orders the tenant's entries.
//
// Nothing outside this package knows how data is laid out on disk.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// ErrClosed is returned by calls on a closed store.
var ErrClosed = errors.New("store: closed")

// Store is the storage engine. All methods are safe for concurrent use.
//
// # Goroutines
//
// Open starts four goroutines; Close closes stop and waits for them on wg.
//   - The writer (commit.go) is the only goroutine that assigns cursors, adds
//     entries to the active head, checks for duplicates (dedup.go) and
//     freezes heads (flush.go). Append hands it batches on reqs; Flush and
//     pruneStreams run functions on it through control.
//   - The syncer (commit.go) writes and fsyncs each group's WAL record, then
//     publishes the group: it raises tenant.visible, calls Config.OnCommit
//     and answers the group's Appends on their done channels.
//   - The flusher (flush.go) writes frozen heads into parts when flushReq
//     wakes it, and signals flushed after each head.
//   - maintenance (maintenance.go) runs RunMaintenance on its interval.
//
// Queries run on their callers' goroutines with a bounded set of workers
// that end before the query returns; the flusher's block encoders do the
// same.
//
// # Ownership
//
// The writer owns, without a lock: walEnc, walBufs, inflight, commitGen,
// dupCache, which head is active (it swaps active and frozen under mu),
// every write of tenant.nextSeq, each Stream's maxTs, flushedMaxTs, pruned,
// headLen and cur, and each headStream's commitGen. The WAL file belongs to
// the syncer while a group is in flight and to the writer otherwise: the
// writer waits for the group (await) before it touches the file. The syncer
// writes tenant.visible once a group is durable; queries read it and skip
// head entries above it. A frozen head no longer changes but for its
// duplicate-lookup indexes, which the writer builds under the head's mu;
// the flusher reads the rest of it without the lock.
//
// Channels: reqs (Append to the writer, buffered), control (Flush and
// pruneStreams to the writer, unbuffered), syncReqs and syncDone (writer
// and syncer, one group in flight), flushReq (to the flusher, coalescing),
// flushed (flusher to the writer's awaitFlusher), stop (closed once by
// Close) and each request's done (buffered, written once).
//
// # Lock order
//
// A goroutine holding one of these locks takes only locks to its right:
//
//	closeMu (read) → manifestMu → active head.mu → mu → frozen head.mu → tenant.smu
//
// storeCounters.mu, plan.corruptMu and plan.headMu are leaves.
//   - closeMu is held for reading only while handing a batch or a control
//     function to the writer; no lock is taken under it, but the send waits
//     for the writer. Close holds it for writing to set closed and close stop.
//   - manifestMu serialises the part-list changes that rewrite the manifest:
//     the flusher, retention, merges, DeleteRange, setAside and Close.
//     writeManifest takes mu for reading under it. Never wait for the writer
//     with manifestMu held: the writer may be waiting for the flusher
//     (awaitFlusher), which takes manifestMu.
//   - mu is taken for writing by every Append (tenantLocked), by
//     SetRetention, by freeze and by the part-list changes above;
//     addPartLocked and Stats take tenant.smu under it. No channel operation
//     happens under it, and no head's mu is taken under it except a frozen
//     head's by isDuplicate (below): OldestCursor, Stats and pruneStreams copy
//     the head list under mu and read the heads after releasing it.
//   - head.mu: the writer holds the active head's for writing while it
//     prepares a group (prepareGroup) and takes tenant.smu under it to
//     re-register a pruned stream. A head's mu is not held while another
//     head's is taken, except below.
//
// isDuplicate, which prepareGroup calls with the active head's mu held for
// writing, takes mu for reading and then each frozen head's mu when an entry
// is no newer than its stream's flushed entries. That is why nothing may take
// the active head's mu while holding mu: with an Append waiting to take mu
// for writing (a waiting writer holds back new readers) it would deadlock.
type Store struct {
	cfg     Config
	log     *slog.Logger
	walDir  string
	partDir string

	mu            sync.RWMutex // guards active, frozen, tenants and each tenant's parts
	active        *head
	frozen        []*head
	tenants       map[string]*tenant
	retention     map[string]time.Duration
	walCheckpoint uint64 // WAL segments below this are fully in parts

	manifestMu sync.Mutex // serialises part-list changes that rewrite the manifest
	nextPartID atomic.Uint64

	reqs         chan *appendReq
	control      chan func()
	flushReq     chan struct{}
	flushed      chan struct{} // the flusher wrote a head
	flushFailing atomic.Bool   // the last flush failed
	stop         chan struct{}
	wg           sync.WaitGroup
	closed       atomic.Bool
	closeMu      sync.RWMutex // held for reading by Append while it enqueues

	// Owned by the writer goroutine, except that wal belongs to the syncer
	// while a group is in flight.
	wal       *walFile
	walEnc    walEncoder
	walBufs   [][]byte // spare WAL buffers, reused from group to group
	inflight  *pendingGroup
	commitGen uint64
	dupCache  dupBlock

	syncReqs chan *pendingGroup // the writer's groups, to the syncer
	syncDone chan error         // each group's outcome, back to the writer

	stats storeCounters
}

// tenant is one tenant's registry of streams and parts.
type tenant struct {
	name    string
	nextSeq atomic.Uint64 // next cursor to assign; written by the writer only
	visible atomic.Uint64 // highest seq that readers may see

	smu      sync.RWMutex // guards streams and postings
	streams  map[uint64]*Stream
	postings map[string]map[string][]*Stream

	parts []*part // guarded by Store.mu
}

func newTenant(name string) *tenant {
	t := &tenant{name: name, streams: make(map[uint64]*Stream), postings: make(map[string]map[string][]*Stream)}
	t.nextSeq.Store(1)
	return t
}

// stream returns the tenant's stream with id, registering it on first use.
func (t *tenant) stream(id uint64, labels logmodel.Labels) *Stream {
	t.smu.RLock()
	s := t.streams[id]
	t.smu.RUnlock()
	if s != nil {
		return s
	}
	t.smu.Lock()
	defer t.smu.Unlock()
	if s = t.streams[id]; s != nil {
		return s
	}
	s = &Stream{ID: id, Tenant: t.name, Labels: labels.Copy(), maxTs: -1 << 63, flushedMaxTs: -1 << 63}
	t.streams[id] = s
	for _, l := range s.Labels {
		vals := t.postings[l.Name]
		if vals == nil {
			vals = make(map[string][]*Stream)
			t.postings[l.Name] = vals
		}
		vals[l.Value] = append(vals[l.Value], s)
	}
	return s
}

type manifest struct {
	Version       int               `json:"version"`
	Parts         []string          `json:"parts"`
	WALCheckpoint uint64            `json:"wal_checkpoint"`
	NextSeq       map[string]uint64 `json:"next_seq"`
	NextPartID    uint64            `json:"next_part_id"`
}

const manifestName = "manifest.json"

// Open opens or creates the store in cfg.Dir, replaying its WAL. Close must
// be called.
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Store{
		cfg:       cfg,
		log:       log,
		walDir:    filepath.Join(cfg.Dir, "wal"),
		partDir:   filepath.Join(cfg.Dir, "parts"),
		active:    newHead(),
		tenants:   make(map[string]*tenant),
		retention: make(map[string]time.Duration),
		reqs:      make(chan *appendReq, 256),
		control:   make(chan func()),
		flushReq:  make(chan struct{}, 1),
		flushed:   make(chan struct{}, 1),
		stop:      make(chan struct{}),
	}
	// The data directory holds every tenant's logs: private to kubelog's user.
	for _, d := range []string{s.walDir, s.partDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	m, err := s.loadManifest()
	if err != nil {
		return nil, err
	}
	if err := s.openParts(m); err != nil {
		s.closeParts()
		return nil, err
	}
	if err := s.replayWAL(m.WALCheckpoint); err != nil {
		s.closeParts()
		return nil, err
	}
	if err := s.writeManifest(); err != nil {
		s.closeParts()
		return nil, err
	}
	s.syncReqs, s.syncDone = make(chan *pendingGroup, 1), make(chan error, 1)
	s.wg.Add(4)
	go s.writer()
	go s.syncer()
	go s.flusher()
	go s.maintenance()
	return s, nil
}

func (s *Store) loadManifest() (manifest, error) {
	m := manifest{Version: 1, NextSeq: map[string]uint64{}}
	b, err := os.ReadFile(filepath.Join(s.cfg.Dir, manifestName))
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, fmt.Errorf("store: read manifest: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("store: manifest: %w", err)
	}
	if m.Version != 1 {
		return m, fmt.Errorf("store: manifest version %d is not supported", m.Version)
	}
	return m, nil
}

// openParts opens the manifest's parts, sets aside corrupt ones and deletes
// files that no manifest names (leftovers of an interrupted flush or merge).
func (s *Store) openParts(m manifest) error {
	s.nextPartID.Store(max(m.NextPartID, 1))
	listed := make(map[string]bool, len(m.Parts))
	for _, name := range m.Parts {
		listed[name] = true
		p, err := openPart(filepath.Join(s.partDir, name))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("store: part %s named in the manifest is missing", name)
			}
			s.quarantine(name, err)
			continue
		}
		s.addPartLocked(p)
		s.notePartOnOpen(p)
	}
	ents, err := os.ReadDir(s.partDir)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	for _, e := range ents {
		if !listed[e.Name()] && !e.IsDir() {
			_ = os.Remove(filepath.Join(s.partDir, e.Name()))
		}
	}
	for name, next := range m.NextSeq {
		t := s.tenantLocked(name)
		if next > t.nextSeq.Load() {
			t.nextSeq.Store(next)
		}
	}
	for _, t := range s.tenants {
		t.visible.Store(t.nextSeq.Load() - 1)
	}
	return nil
}

// quarantine moves a corrupt part out of the way and counts it.
func (s *Store) quarantine(name string, cause error) {
	dir := filepath.Join(s.cfg.Dir, "corrupt")
	_ = os.MkdirAll(dir, 0o700)
	if err := os.Rename(filepath.Join(s.partDir, name), filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.Warn("cannot set corrupt part aside", "part", name, "err", err)
	}
	s.stats.corruptParts.Add(1)
	s.log.Error("corrupt part set aside; queries go on without it", "part", name, "err", cause, "dir", dir)
}

// addPartLocked registers an open part. Call with s.mu held (or before the
// store is shared).
func (s *Store) addPartLocked(p *part) {
	t := s.tenantLocked(p.tenant)
	t.parts = append(t.parts, p)
	for i := range p.streams {
		ps := &p.streams[i]
		ps.labels = t.stream(ps.id, ps.labels).Labels
	}
}

// notePartOnOpen raises the writer-owned figures (stream timestamps, the next
// cursor) to cover a part found at open. Later parts come from the head,
// whose entries the writer has counted already.
func (s *Store) notePartOnOpen(p *part) {
	t := s.tenantLocked(p.tenant)
	for i := range p.streams {
		ps := &p.streams[i]
		st := t.stream(ps.id, ps.labels)
		st.maxTs = max(st.maxTs, ps.maxTs)
		st.flushedMaxTs = max(st.flushedMaxTs, ps.maxTs)
	}
	if p.maxSeq >= t.nextSeq.Load() {
		t.nextSeq.Store(p.maxSeq + 1)
	}
}

func (s *Store) tenantLocked(name string) *tenant {
	t := s.tenants[name]
	if t == nil {
		t = newTenant(name)
		s.tenants[name] = t
	}
	return t
}

// tenant returns the tenant, or nil when it has never stored anything.
func (s *Store) tenant(name string) *tenant {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tenants[name]
}

func (s *Store) replayWAL(checkpoint uint64) error {
	segs, err := listWALSegments(s.walDir)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	next := checkpoint
	now := s.cfg.Clock.Now().UnixNano()
	for i, n := range segs {
		next = max(next, n+1)
		path := filepath.Join(s.walDir, walSegmentName(n))
		if n < checkpoint {
			_ = os.Remove(path)
			continue
		}
		good, torn, err := replaySegment(path, func(rec walRecord) error {
			t := s.tenantLocked(rec.tenant)
			streams := make([]*Stream, len(rec.streams))
			for j, ws := range rec.streams {
				streams[j] = t.stream(ws.id, ws.labels)
			}
			var key []byte
			for _, e := range rec.entries {
				st := streams[e.stream]
				key = appendMetaKey(key[:0], e.md)
				s.active.addCopy(st, e.ts, e.seq, e.line, s.active.mdID(e.md, key), now)
				st.maxTs = max(st.maxTs, e.ts)
				if e.seq >= t.nextSeq.Load() {
					t.nextSeq.Store(e.seq + 1)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("store: replay %s: %w", walSegmentName(n), err)
		}
		if torn {
			s.stats.walTornTails.Add(1)
			if i == len(segs)-1 {
				s.log.Warn("torn WAL tail truncated", "segment", walSegmentName(n), "offset", good)
			} else {
				s.log.Error("corrupt WAL record before the last segment; the rest of the segment is lost", "segment", walSegmentName(n), "offset", good)
			}
			if err := os.Truncate(path, good); err != nil {
				return fmt.Errorf("store: truncate torn WAL: %w", err)
			}
		}
	}
	for _, t := range s.tenants {
		t.visible.Store(t.nextSeq.Load() - 1)
	}
	w, err := createWALSegment(s.walDir, next)
	if err != nil {
		return err
	}
	s.wal = w
	// The replayed head belongs to the segments before the new one.
	s.active.walEnd = next
	s.walCheckpoint = checkpoint
	return nil
}

// writeManifest persists the part list, checkpoint and sequence counters.
// Call with manifestMu held, or during Open.
func (s *Store) writeManifest() error {
	s.mu.RLock()
	m := manifest{Version: 1, WALCheckpoint: s.walCheckpoint, NextSeq: map[string]uint64{}, NextPartID: s.nextPartID.Load()}
	for name, t := range s.tenants {
		m.NextSeq[name] = t.nextSeq.Load()
		for _, p := range t.parts {
			m.Parts = append(m.Parts, p.name)
		}
	}
	s.mu.RUnlock()
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(s.cfg.Dir, manifestName), b)
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600) // #nosec G304 -- path is a fixed name in the operator's data directory
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func (s *Store) closeParts() {
	for _, t := range s.tenants {
		for _, p := range t.parts {
			p.unref()
		}
		t.parts = nil
	}
}

// SetRetention sets a tenant's retention; zero restores the default.
func (s *Store) SetRetention(tenant string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d <= 0 {
		delete(s.retention, tenant)
		return
	}
	s.retention[tenant] = d
}

// Retention returns a tenant's retention.
func (s *Store) Retention(tenant string) time.Duration {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.retentionLocked(tenant)
}

func (s *Store) retentionLocked(tenant string) time.Duration {
	if d, ok := s.retention[tenant]; ok {
		return d
	}
	return s.cfg.Retention
}

// Flush writes the head to parts and waits until they are durable.
func (s *Store) Flush(ctx context.Context) error {
	done := make(chan error, 1)
	if err := s.sendControl(ctx, func() { done <- s.freeze() }); err != nil {
		return err
	}
	select {
	case err := <-done:
		if err != nil {
			return err
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.waitFlushed(ctx)
}

func (s *Store) sendControl(ctx context.Context, fn func()) error {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed.Load() {
		return ErrClosed
	}
	select {
	case s.control <- fn:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitFlushed waits until no frozen head is left.
func (s *Store) waitFlushed(ctx context.Context) error {
	for {
		s.mu.RLock()
		n := len(s.frozen)
		s.mu.RUnlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Close stops accepting appends, flushes the head into parts and closes the
// files. Entries acknowledged before Close are durable either way.
func (s *Store) Close() error {
	s.closeMu.Lock()
	if s.closed.Swap(true) {
		s.closeMu.Unlock()
		return nil
	}
	close(s.stop)
	s.closeMu.Unlock()
	s.wg.Wait()
	var errs []error
	if s.wal != nil {
		if err := s.wal.sync(); err != nil {
			errs = append(errs, err)
		}
		errs = append(errs, s.wal.close())
	}
	s.manifestMu.Lock()
	err := s.flushFrozen()
	s.manifestMu.Unlock()
	errs = append(errs, err)
	s.mu.Lock()
	s.closeParts()
	s.mu.Unlock()
	return errors.Join(errs...)
}

// tenantNames returns the names of tenants with data.
func (s *Store) tenantNames() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.tenants))
	for n := range s.tenants {
		out = append(out, n)
	}
	return out
}

// Tenants returns the tenants that have stored entries.
func (s *Store) Tenants() []string { return s.tenantNames() }

func newPartName(id uint64) string { return fmt.Sprintf("%016x.part", id) }
