package archive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"

	"github.com/kubelog/kubelog/internal/egress"
	"github.com/kubelog/kubelog/internal/meta"
	"github.com/kubelog/kubelog/internal/secrets"
	"github.com/kubelog/kubelog/internal/store"
)

// Config configures a Manager.
type Config struct {
	// Clock tells the time; nil means the system clock.
	Clock clock.PassiveClock
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
	// Blobs opens the blob store of a policy's destination, which jobs
	// write to and queries and downloads read from; nil means the
	// destination's S3 bucket, reached through Egress. CheckDestination,
	// Probe and Links speak S3 to the destination whatever Blobs is.
	Blobs func(Destination) (BlobStore, error)
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
	// blobs caches the policies' blob stores by policy id and update time.
	blobs map[string]BlobStore

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
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Blobs == nil {
		policy := cfg.Egress
		cfg.Blobs = func(d Destination) (BlobStore, error) {
			s, err := newS3Store(d, policy)
			if err != nil {
				return nil, err
			}
			return s, nil
		}
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
	now := m.cfg.Clock.Now()
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
