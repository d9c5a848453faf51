package archive

import (
	"bytes"
	"cmp"
	"context"
	"crypto/md5" // #nosec G501 -- MD5 is the S3 ETag and Content-MD5 checksum, not a security primitive
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kubelog/kubelog/internal/egress"
	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/meta"
	"github.com/kubelog/kubelog/internal/secrets"
	"github.com/kubelog/kubelog/internal/store"
)

// Config configures a Manager.
type Config struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives job events; nil means slog.Default.
	Logger *slog.Logger
	// TickInterval is how often the scheduler looks for due policies.
	TickInterval time.Duration
	// MaxJobs bounds the jobs running at once; more wait as pending.
	MaxJobs int
	// Uploads bounds the objects one job uploads at once (and the encoded
	// objects waiting for an upload).
	Uploads int
	// Registerer receives the archive's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Keys seal the policies' secret access keys in the database; required.
	Keys *secrets.Keyring
	// Egress decides which S3 endpoints a tenant's policy may reach.
	Egress egress.Policy
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{TickInterval: 30 * time.Second, MaxJobs: 2, Uploads: 8, Egress: egress.DefaultPolicy()}
}

// Validate checks the config.
func (c Config) Validate() error {
	if c.TickInterval <= 0 || c.MaxJobs <= 0 || c.Uploads <= 0 {
		return errors.New("archive: TickInterval, MaxJobs and Uploads must be positive")
	}
	if c.Keys == nil {
		return errors.New("archive: Keys is required to seal the policies' secret access keys")
	}
	return c.Egress.Validate()
}

// Manager runs archive jobs, on demand and on their policies' schedules,
// inside kubelog serve. Create it with NewManager; Start begins scheduling
// and resumes interrupted jobs; Close must be called.
type Manager struct {
	cfg      Config
	log      *slog.Logger
	st       *store.Store
	policies *Policies
	jobs     *Jobs
	index    *Index
	metrics  *metrics
	sem      chan struct{}
	stop     chan struct{}
	wg       sync.WaitGroup

	mu sync.Mutex // guards running, closed and clients
	// running maps a job id to the cancel function of its run.
	running map[string]context.CancelFunc
	closed  bool
	// clients caches S3 clients by policy id and update time.
	clients map[string]*bucketClient

	probeMu sync.Mutex // guards unreachable
	// unreachable maps the id of an enabled policy whose bucket did not
	// answer the last probe to the reason.
	unreachable map[string]string
}

// NewManager builds a manager over the store and metadata database.
func NewManager(cfg Config, st *store.Store, db *meta.DB) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	mx, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Manager{
		cfg: cfg, log: cfg.Logger, st: st, policies: NewPolicies(db, cfg.Keys), jobs: NewJobs(db), index: NewIndex(db), metrics: mx,
		sem: make(chan struct{}, cfg.MaxJobs), stop: make(chan struct{}), running: map[string]context.CancelFunc{},
	}, nil
}

// Policies, Jobs and Index give the manager's tables.
func (m *Manager) Policies() *Policies { return m.policies }
func (m *Manager) Jobs() *Jobs         { return m.jobs }
func (m *Manager) Index() *Index       { return m.index }

// Start resumes the jobs a previous process left pending or running, and
// starts the scheduler.
func (m *Manager) Start(ctx context.Context) error {
	left, err := m.jobs.List(ctx, JobFilter{Statuses: []string{StatusPending, StatusRunning}})
	if err != nil {
		return err
	}
	for i := range left {
		m.log.Info("resuming archive job", "job", left[i].ID, "policy", left[i].PolicyID)
		m.launch(left[i])
	}
	m.wg.Add(1)
	go m.schedule() // #nosec G118 -- the scheduler lives as long as the manager, which Close ends
	return nil
}

// Close cancels running jobs (they resume at the next Start) and waits for
// them.
func (m *Manager) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	close(m.stop)
	for _, cancel := range m.running {
		cancel()
	}
	m.mu.Unlock()
	m.wg.Wait()
}

func (m *Manager) schedule() {
	defer m.wg.Done()
	t := time.NewTicker(m.cfg.TickInterval)
	defer t.Stop()
	for {
		m.RunDue(context.Background())
		m.probeAll(context.Background())
		select {
		case <-t.C:
		case <-m.stop:
			return
		}
	}
}

