// Package clusters keeps the registered clusters, the collection configs and
// the collection jobs in the metadata database, and drives the collector
// Manager from them: adding, replacing or removing a cluster config adds,
// replaces or removes the cluster in the Manager; a change of collection
// configs or continuous jobs updates its selections. Jobs run here and record
// their progress in the database; continuous jobs and unfinished one-time
// jobs resume when the service starts again.
package clusters

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/kubelog/kubelog/internal/collector"
	"github.com/kubelog/kubelog/internal/egress"
	"github.com/kubelog/kubelog/internal/meta"
	"github.com/kubelog/kubelog/internal/secrets"
	"github.com/kubelog/kubelog/internal/store"
)

// DefaultClusterID and DefaultClusterName name the cluster that kubelog
// serve --kubeconfig registers for the default tenant.
const (
	DefaultClusterID   = "default"
	DefaultClusterName = "default"
)

// InvalidError is a bad input, naming the field.
type InvalidError struct {
	Field, Problem string
}

func (e *InvalidError) Error() string { return e.Field + ": " + e.Problem }

func invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// Config configures a Service.
type Config struct {
	// CheckTimeout bounds the connection check of a new or changed cluster.
	CheckTimeout time.Duration
	// ReachTimeout is how long a one-time or bulk job waits for its cluster
	// to answer before it fails.
	ReachTimeout time.Duration
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Clock tells the time; nil means the system clock.
	Clock clock.PassiveClock
	// Keys seal the stored kubeconfigs; required.
	Keys *secrets.Keyring
	// Egress decides which API servers the clusters that tenants register
	// may point at.
	Egress egress.Policy
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{CheckTimeout: 10 * time.Second, ReachTimeout: 30 * time.Second, Egress: egress.DefaultPolicy()}
}

// Service manages clusters, collection configs and jobs. Its methods may be
// called concurrently. Close must be called.
type Service struct {
	cfg   Config
	db    db
	coll  *collector.Manager
	st    *store.Store
	log   *slog.Logger
	clock clock.PassiveClock

	// ctx ends with Close; jobs run under it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// reconf serializes changes to the Manager's clusters and selections.
	reconf sync.Mutex

	mu sync.Mutex
	// running holds the cancel functions of the running one-time and bulk
	// jobs, by job ID (guarded by mu).
	running map[string]*runningJob
	// disabled says, by cluster ID, why a stored cluster is not collected
	// (guarded by mu).
	disabled map[string]string
}

// ErrInClusterForbidden refuses in_cluster from a token that is not an
// admin's: the cluster kubelog runs in is the operator's, not a tenant's.
var ErrInClusterForbidden = errors.New("in_cluster: only an admin token may register the cluster kubelog runs in")

// errCancelled is the cause of a job cancelled through the API.
var errCancelled = errors.New("cancelled")

