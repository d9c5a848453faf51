package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"

	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/store"
)

// Sink stores collected entries. Append may be called concurrently; it must
// not keep es after it returns. An entry is durable once Append returned nil,
// or a *store.ValidationError, which the collector takes as "the rest is
// stored". *store.Store satisfies it.
type Sink interface {
	Append(ctx context.Context, tenant string, es []logmodel.Entry) (store.AppendResult, error)
}

var _ Sink = (*store.Store)(nil)

// probeTimeout bounds the server version check.
const probeTimeout = 10 * time.Second

// ErrUnknownCluster is returned, wrapped, for a cluster ID the Manager does
// not have.
var ErrUnknownCluster = errors.New("unknown cluster")

// Manager collects the logs of the clusters added to it. Its methods may be
// called concurrently. Close must be called.
type Manager struct {
	cfg         Config
	sink        Sink
	checkpoints Checkpoints
	log         *slog.Logger
	clock       clock.WithTicker

	mu sync.Mutex
	// clusters are the running collectors by cluster ID (guarded by mu).
	clusters map[string]*clusterCollector
	// closed is set by Close (guarded by mu).
	closed bool
}

// ClusterStatus is one cluster's collection state.
type ClusterStatus struct {
	ID, Name string
	// Reachable tells whether the last request to the API server succeeded;
	// ServerVersion is its git version.
	Reachable     bool
	ServerVersion string
	// LastError is the last error met, at LastErrorAt; empty if none.
	LastError   string
	LastErrorAt time.Time
	// PodsWatched counts the pods in the informer; StreamsActive the streams
	// reading (not those waiting for a slot).
	PodsWatched   int
	StreamsActive int
	// LinesPerSec is the rate of entries stored over the last ~10s.
	LinesPerSec float64
	// BytesCollected and LinesCollected count the stored entries' line bytes
	// and entries since the cluster was added.
	BytesCollected int64
	LinesCollected int64
}

// NewManager returns a Manager storing into sink and keeping resume points in
// checkpoints.
func NewManager(cfg Config, sink Sink, checkpoints Checkpoints) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if sink == nil || checkpoints == nil {
		return nil, errors.New("collector: sink and checkpoints are required")
	}
	m := &Manager{cfg: cfg, sink: sink, checkpoints: checkpoints, log: cfg.Logger, clock: cfg.Clock,
		clusters: make(map[string]*clusterCollector)}
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.clock == nil {
		m.clock = clock.RealClock{}
	}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(metricsCollector{m}); err != nil {
			return nil, fmt.Errorf("collector: register metrics: %w", err)
		}
	}
	return m, nil
}

// AddCluster starts collecting from cl with the given selections. An
// unreachable cluster is not an error: collection starts when it answers, and
// Status shows the error meanwhile. ctx only carries values: the collection
// runs until RemoveCluster or Close.
func (m *Manager) AddCluster(ctx context.Context, cl Cluster, sels []Selection) error {
	if cl.ID == "" || cl.Name == "" || cl.Tenant == "" || cl.RESTConfig == nil {
		return errors.New("collector: cluster needs an ID, a name, a tenant and a REST config")
	}
	compiled, err := compileSelections(sels)
	if err != nil {
		return err
	}
	rc := rest.CopyConfig(cl.RESTConfig)
	rc.QPS, rc.Burst = m.cfg.QPS, m.cfg.Burst
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("cluster %s: client: %w", cl.Name, err)
	}
	probeConfig := rest.CopyConfig(rc)
	probeConfig.Timeout = probeTimeout
	probe, err := kubernetes.NewForConfig(probeConfig)
	if err != nil {
		return fmt.Errorf("cluster %s: client: %w", cl.Name, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("collector: manager closed")
	}
	if _, dup := m.clusters[cl.ID]; dup {
		return fmt.Errorf("cluster %s: already added", cl.ID)
	}
	var logs LogSource = ClientLogSource{Client: client}
	if m.cfg.LogSource != nil {
		logs = m.cfg.LogSource(cl)
	}
	c := &clusterCollector{
		m: m, spec: cl, client: client, probe: probe, logs: logs, sels: compiled,
		slots:   make(chan struct{}, m.cfg.MaxStreams),
		kick:    make(chan struct{}, 1),
		streams: make(map[string]context.CancelFunc),
		done:    make(map[string]types.UID),
	}
	c.ctx, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	c.start()
	m.clusters[cl.ID] = c
	return nil
}