// RunDue starts a job for every enabled policy whose schedule is due and
// that has no job under way. The scheduler calls it; tests may too.
func (m *Manager) RunDue(ctx context.Context) {
	pols, err := m.policies.List(ctx, "")
	if err != nil {
		m.log.Warn("archive scheduler cannot list policies", "err", err)
		return
	}
	now := m.cfg.Now()
	for i := range pols {
		p := &pols[i]
		sched, err := ParseSchedule(p.Schedule)
		if !p.Enabled || err != nil || now.Before(sched.Next(p.LastRunAt)) {
			continue
		}
		busy, err := m.jobs.List(ctx, JobFilter{PolicyID: p.ID, Statuses: []string{StatusPending, StatusRunning}, Limit: 1})
		if err != nil || len(busy) > 0 {
			continue
		}
		if _, err := m.StartJob(ctx, p.Tenant, p.ID, 0, 0); err != nil && !errors.Is(err, ErrNothingToArchive) {
			m.log.Warn("scheduled archive job did not start", "policy", p.ID, "err", err)
		}
	}
}

// probeAll checks the bucket of every enabled policy, for Health.
func (m *Manager) probeAll(ctx context.Context) {
	pols, err := m.policies.List(ctx, "")
	if err != nil {
		return
	}
	bad := map[string]string{}
	for _, p := range pols {
		if !p.Enabled {
			continue
		}
		if r := m.Probe(ctx, p.Destination); !r.Reachable {
			bad[p.ID] = fmt.Sprintf("policy %s (%s), bucket %s at %s: %s", p.ID, p.Name, p.Destination.Bucket, p.Destination.Endpoint, r.Error)
		}
	}
	m.probeMu.Lock()
	m.unreachable = bad
	m.probeMu.Unlock()
}

// Health reports the destinations of enabled policies that did not answer
// the scheduler's last probe; nil when all did.
func (m *Manager) Health() error {
	m.probeMu.Lock()
	defer m.probeMu.Unlock()
	if len(m.unreachable) == 0 {
		return nil
	}
	msgs := make([]string, 0, len(m.unreachable))
	for _, msg := range m.unreachable {
		msgs = append(msgs, msg)
	}
	sort.Strings(msgs)
	return fmt.Errorf("archive destination unreachable: %s", strings.Join(msgs, "; "))
}

// ErrNothingToArchive says a job's range is empty.
var ErrNothingToArchive = errors.New("nothing to archive: the range is empty")

func floorHour(ns int64) int64 {
	h := int64(time.Hour)
	if ns < 0 {
		return (ns - h + 1) / h * h
	}
	return ns / h * h
}

// StartJob starts a job of a policy of tenant over [start, end); zero start
// means where the policy's last job ended (or the oldest local entry), zero
// end means the last whole hour older than the policy's older_than.
func (m *Manager) StartJob(ctx context.Context, tenant, policyID string, start, end int64) (Job, error) {
	p, err := m.policies.Get(ctx, tenant, policyID)
	if err != nil {
		return Job{}, err
	}
	age, err := p.Age()
	if err != nil {
		return Job{}, err
	}
	now := m.cfg.Now()
	if err := m.policies.markRun(ctx, p.ID, now); err != nil {
		return Job{}, err
	}
	if end == 0 {
		end = floorHour(now.Add(-age).UnixNano())
	}
	if start == 0 {
		start = p.ArchivedUntil.UnixNano()
		if p.ArchivedUntil.IsZero() {
			if s := m.st.Stats(p.Tenant); !s.OldestTime.IsZero() {
				start = floorHour(s.OldestTime.UnixNano())
			}
		}
	}
	if start >= end {
		return Job{}, ErrNothingToArchive
	}
	j := Job{
		ID: newID("aj_"), Tenant: p.Tenant, PolicyID: p.ID, Status: StatusPending,
		StartTime: time.Unix(0, start).UTC(), EndTime: time.Unix(0, end).UTC(), CreatedAt: now.UTC(),
		snapshotSeq: m.st.LastCursor(p.Tenant).Seq,
	}
	if err := m.jobs.create(ctx, &j); err != nil {
		return Job{}, err
	}
	m.launch(j)
	return j, nil
}