// New returns a Service over the metadata database, driving coll and reading
// job progress from st. Start adds the stored clusters to coll.
func New(cfg Config, d *meta.DB, coll *collector.Manager, st *store.Store) *Service {
	s := &Service{cfg: cfg, db: db{sql: d.SQL(), keys: cfg.Keys}, coll: coll, st: st, log: cfg.Logger, clock: cfg.Clock,
		running: make(map[string]*runningJob), disabled: make(map[string]string)}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.clock == nil {
		s.clock = clock.RealClock{}
	}
	if s.cfg.CheckTimeout <= 0 {
		s.cfg.CheckTimeout = DefaultConfig().CheckTimeout
	}
	if s.cfg.ReachTimeout <= 0 {
		s.cfg.ReachTimeout = DefaultConfig().ReachTimeout
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// EnsureDefault registers the context of the kubeconfig file (contextName
// empty: its current one) as cluster "default" of the default tenant, with
// a collection config for every namespace when the cluster is new. Run again
// with the same file, it changes nothing; with another file, it replaces the
// stored kubeconfig and keeps the collection configs.
func (s *Service) EnsureDefault(ctx context.Context, path, contextName string) error {
	yaml, err := FlattenKubeconfig(path, contextName)
	if err != nil {
		return err
	}
	clusters, err := s.db.listClusters(ctx, meta.DefaultTenant)
	if err != nil {
		return err
	}
	now := s.clock.Now().UTC()
	for _, c := range clusters {
		if c.Name != DefaultClusterName {
			continue
		}
		if c.Kubeconfig == yaml && c.Context == "" && !c.InCluster && c.Origin == OriginOperator {
			return nil
		}
		c.Kubeconfig, c.Context, c.InCluster, c.Origin, c.UpdatedAt = yaml, "", false, OriginOperator, now
		return s.db.updateCluster(ctx, c)
	}
	c := ClusterConfig{ID: DefaultClusterID, Tenant: meta.DefaultTenant, Name: DefaultClusterName, Kubeconfig: yaml, Origin: OriginOperator, CreatedAt: now, UpdatedAt: now}
	if err := s.db.insertCluster(ctx, c); err != nil {
		return err
	}
	return s.db.insertCollection(ctx, CollectionConfig{ID: newID(), Tenant: c.Tenant, ClusterID: c.ID, Namespace: "*",
		IncludeInit: true, Enabled: true, CreatedAt: now, UpdatedAt: now})
}

// Start adds every stored cluster to the Manager with its selections and
// resumes the jobs that had not finished. A cluster that cannot be added (a
// kubeconfig no longer valid) is logged and skipped.
func (s *Service) Start(ctx context.Context) error {
	clusters, err := s.db.listClusters(ctx, "")
	if err != nil {
		return err
	}
	s.reconf.Lock()
	for _, c := range clusters {
		if err := s.addToManager(ctx, c); err != nil {
			s.log.Warn("cluster not collected: fix its config with PUT /api/v1/logs/clusters/configs", "cluster", c.Name, "tenant", c.Tenant, "err", err)
			s.mu.Lock()
			s.disabled[c.ID] = publicReason(err)
			s.mu.Unlock()
		}
	}
	s.reconf.Unlock()
	jobs, err := s.db.listJobs(ctx, JobFilter{})
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if j.Finished() || j.Kind == KindContinuous {
			continue
		}
		s.runJob(j)
	}
	return nil
}

// Close stops the running jobs, leaving them to resume at the next Start,
// and waits for them.
func (s *Service) Close() {
	s.cancel()
	s.wg.Wait()
}

// addToManager adds cluster c to the Manager with its selections. The
// caller holds reconf.
func (s *Service) addToManager(ctx context.Context, c ClusterConfig) error {
	rc, err := s.restConfig(c)
	if err != nil {
		return err
	}
	sels, err := s.selections(ctx, c.ID)
	if err != nil {
		return err
	}
	if err := s.coll.AddCluster(ctx, collector.Cluster{ID: c.ID, Name: c.Name, Tenant: c.Tenant, RESTConfig: rc}, sels); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.disabled, c.ID)
	s.mu.Unlock()
	return nil
}

// Reseal seals every stored kubeconfig with the keyring's current key and
// returns how many changed; kubelog serve runs it at start (to seal the
// plain kubeconfigs of earlier versions) and kubelog secrets rotate-key
// after a new key.
func Reseal(ctx context.Context, d *meta.DB, keys *secrets.Keyring) (int, error) {
	return (&db{sql: d.SQL(), keys: keys}).reseal(ctx)
}

// selections returns what the Manager collects of a cluster: its collection
// configs and its running continuous jobs.
func (s *Service) selections(ctx context.Context, clusterID string) ([]collector.Selection, error) {
	cfgs, err := s.db.listCollections(ctx, CollectionFilter{ClusterID: clusterID})
	if err != nil {
		return nil, err
	}
	var sels []collector.Selection
	for _, c := range cfgs {
		sels = append(sels, collector.Selection{ID: c.ID, Namespace: c.Namespace, LabelSelector: c.LabelSelector,
			OnlyContainers: c.OnlyContainers, IgnoreContainers: c.IgnoreContainers, IncludeInit: c.IncludeInit, Enabled: c.Enabled})
	}
	jobs, err := s.db.listJobs(ctx, JobFilter{ClusterID: clusterID, Status: StatusRunning})
	if err != nil {
		return nil, err
	}
	for _, j := range jobs {
		if j.Kind == KindContinuous {
			sels = append(sels, jobSelection(j))
		}
	}
	return sels, nil
}

// jobSelection is the selection that a continuous job adds.
func jobSelection(j Job) collector.Selection {
	return collector.Selection{ID: "job:" + j.ID, Namespace: j.Request.Namespace, LabelSelector: j.Request.LabelSelector,
		Pods: j.Request.Pods, OnlyContainers: j.Request.Containers, IncludeInit: true, Enabled: true}
}

// apply gives the Manager the cluster's current selections.
func (s *Service) apply(ctx context.Context, clusterID string) error {
	s.reconf.Lock()
	defer s.reconf.Unlock()
	if !s.coll.HasCluster(clusterID) {
		return nil
	}
	sels, err := s.selections(ctx, clusterID)
	if err != nil {
		return err
	}
	return s.coll.UpdateSelections(clusterID, sels)
}