// UpdateSelections replaces the selections of a cluster; the change applies
// within Config.SelectionDelay. Streams that are no longer selected stop and
// keep their resume point.
func (m *Manager) UpdateSelections(clusterID string, sels []Selection) error {
	compiled, err := compileSelections(sels)
	if err != nil {
		return err
	}
	c, err := m.cluster(clusterID)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.sels = compiled
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
	return nil
}

// RemoveCluster stops collecting from a cluster and waits for its streams to
// store what they read.
func (m *Manager) RemoveCluster(id string) error {
	m.mu.Lock()
	c, ok := m.clusters[id]
	delete(m.clusters, id)
	m.mu.Unlock()
	if !ok {
		return fmt.Errorf("remove cluster %s: %w", id, ErrUnknownCluster)
	}
	c.stop()
	return nil
}

// Refresh reconnects every stream of a cluster (each resumes where it was)
// and checks the server again.
func (m *Manager) Refresh(id string) error {
	c, err := m.cluster(id)
	if err != nil {
		return err
	}
	c.refreshGen.Add(1)
	c.checkServer()
	return nil
}

// Status returns the state of every cluster, by ID.
func (m *Manager) Status() []ClusterStatus {
	m.mu.Lock()
	cs := make([]*clusterCollector, 0, len(m.clusters))
	for _, c := range m.clusters {
		cs = append(cs, c)
	}
	m.mu.Unlock()
	out := make([]ClusterStatus, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.status())
	}
	slices.SortFunc(out, func(a, b ClusterStatus) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// status returns the cluster's collection state.
func (c *clusterCollector) status() ClusterStatus {
	st := ClusterStatus{ID: c.spec.ID, Name: c.spec.Name,
		StreamsActive:  int(c.active.Load()),
		BytesCollected: c.bytes.Load(), LinesCollected: c.lines.Load()}
	if c.synced() {
		if pods, err := c.pods.List(labels.Everything()); err == nil {
			st.PodsWatched = len(pods)
		}
	}
	c.mu.Lock()
	st.Reachable, st.ServerVersion = c.reachable, c.version
	st.LastError, st.LastErrorAt = c.lastErr, c.lastErrAt
	st.LinesPerSec = c.linesPerSec
	c.mu.Unlock()
	return st
}

// Close stops collecting from every cluster and waits until the streams have
// stored what they read and saved their resume points.
func (m *Manager) Close() error {
	m.mu.Lock()
	m.closed = true
	cs := m.clusters
	m.clusters = map[string]*clusterCollector{}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(c.stop)
	}
	wg.Wait()
	return nil
}

// cluster returns the collector of a cluster ID.
func (m *Manager) cluster(id string) (*clusterCollector, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.clusters[id]
	if !ok {
		return nil, fmt.Errorf("cluster %s: %w", id, ErrUnknownCluster)
	}
	return c, nil
}

// Clusters returns the clusters being collected, by ID.
func (m *Manager) Clusters() []Cluster {
	m.mu.Lock()
	out := make([]Cluster, 0, len(m.clusters))
	for _, c := range m.clusters {
		out = append(out, c.spec)
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Cluster) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Client returns the API client of a cluster (rate limited by Config.QPS and
// Burst) and the cluster, for reading other objects than pods' logs.
func (m *Manager) Client(id string) (kubernetes.Interface, Cluster, error) {
	c, err := m.cluster(id)
	if err != nil {
		return nil, Cluster{}, err
	}
	return c.client, c.spec, nil
}