// CancelJob cancels a pending or running job of tenant.
func (m *Manager) CancelJob(ctx context.Context, tenant, id string) (Job, error) {
	j, err := m.jobs.Get(ctx, tenant, id)
	if err != nil {
		return j, err
	}
	m.mu.Lock()
	cancel := m.running[id]
	m.mu.Unlock()
	if cancel == nil {
		if j.Status == StatusPending || j.Status == StatusRunning {
			// Not under way in this process: mark it so no restart resumes it.
			j.Status = StatusCancelled
			t := m.cfg.Now().UTC()
			j.FinishedAt = &t
			return j, m.jobs.save(ctx, &j)
		}
		return j, nil
	}
	cancel()
	for {
		if j, err = m.jobs.Get(ctx, tenant, id); err != nil || (j.Status != StatusPending && j.Status != StatusRunning) {
			return j, err
		}
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (m *Manager) launch(j Job) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.running[j.ID] = cancel
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer cancel()
		m.execute(ctx, j)
		m.mu.Lock()
		delete(m.running, j.ID)
		m.mu.Unlock()
	}()
}

// execute runs a job to its end and records the outcome. A job stopped by
// Close stays running in the database, to resume at the next Start.
func (m *Manager) execute(ctx context.Context, j Job) {
	select {
	case m.sem <- struct{}{}:
		defer func() { <-m.sem }()
	case <-ctx.Done():
		m.finish(&j, ctx.Err())
		return
	}
	now := m.cfg.Now().UTC()
	j.Status, j.StartedAt = StatusRunning, &now
	if err := m.jobs.save(ctx, &j); err != nil {
		m.finish(&j, err)
		return
	}
	m.finish(&j, m.run(ctx, &j))
}

func (m *Manager) finish(j *Job, err error) {
	m.mu.Lock()
	closing := m.closed
	m.mu.Unlock()
	switch {
	case err == nil:
		j.Status = StatusSucceeded
		j.Progress.Percent = 100
	case closing && errors.Is(err, context.Canceled):
		m.log.Info("archive job interrupted by shutdown; it resumes at the next start", "job", j.ID)
		return
	case errors.Is(err, context.Canceled):
		j.Status = StatusCancelled
	default:
		j.Status, j.Error = StatusFailed, err.Error()
		m.log.Warn("archive job failed", "job", j.ID, "policy", j.PolicyID, "err", err)
	}
	t := m.cfg.Now().UTC()
	j.FinishedAt = &t
	m.metrics.jobs.WithLabelValues(j.Tenant, j.Status).Inc()
	if j.StartedAt != nil {
		m.metrics.duration.Observe(t.Sub(*j.StartedAt).Seconds())
	}
	if err := m.jobs.save(context.Background(), j); err != nil {
		m.log.Error("cannot record archive job outcome", "job", j.ID, "err", err)
	}
}

// pending is one stream's entries of one hour, waiting to be written.
type pending struct {
	st   *store.Stream
	rows []row
	// arenas hold the lines and metadata the rows point into, one per scan
	// worker.
	arenas []collectArena
}

// row is one collected entry. It holds no pointers, so that the garbage
// collector skips the entries held in memory: its line is the n bytes at
// off in chunk c of worker w's arena, its metadata md in that arena's list
// (-1 for none), and s indexes its stream in the batch collected.
type row struct {
	ts     int64
	seq    uint64
	off, n uint32
	c      uint32
	md     int32
	w      int32
	s      int32
}

// entry rebuilds the entry of r.
func (g *pending) entry(r *row) logmodel.Entry {
	a := &g.arenas[r.w]
	e := logmodel.Entry{Labels: g.st.Labels, Timestamp: r.ts, Line: a.chunks[r.c][r.off : r.off+r.n : r.off+r.n], Cursor: logmodel.Cursor{Seq: r.seq}}
	if r.md >= 0 {
		e.Metadata = a.mds[r.md]
	}
	return e
}