// ClusterInput is a cluster config to create or change. On update, nil
// fields keep their value.
type ClusterInput struct {
	Name       *string
	Kubeconfig *string
	InCluster  *bool
	Context    *string
	// Admin says the request comes from an admin token, which alone may
	// set InCluster.
	Admin bool
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,62})$`)

// build applies in to c and validates the result.
func (in ClusterInput) build(c ClusterConfig) (ClusterConfig, error) {
	if in.Name != nil {
		c.Name = *in.Name
	}
	if in.Kubeconfig != nil {
		c.Kubeconfig = *in.Kubeconfig
		if in.InCluster == nil && *in.Kubeconfig != "" {
			c.InCluster = false
		}
	}
	if in.InCluster != nil {
		c.InCluster = *in.InCluster
		if c.InCluster && in.Kubeconfig == nil {
			c.Kubeconfig = ""
		}
	}
	if in.Context != nil {
		c.Context = *in.Context
	}
	switch {
	case in.InCluster != nil && *in.InCluster && !in.Admin:
		return c, ErrInClusterForbidden
	case c.Name == "":
		return c, invalid("name", "is required")
	case !nameRE.MatchString(c.Name):
		return c, invalid("name", "%q must match [a-z0-9][a-z0-9._-]{0,62}", c.Name)
	case c.InCluster && c.Kubeconfig != "":
		return c, invalid("kubeconfig", "give kubeconfig or in_cluster: true, not both")
	case !c.InCluster && c.Kubeconfig == "":
		return c, invalid("kubeconfig", "is required (inline kubeconfig YAML), unless in_cluster is true")
	case len(c.Kubeconfig) > 1<<20:
		return c, invalid("kubeconfig", "is over 1 MiB")
	}
	return c, nil
}

// ListClusters returns the tenant's cluster configs.
func (s *Service) ListClusters(ctx context.Context, tenant string) ([]ClusterConfig, error) {
	return s.db.listClusters(ctx, tenant)
}

// GetCluster returns one of the tenant's cluster configs.
func (s *Service) GetCluster(ctx context.Context, tenant, id string) (ClusterConfig, error) {
	return s.db.getCluster(ctx, tenant, id)
}

// checkConnection builds c's REST config and checks the cluster answers
// within CheckTimeout; a failure is a *ConnectError.
func (s *Service) checkConnection(ctx context.Context, c ClusterConfig) error {
	rc, err := s.restConfig(c)
	if err != nil {
		return err
	}
	if err := check(ctx, rc, s.cfg.CheckTimeout); err != nil {
		s.log.Warn("cluster connection check failed", "cluster", c.Name, "tenant", c.Tenant, "err", connectDetail(err))
		return err
	}
	return nil
}

// CreateCluster checks the connection, saves the config and starts
// collecting from the cluster. A failed check is a *ConnectError.
func (s *Service) CreateCluster(ctx context.Context, tenant string, in ClusterInput) (ClusterConfig, error) {
	now := s.clock.Now().UTC()
	c, err := in.build(ClusterConfig{ID: newID(), Tenant: tenant, Origin: OriginAPI, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		return c, err
	}
	if err := s.checkConnection(ctx, c); err != nil {
		return c, err
	}
	s.reconf.Lock()
	defer s.reconf.Unlock()
	if err := s.db.insertCluster(ctx, c); err != nil {
		return c, err
	}
	if err := s.addToManager(ctx, c); err != nil {
		return c, err
	}
	return c, nil
}

// UpdateCluster checks the changed config's connection, saves it and
// replaces the cluster in the Manager (its streams resume where they were).
func (s *Service) UpdateCluster(ctx context.Context, tenant, id string, in ClusterInput) (ClusterConfig, error) {
	old, err := s.db.getCluster(ctx, tenant, id)
	if err != nil {
		return old, err
	}
	c, err := in.build(old)
	if err != nil {
		return c, err
	}
	// A config changed through the API is the tenant's from now on.
	c.Origin, c.UpdatedAt = OriginAPI, s.clock.Now().UTC()
	if err := s.checkConnection(ctx, c); err != nil {
		return c, err
	}
	s.reconf.Lock()
	defer s.reconf.Unlock()
	if err := s.db.updateCluster(ctx, c); err != nil {
		return c, err
	}
	if s.coll.HasCluster(c.ID) {
		if err := s.coll.RemoveCluster(c.ID); err != nil {
			return c, err
		}
	}
	return c, s.addToManager(ctx, c)
}

// DeleteCluster stops collecting from a cluster and deletes its config, its
// collection configs and its jobs. Stored logs stay.
func (s *Service) DeleteCluster(ctx context.Context, tenant, id string) error {
	if _, err := s.db.getCluster(ctx, tenant, id); err != nil {
		return err
	}
	jobs, err := s.db.listJobs(ctx, JobFilter{Tenant: tenant, ClusterID: id})
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if done := s.stopJob(j.ID, errCancelled); done != nil {
			<-done
		}
	}
	s.reconf.Lock()
	defer s.reconf.Unlock()
	if s.coll.HasCluster(id) {
		if err := s.coll.RemoveCluster(id); err != nil {
			return err
		}
	}
	return s.db.deleteCluster(ctx, tenant, id)
}

// Status returns the collection state of the tenant's clusters, in the
// order of ListClusters. A cluster not in the Manager (its config could not
// be used) is reported unreachable.
func (s *Service) Status(ctx context.Context, tenant string) ([]collector.ClusterStatus, error) {
	clusters, err := s.db.listClusters(ctx, tenant)
	if err != nil {
		return nil, err
	}
	all := s.coll.Status()
	out := make([]collector.ClusterStatus, 0, len(clusters))
	for _, c := range clusters {
		i := slices.IndexFunc(all, func(st collector.ClusterStatus) bool { return st.ID == c.ID })
		if i < 0 {
			s.mu.Lock()
			why := s.disabled[c.ID]
			s.mu.Unlock()
			if why == "" {
				why = "the cluster config cannot be used"
			}
			out = append(out, collector.ClusterStatus{ID: c.ID, Name: c.Name, LastError: "disabled, not collected: " + why + "; fix it with PUT /api/v1/logs/clusters/configs/" + c.ID})
			continue
		}
		st := all[i]
		if c.Origin == OriginAPI && st.LastError != "" {
			st.LastError = publicReason(&ConnectError{Reason: ReasonUnreachable, Err: errors.New(st.LastError)})
		}
		out = append(out, st)
	}
	return out, nil
}

// Refresh reconnects one of the tenant's clusters (id) or all of them ("")
// and returns the IDs refreshed. A cluster missing from the Manager is added
// again from its stored config.
func (s *Service) Refresh(ctx context.Context, tenant, id string) ([]string, error) {
	var clusters []ClusterConfig
	if id != "" {
		c, err := s.db.getCluster(ctx, tenant, id)
		if err != nil {
			return nil, err
		}
		clusters = []ClusterConfig{c}
	} else {
		var err error
		if clusters, err = s.db.listClusters(ctx, tenant); err != nil {
			return nil, err
		}
	}
	ids := []string{}
	s.reconf.Lock()
	defer s.reconf.Unlock()
	for _, c := range clusters {
		if s.coll.HasCluster(c.ID) {
			if err := s.coll.Refresh(c.ID); err != nil {
				return ids, err
			}
		} else if err := s.addToManager(ctx, c); err != nil {
			return ids, fmt.Errorf("cluster %s: %w", c.Name, err)
		}
		ids = append(ids, c.ID)
	}
	return ids, nil
}

// Client returns the API client of one of the tenant's clusters.
func (s *Service) Client(ctx context.Context, tenant, id string) (kubernetes.Interface, ClusterConfig, error) {
	c, err := s.db.getCluster(ctx, tenant, id)
	if err != nil {
		return nil, c, err
	}
	client, _, err := s.coll.Client(id)
	if err != nil {
		return nil, c, fmt.Errorf("cluster %s is not connected: %w", c.Name, err)
	}
	return client, c, nil
}

// Selections returns the enabled selections of a cluster (collection
// configs and continuous jobs), for telling what is collected.
func (s *Service) Selections(ctx context.Context, clusterID string) ([]collector.Selection, error) {
	return s.selections(ctx, clusterID)
}

// validSelector checks a label selector.
func validSelector(field, sel string) error {
	if _, err := labels.Parse(sel); err != nil {
		return invalid(field, "%q is not a valid label selector: %v", sel, err)
	}
	return nil
}

// ResolveClusterID returns id, or when it is empty the ID of the tenant's
// cluster named "default"; an unknown ID is an *InvalidError of cluster_id.
func (s *Service) ResolveClusterID(ctx context.Context, tenant, id string) (string, error) {
	if id == "" {
		c, err := s.defaultCluster(ctx, tenant)
		return c.ID, err
	}
	if err := s.clusterOf(ctx, tenant, id); err != nil {
		return "", err
	}
	return id, nil
}

// Unreachable counts the clusters of every tenant being collected and those
// whose API server does not answer (an error was met and no answer came
// since).
func (s *Service) Unreachable() (unreachable, total int) {
	for _, st := range s.coll.Status() {
		total++
		if !st.Reachable && st.LastError != "" {
			unreachable++
		}
	}
	return unreachable, total
}