// run archives the job's range hour by hour. Objects already in the index
// for this job are skipped, so that a resumed job writes each object once.
func (m *Manager) run(ctx context.Context, j *Job) error {
	p, err := m.policies.Get(ctx, "", j.PolicyID)
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	matchers, err := p.Matchers()
	if err != nil {
		return err
	}
	bc, err := newClient(p.Destination, m.cfg.Egress)
	if err != nil {
		return err
	}
	done, err := m.index.done(ctx, j.ID)
	if err != nil {
		return err
	}
	start, end := j.StartTime.UnixNano(), j.EndTime.UnixNano()
	stats, _, err := m.st.StreamStats(ctx, j.Tenant, matchers, start, end)
	if err != nil {
		return err
	}
	var prog progressCounter
	for _, s := range stats {
		prog.total += int64(s.Entries)
	}
	if err := m.loadProgress(ctx, j, &prog); err != nil {
		return err
	}
	prog.fill(&j.Progress)
	if err := m.jobs.save(ctx, j); err != nil {
		return err
	}
	snap := j.snapshotSeq
	lastSave := time.Now()
	// Encoders, and the objects queued or uploading.
	bufs := newJobBuffers(m.st.Workers(), 2*m.cfg.Uploads)
	col := newCollector(m.st)
	for h := floorHour(start); h < end; h += int64(time.Hour) {
		segStart, segEnd := max(h, start), min(h+int64(time.Hour), end)
		hourStats, _, err := m.st.StreamStats(ctx, j.Tenant, matchers, segStart, segEnd)
		if err != nil {
			return err
		}
		todo := hourStats[:0]
		for _, s := range hourStats {
			if s.Entries > 0 && !done[doneKey(streamHash(s.Stream.Labels), h)] {
				todo = append(todo, s)
			}
		}
		slices.SortFunc(todo, func(a, b store.StreamStat) int { return cmp.Compare(a.Stream.ID, b.Stream.ID) })
		for len(todo) > 0 {
			n, size := 0, uint64(0)
			for n < len(todo) && (n == 0 || size+todo[n].Bytes <= collectBatchBytes) {
				size += todo[n].Bytes
				n++
			}
			groups, err := col.collect(ctx, j.Tenant, matchers, segStart, segEnd, snap, todo[:n])
			if err != nil {
				return err
			}
			if err := m.writeAll(ctx, j, p, bc, h, groups, bufs, &prog); err != nil {
				return err
			}
			todo = todo[n:]
		}
		if len(hourStats) > 0 || time.Since(lastSave) > 5*time.Second {
			prog.fill(&j.Progress)
			if err := m.jobs.save(ctx, j); err != nil {
				return err
			}
			lastSave = time.Now()
		}
	}
	prog.fill(&j.Progress)
	objs, _, err := m.index.List(ctx, Filter{Tenant: j.Tenant, JobID: j.ID})
	if err != nil {
		return err
	}
	if j.ManifestKey, err = m.writeManifest(ctx, bc, p, j, objs); err != nil {
		return err
	}
	if p.DeleteAfterArchive {
		if err := m.verifyAll(ctx, bc, objs); err != nil {
			return fmt.Errorf("verification before deleting local data: %w", err)
		}
		n, err := m.st.DeleteRange(ctx, j.Tenant, matchers, start, end, snap)
		if err != nil {
			return fmt.Errorf("delete archived local data: %w", err)
		}
		j.DeletedEntries = n
		m.metrics.deleted.WithLabelValues(j.Tenant).Add(float64(n))
	}
	if start <= p.ArchivedUntil.UnixNano() || p.ArchivedUntil.IsZero() {
		if err := m.policies.advance(ctx, p.ID, end); err != nil {
			return err
		}
	}
	return nil
}

// progressCounter accumulates a job's progress across upload goroutines.
type progressCounter struct {
	mu                       sync.Mutex // guards the fields below
	objects, lines, raw, cmp int64
	total                    int64
}

func (c *progressCounter) add(lines, raw, cmp int64) {
	c.mu.Lock()
	c.objects++
	c.lines += lines
	c.raw += raw
	c.cmp += cmp
	c.mu.Unlock()
}

func (c *progressCounter) fill(p *Progress) {
	c.mu.Lock()
	defer c.mu.Unlock()
	*p = Progress{Objects: c.objects, Lines: c.lines, RawBytes: c.raw, CompressedBytes: c.cmp, TotalLines: c.total}
	if c.total > 0 {
		p.Percent = min(100, float64(c.lines)*100/float64(c.total))
	}
}

// loadProgress starts the counter from what the index holds for the job.
func (m *Manager) loadProgress(ctx context.Context, j *Job, c *progressCounter) error {
	row := m.index.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(lines),0), COALESCE(SUM(raw_bytes),0), COALESCE(SUM(size),0) FROM archive_objects WHERE job_id = ?`, j.ID)
	return row.Scan(&c.objects, &c.lines, &c.raw, &c.cmp)
}

func streamHash(ls logmodel.Labels) string { return strconv.FormatUint(ls.Hash(), 16) }

// collectBatchBytes bounds the line bytes of the streams a job collects at
// once (a single stream's hour may exceed it), so that a job's memory does
// not grow with the hour's data.
const collectBatchBytes = 8 << 20

// collector reads batches of streams of one hour, reusing its buffers from
// one batch to the next: the previous batch's groups are invalid once
// collect is called again.
type collector struct {
	st *store.Store
	// arenas and rows are per scan worker; rows in scan order.
	arenas []collectArena
	rows   [][]row
	// sorted holds the batch's rows grouped by stream.
	sorted []row
	counts []int
}

func newCollector(st *store.Store) *collector {
	return &collector{st: st, arenas: make([]collectArena, st.Workers()), rows: make([][]row, st.Workers())}
}

// collect reads the entries of the batch's streams in [start, end) with a
// cursor up to snap, grouped by stream in the batch's order; encodeObject
// sorts each group, on the encoding goroutines.
func (c *collector) collect(ctx context.Context, tenant string, matchers []*store.Matcher, start, end int64, snap uint64, batch []store.StreamStat) ([]*pending, error) {
	ids := make([]uint64, len(batch))
	index := make(map[uint64]int32, len(batch))
	for i, s := range batch {
		ids[i] = s.Stream.ID
		index[s.Stream.ID] = int32(i)
	}
	for w := range c.arenas {
		c.arenas[w].reset()
		c.rows[w] = c.rows[w][:0]
	}
	// Each worker remembers its last stream: a source is one stream's.
	last := make([]struct {
		id uint64
		s  int32
	}, len(c.arenas))
	for w := range last {
		last[w].s = -1
	}
	q := store.Query{Tenant: tenant, Matchers: matchers, Streams: ids, Start: start, End: end,
		Predicate: func(_ *store.Stream, e *store.EntryView) bool { return e.Seq <= snap }}
	_, err := c.st.Scan(ctx, q, func(w int, st *store.Stream, e *store.EntryView) error {
		l := &last[w]
		if l.s < 0 || l.id != st.ID {
			l.id, l.s = st.ID, index[st.ID]
		}
		a := &c.arenas[w]
		ch, off := a.line(e.Line)
		c.rows[w] = append(c.rows[w], row{ts: e.Timestamp, seq: e.Seq, c: ch, off: off, n: uint32(len(e.Line)), md: a.metadata(e.Metadata), w: int32(w), s: l.s})
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.counts = append(c.counts[:0], make([]int, len(batch)+1)...)
	total := 0
	for _, rs := range c.rows {
		for i := range rs {
			c.counts[rs[i].s+1]++
		}
		total += len(rs)
	}
	for i := 1; i < len(c.counts); i++ {
		c.counts[i] += c.counts[i-1]
	}
	c.sorted = slices.Grow(c.sorted[:0], total)[:total]
	next := slices.Clone(c.counts)
	for _, rs := range c.rows {
		for i := range rs {
			c.sorted[next[rs[i].s]] = rs[i]
			next[rs[i].s]++
		}
	}
	out := make([]*pending, 0, len(batch))
	for i, s := range batch {
		if lo, hi := c.counts[i], c.counts[i+1]; hi > lo {
			out = append(out, &pending{st: s.Stream, rows: c.sorted[lo:hi:hi], arenas: c.arenas})
		}
	}
	return out, nil
}

// collectArena copies the lines one scan worker collects into large
// chunks, and keeps one metadata copy for consecutive entries with equal
// metadata, to spare the allocator and the GC.
type collectArena struct {
	chunks [][]byte
	// spare holds emptied chunks for reuse.
	spare [][]byte
	mds   []logmodel.Labels
}

// reset empties the arena, keeping standard chunks for reuse, about as
// many as a batch fills.
func (a *collectArena) reset() {
	for _, c := range a.chunks {
		if cap(c) == arenaChunk && len(a.spare) < collectBatchBytes/arenaChunk+1 {
			a.spare = append(a.spare, c[:0])
		}
	}
	clear(a.chunks)
	a.chunks = a.chunks[:0]
	clear(a.mds)
	a.mds = a.mds[:0]
}

const arenaChunk = 1 << 20

// line copies b and returns where it went.
func (a *collectArena) line(b []byte) (chunk, off uint32) {
	if len(b) > arenaChunk/4 {
		a.chunks = append(a.chunks, bytes.Clone(b))
		return uint32(len(a.chunks) - 1), 0
	}
	if len(a.chunks) == 0 || cap(a.chunks[len(a.chunks)-1])-len(a.chunks[len(a.chunks)-1]) < len(b) {
		if n := len(a.spare); n > 0 {
			a.chunks = append(a.chunks, a.spare[n-1])
			a.spare = a.spare[:n-1]
		} else {
			a.chunks = append(a.chunks, make([]byte, 0, arenaChunk))
		}
	}
	i := len(a.chunks) - 1
	off = uint32(len(a.chunks[i]))
	a.chunks[i] = append(a.chunks[i], b...)
	return uint32(i), off
}

// metadata returns the index of md's copy, -1 for none.
func (a *collectArena) metadata(md logmodel.Labels) int32 {
	if len(md) == 0 {
		return -1
	}
	if n := len(a.mds); n == 0 || !a.mds[n-1].Equal(md) {
		a.mds = append(a.mds, md.Copy())
	}
	return int32(len(a.mds) - 1)
}

// encoded is an object encoded and waiting for its upload.
type encoded struct {
	g   *pending
	key ObjectKey
	// body is the compressed object, sum its hex MD5.
	body, bloom     []byte
	sum             string
	lines, raw      int64
	firstTs, lastTs int64
}

// jobBuffers are the Encoders and object buffers a job reuses from one
// object to the next, kept across garbage collections.
type jobBuffers struct {
	encoders *EncoderPool
	// bodies holds the buffers of uploaded objects.
	bodies chan []byte
}

func newJobBuffers(encoders, bodies int) *jobBuffers {
	return &jobBuffers{encoders: NewEncoderPool(encoders), bodies: make(chan []byte, bodies)}
}

// body returns a buffer for an object.
func (b *jobBuffers) body() []byte {
	select {
	case buf := <-b.bodies:
		return buf
	default:
		return nil
	}
}

// putBody keeps an uploaded object's buffer for another.
func (b *jobBuffers) putBody(buf []byte) {
	if cap(buf) > maxPooledBuffer {
		return
	}
	select {
	case b.bodies <- buf[:0]:
	default:
	}
}

// writeAll encodes, uploads, verifies and indexes the objects of one hour in
// a bounded pipeline: Workers goroutines encode (CPU), Uploads goroutines
// upload (I/O), and at most Uploads encoded objects wait between them.
func (m *Manager) writeAll(ctx context.Context, j *Job, p Policy, bc *bucketClient, hour int64, todo []*pending, bufs *jobBuffers, prog *progressCounter) error {
	var mu sync.Mutex // guards firstErr and written
	var firstErr error
	var written []*Object
	var failed atomic.Bool
	fail := func(err error) {
		failed.Store(true)
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	work := make(chan *pending, len(todo))
	for _, g := range todo {
		work <- g
	}
	close(work)
	queue := make(chan *encoded, m.cfg.Uploads)
	var encoders sync.WaitGroup
	for range min(m.st.Workers(), len(todo)) {
		encoders.Go(func() {
			for g := range work {
				if ctx.Err() != nil || failed.Load() {
					return
				}
				e, err := encodeObject(p, j.Tenant, hour, g, bufs)
				if err != nil {
					fail(err)
					return
				}
				queue <- e
			}
		})
	}
	go func() {
		encoders.Wait()
		close(queue)
	}()
	var uploaders sync.WaitGroup
	for range m.cfg.Uploads {
		uploaders.Go(func() {
			for e := range queue {
				o, err := m.uploadObject(ctx, j, p, bc, hour, e, prog)
				bufs.putBody(e.body)
				if err != nil {
					fail(err)
					continue
				}
				mu.Lock()
				written = append(written, o)
				mu.Unlock()
			}
		})
	}
	uploaders.Wait()
	// Objects verified in the bucket are indexed even when a sibling failed,
	// so that a retry skips them.
	if err := m.index.putAll(context.WithoutCancel(ctx), written); err != nil {
		return err
	}
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// encodeObject sorts a stream's entries of one hour by (timestamp, cursor)
// and encodes them, with an Encoder and an object buffer from bufs; the
// caller returns the object's body to bufs.
func encodeObject(p Policy, tenant string, hour int64, g *pending, bufs *jobBuffers) (*encoded, error) {
	slices.SortFunc(g.rows, func(x, y row) int {
		if logmodel.Before(x.ts, x.seq, y.ts, y.seq) {
			return -1
		}
		if logmodel.Before(y.ts, y.seq, x.ts, x.seq) {
			return 1
		}
		return 0
	})
	enc, err := bufs.encoders.Get(p.Compression)
	if err != nil {
		return nil, err
	}
	defer enc.Release()
	for i := range g.rows {
		ent := g.entry(&g.rows[i])
		if err := enc.Write(&ent); err != nil {
			return nil, err
		}
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	ls := g.st.Labels
	key := ObjectKey{Prefix: p.Destination.Prefix, Tenant: tenant, Cluster: ls.Get("cluster"), Namespace: ls.Get("namespace"), Pod: ls.Get("pod"),
		Container: ls.Get("container"), Hour: hour, FirstTs: enc.FirstTs, LastTs: enc.LastTs, Compression: p.Compression}
	body := enc.Detach(bufs.body())
	return &encoded{g: g, key: key, body: body, bloom: enc.Bloom(), sum: md5Hex(body), lines: enc.Lines, raw: enc.Raw, firstTs: enc.FirstTs, lastTs: enc.LastTs}, nil
}

// uploadObject uploads and verifies one encoded object, and returns its
// index row.
func (m *Manager) uploadObject(ctx context.Context, j *Job, p Policy, bc *bucketClient, hour int64, e *encoded, prog *progressCounter) (*Object, error) {
	key, sum, ls, body := e.key, e.sum, e.g.st.Labels, e.body
	labels, _ := json.Marshal(ls.Map())
	opts := minio.PutObjectOptions{
		ContentType: "application/x-ndjson",
		// The ETag of a single-part upload is the MD5 the server computed
		// of what it received, compared below with the MD5 of what was
		// sent: neither a Content-MD5 header nor a SHA-256 payload hash
		// would add to that check, and each would hash the body again.
		DisableContentSha256: true,
		UserMetadata: map[string]string{
			"First-Ts": logmodel.FormatTime(e.firstTs), "Last-Ts": logmodel.FormatTime(e.lastTs),
			"Lines": strconv.FormatInt(e.lines, 10), "Raw-Bytes": strconv.FormatInt(e.raw, 10), "Labels": string(labels),
		},
	}
	if p.Compression == CompressionZstd {
		opts.ContentEncoding = "zstd"
	} else {
		opts.ContentEncoding = "gzip"
	}
	k := key.String()
	info, err := bc.c.PutObject(ctx, bc.bucket, k, bytes.NewReader(body), int64(len(body)), opts)
	if err != nil {
		return nil, fmt.Errorf("upload %s: %w", k, err)
	}
	// A single-part upload's ETag is the MD5 the server computed; anything
	// else is checked in the bucket.
	if info.ETag != sum || info.Size != int64(len(body)) {
		if err := verifyObject(ctx, bc, k, int64(len(body)), sum); err != nil {
			return nil, err
		}
	}
	o := &Object{Key: k, PolicyID: p.ID, JobID: j.ID, Bucket: bc.bucket, Size: int64(len(body)), RawBytes: e.raw, Lines: e.lines,
		StartTime: time.Unix(0, e.firstTs).UTC(), EndTime: time.Unix(0, e.lastTs).UTC(), Cluster: key.Cluster, Namespace: key.Namespace,
		Pod: key.Pod, Container: key.Container, Labels: ls.Map(), ETag: sum, CreatedAt: m.cfg.Now().UTC(),
		tenant: j.Tenant, streamHash: streamHash(ls), hour: hour, bloom: e.bloom}
	prog.add(e.lines, e.raw, int64(len(body)))
	m.metrics.objects.WithLabelValues(j.Tenant).Inc()
	m.metrics.lines.WithLabelValues(j.Tenant).Add(float64(e.lines))
	m.metrics.bytes.WithLabelValues(j.Tenant, "raw").Add(float64(e.raw))
	m.metrics.bytes.WithLabelValues(j.Tenant, "compressed").Add(float64(len(body)))
	return o, nil
}

// verifyObject checks that the bucket holds key with the given size and MD5:
// from the ETag of a single-part upload, else by reading it back.
func verifyObject(ctx context.Context, bc *bucketClient, key string, size int64, md5hex string) error {
	info, err := bc.c.StatObject(ctx, bc.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return fmt.Errorf("verify %s: %w", key, err)
	}
	if info.Size != size {
		return fmt.Errorf("verify %s: the bucket holds %d bytes, %d were written", key, info.Size, size)
	}
	if info.ETag == md5hex {
		return nil
	}
	obj, err := bc.c.GetObject(ctx, bc.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return fmt.Errorf("verify %s: %w", key, err)
	}
	defer obj.Close()
	h := md5.New() // #nosec G401 -- MD5 is the S3 ETag and Content-MD5 checksum, not a security primitive
	if _, err := io.Copy(h, obj); err != nil {
		return fmt.Errorf("verify %s: %w", key, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != md5hex {
		return fmt.Errorf("verify %s: checksum %s in the bucket, %s written", key, got, md5hex)
	}
	return nil
}

// verifyAll checks every object of a job in the bucket.
func (m *Manager) verifyAll(ctx context.Context, bc *bucketClient, objs []Object) error {
	for i := range objs {
		if err := verifyObject(ctx, bc, objs[i].Key, objs[i].Size, objs[i].ETag); err != nil {
			return err
		}
	}
	return nil
}

// manifest is the object each job writes last, listing its objects.
type manifest struct {
	JobID     string    `json:"job_id"`
	PolicyID  string    `json:"policy_id"`
	Tenant    string    `json:"tenant"`
	StartTime time.Time `json:"start_time"`
	EndTime   time.Time `json:"end_time"`
	Objects   []Object  `json:"objects"`
	Progress  Progress  `json:"progress"`
}

// ManifestKey names a job's manifest object.
func ManifestKey(prefix, tenant, jobID string) string {
	k := escapeComponent(tenant) + "/_manifests/" + jobID + ".json"
	if prefix != "" {
		k = prefix + "/" + k
	}
	return k
}

func (m *Manager) writeManifest(ctx context.Context, bc *bucketClient, p Policy, j *Job, objs []Object) (string, error) {
	body, err := json.MarshalIndent(manifest{JobID: j.ID, PolicyID: p.ID, Tenant: j.Tenant, StartTime: j.StartTime, EndTime: j.EndTime, Objects: objs, Progress: j.Progress}, "", "  ")
	if err != nil {
		return "", err
	}
	key := ManifestKey(p.Destination.Prefix, j.Tenant, j.ID)
	if _, err := bc.c.PutObject(ctx, bc.bucket, key, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{ContentType: "application/json"}); err != nil {
		return "", fmt.Errorf("upload manifest: %w", err)
	}
	return key, nil
}

// Open returns an archived object of tenant and a reader of its compressed
// bytes; the reader must be closed. A key outside the tenant is not found.
func (m *Manager) Open(ctx context.Context, tenant, key string) (Object, io.ReadCloser, error) {
	o, err := m.index.Lookup(ctx, tenant, key)
	if err != nil {
		return o, nil, err
	}
	bc, err := m.client(ctx, o.PolicyID)
	if err != nil {
		return o, nil, fmt.Errorf("the policy of archived object %q: %w", key, err)
	}
	obj, err := bc.c.GetObject(ctx, bc.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return o, nil, fmt.Errorf("read %s: %w", key, err)
	}
	return o, obj, nil
}
