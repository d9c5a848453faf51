// Package apps maps Kubernetes workloads to DigitalOcean-style apps: an app
// is a Deployment, StatefulSet, DaemonSet, Job or CronJob of a registered
// cluster (its UID is the app ID); a deployment is one of its revisions (a
// ReplicaSet, a ControllerRevision, or a Job; its UID is the deployment ID);
// a component is a container of the pod template. It resolves an app's logs
// of one type (BUILD, DEPLOY, RUN, RUN_RESTARTED) to a selection of stored
// entries, and signs the links that download or follow them.
//
// Workloads, revisions and pods are listed from the cluster when a request
// needs them (a few List calls per request, none per line); log lines and
// Events come from the store only.
package apps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/kubelog/kubelog/internal/collector"
	"github.com/kubelog/kubelog/internal/query"
)

// ErrNotFound is returned, wrapped, for an app or deployment that does not
// exist in the tenant (another tenant's included).
var ErrNotFound = errors.New("not found")

// Clusters lists the registered clusters and their clients;
// *collector.Manager satisfies it. Both methods may be called concurrently.
type Clusters interface {
	Clusters() []collector.Cluster
	Client(id string) (kubernetes.Interface, collector.Cluster, error)
}

var _ Clusters = (*collector.Manager)(nil)

// Workload kinds that are apps.
const (
	KindDeployment  = "Deployment"
	KindStatefulSet = "StatefulSet"
	KindDaemonSet   = "DaemonSet"
	KindJob         = "Job"
	KindCronJob     = "CronJob"
)

// Deployment phases.
const (
	PhaseActive     = "ACTIVE"
	PhaseDeploying  = "DEPLOYING"
	PhaseSuperseded = "SUPERSEDED"
	PhaseError      = "ERROR"
)

// App is a workload.
type App struct {
	ID                 string    `json:"id"`
	Name               string    `json:"name"`
	Namespace          string    `json:"namespace"`
	Cluster            string    `json:"cluster"`
	Kind               string    `json:"kind"`
	ActiveDeploymentID string    `json:"active_deployment_id"`
	CreatedAt          time.Time `json:"created_at"`

	clusterID string
	tenant    string
	// deployments are the revisions, oldest first.
	deployments []*Deployment
	// ready tells whether the workload finished rolling out its newest
	// revision.
	ready bool
	// failed tells whether a Job failed.
	failed bool
}

// Deployment is a revision of an app.
type Deployment struct {
	ID         string    `json:"id"`
	Revision   int64     `json:"revision"`
	CreatedAt  time.Time `json:"created_at"`
	Phase      string    `json:"phase"`
	Instances  int       `json:"instances"`
	Components []string  `json:"components"`

	// kind and name are the revision object's (ReplicaSet,
	// ControllerRevision or Job).
	kind, name string
	// hashes are the controller-revision-hash values of a
	// ControllerRevision's pods.
	hashes []string
	// initContainers are the pod template's init containers.
	initContainers []string
	// next is when the next revision was made; zero for the newest.
	next time.Time
}

// Config configures a Service.
type Config struct {
	// LinkTTL is how long signed links stay valid.
	LinkTTL time.Duration
	// PollInterval is how often a request waiting for an instance looks.
	PollInterval time.Duration
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{LinkTTL: 15 * time.Minute, PollInterval: 500 * time.Millisecond}
}

// Validate checks the config.
func (c Config) Validate() error {
	if c.LinkTTL <= 0 {
		return errors.New("apps: LinkTTL must be positive")
	}
	if c.PollInterval <= 0 {
		return errors.New("apps: PollInterval must be positive")
	}
	return nil
}

// Service answers the apps API. Its methods may be called concurrently.
type Service struct {
	cfg      Config
	clusters Clusters
	query    *query.Engine
	archive  Archive
	signer   *Signer
	clock    clock.PassiveClock

	mu sync.Mutex
	// where remembers the cluster and namespace of the apps seen, by tenant
	// and app ID (tenants sharing a cluster see the same IDs), so that a
	// request about one app lists one namespace (guarded by mu).
	where map[appKey]location
}

// appKey names an app of a tenant.
type appKey struct{ tenant, id string }

// location is where an app lives.
type location struct{ clusterID, namespace string }

// Deps are what a Service reads from. Archive may be nil (no archive: no
// historic links); Clock nil means the system clock.
type Deps struct {
	Clusters Clusters
	Query    *query.Engine
	Archive  Archive
	Signer   *Signer
	Clock    clock.PassiveClock
}

// New returns a Service.
func New(cfg Config, d Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Clusters == nil || d.Query == nil || d.Signer == nil {
		return nil, errors.New("apps: Clusters, Query and Signer are required")
	}
	s := &Service{cfg: cfg, clusters: d.Clusters, query: d.Query, archive: d.Archive, signer: d.Signer, clock: d.Clock,
		where: map[appKey]location{}}
	if s.clock == nil {
		s.clock = clock.RealClock{}
	}
	return s, nil
}

// Apps returns the tenant's apps, by cluster, namespace, kind and name.
func (s *Service) Apps(ctx context.Context, tenant string) ([]*App, error) {
	var out []*App
	for _, cl := range s.clusters.Clusters() {
		if cl.Tenant != tenant {
			continue
		}
		as, err := s.list(ctx, cl.ID, "")
		if err != nil {
			return nil, err
		}
		out = append(out, as...)
	}
	slices.SortFunc(out, func(a, b *App) int {
		return strings.Compare(a.Cluster+"\x00"+a.Namespace+"\x00"+a.Kind+"\x00"+a.Name, b.Cluster+"\x00"+b.Namespace+"\x00"+b.Kind+"\x00"+b.Name)
	})
	return out, nil
}

// list lists the apps of one cluster's namespace ("" for all) and remembers
// where they are. A cluster removed meanwhile has none.
func (s *Service) list(ctx context.Context, clusterID, namespace string) ([]*App, error) {
	client, spec, err := s.clusters.Client(clusterID)
	if err != nil {
		return nil, nil
	}
	as, err := listApps(ctx, client, spec, namespace)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", spec.Name, err)
	}
	s.mu.Lock()
	for _, a := range as {
		s.where[appKey{a.tenant, a.ID}] = location{clusterID: clusterID, namespace: a.Namespace}
	}
	s.mu.Unlock()
	return as, nil
}

// App returns one app of the tenant. An app seen before is looked for in
// its namespace only.
func (s *Service) App(ctx context.Context, tenant, id string) (*App, error) {
	key := appKey{tenant, id}
	s.mu.Lock()
	loc, ok := s.where[key]
	s.mu.Unlock()
	if ok {
		as, err := s.list(ctx, loc.clusterID, loc.namespace)
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			if a.ID == id && a.tenant == tenant {
				return a, nil
			}
		}
		s.mu.Lock()
		delete(s.where, key)
		s.mu.Unlock()
	}
	as, err := s.Apps(ctx, tenant)
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		if a.ID == id {
			return a, nil
		}
	}
	return nil, fmt.Errorf("app %q: %w", id, ErrNotFound)
}

// Deployments returns the app's deployments, newest first, with their
// instance counts.
func (s *Service) Deployments(ctx context.Context, a *App) ([]*Deployment, error) {
	pods, err := s.pods(ctx, a)
	if err != nil {
		return nil, err
	}
	out := make([]*Deployment, 0, len(a.deployments))
	for i := len(a.deployments) - 1; i >= 0; i-- {
		d := a.deployments[i]
		d.Instances = 0
		for j := range pods {
			if d.owns(a, &pods[j]) && pods[j].DeletionTimestamp == nil {
				d.Instances++
			}
		}
		out = append(out, d)
	}
	return out, nil
}

// Deployment returns one deployment of the app.
func (s *Service) Deployment(ctx context.Context, a *App, id string) (*Deployment, error) {
	ds, err := s.Deployments(ctx, a)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		if d.ID == id {
			return d, nil
		}
	}
	return nil, fmt.Errorf("deployment %q of app %s: %w", id, a.Name, ErrNotFound)
}

// Active returns the app's active deployment; ErrNotFound when it has none.
func (a *App) Active() (*Deployment, error) {
	for _, d := range a.deployments {
		if d.ID == a.ActiveDeploymentID {
			return d, nil
		}
	}
	return nil, fmt.Errorf("app %s has no active deployment: %w", a.Name, ErrNotFound)
}

// pods lists the pods of the app's namespace.
func (s *Service) pods(ctx context.Context, a *App) ([]corev1.Pod, error) {
	client, _, err := s.clusters.Client(a.clusterID)
	if err != nil {
		return nil, fmt.Errorf("app %s: %w", a.Name, ErrNotFound)
	}
	l, err := client.CoreV1().Pods(a.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list pods of %s: %w", a.Namespace, err)
	}
	return l.Items, nil
}

// owns reports whether pod belongs to the revision d of app a.
func (d *Deployment) owns(a *App, pod *corev1.Pod) bool {
	switch d.kind {
	case "ReplicaSet", KindJob:
		return ownedBy(pod.OwnerReferences, d.ID)
	case "ControllerRevision":
		return ownedBy(pod.OwnerReferences, a.ID) && slices.Contains(d.hashes, pod.Labels[appsv1.ControllerRevisionHashLabelKey])
	}
	return false
}

func ownedBy(refs []metav1.OwnerReference, uid string) bool {
	for _, r := range refs {
		if string(r.UID) == uid {
			return true
		}
	}
	return false
}

// controller returns the UID of the controlling owner.
func controller(refs []metav1.OwnerReference) string {
	for _, r := range refs {
		if r.Controller != nil && *r.Controller {
			return string(r.UID)
		}
	}
	return ""
}

// listApps lists the workloads of one cluster's namespace ("" for all) with
// their revisions.
func listApps(ctx context.Context, client kubernetes.Interface, cl collector.Cluster, ns string) ([]*App, error) {
	all := metav1.ListOptions{}
	deps, err := listOr(client.AppsV1().Deployments(ns).List(ctx, all))
	if err != nil {
		return nil, err
	}
	stss, err := listOr(client.AppsV1().StatefulSets(ns).List(ctx, all))
	if err != nil {
		return nil, err
	}
	dss, err := listOr(client.AppsV1().DaemonSets(ns).List(ctx, all))
	if err != nil {
		return nil, err
	}
	jobs, err := listOr(client.BatchV1().Jobs(ns).List(ctx, all))
	if err != nil {
		return nil, err
	}
	cjs, err := listOr(client.BatchV1().CronJobs(ns).List(ctx, all))
	if err != nil {
		return nil, err
	}
	rss, err := listOr(client.AppsV1().ReplicaSets(ns).List(ctx, all))
	if err != nil {
		return nil, err
	}
	var crs *appsv1.ControllerRevisionList
	if len(stss.Items)+len(dss.Items) > 0 {
		if crs, err = listOr(client.AppsV1().ControllerRevisions(ns).List(ctx, all)); err != nil {
			return nil, err
		}
	} else {
		crs = &appsv1.ControllerRevisionList{}
	}
	newApp := func(kind string, m metav1.ObjectMeta) *App {
		return &App{ID: string(m.UID), Name: m.Name, Namespace: m.Namespace, Cluster: cl.Name, Kind: kind,
			CreatedAt: m.CreationTimestamp.UTC(), clusterID: cl.ID, tenant: cl.Tenant}
	}
	var out []*App
	for i := range deps.Items {
		d := &deps.Items[i]
		a := newApp(KindDeployment, d.ObjectMeta)
		a.ready = d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == d.Status.Replicas && d.Status.AvailableReplicas >= d.Status.UpdatedReplicas
		for j := range rss.Items {
			rs := &rss.Items[j]
			if controller(rs.OwnerReferences) != a.ID {
				continue
			}
			rev, _ := strconv.ParseInt(rs.Annotations["deployment.kubernetes.io/revision"], 10, 64)
			a.deployments = append(a.deployments, &Deployment{ID: string(rs.UID), Revision: rev, CreatedAt: rs.CreationTimestamp.UTC(),
				kind: "ReplicaSet", name: rs.Name, Components: containerNames(rs.Spec.Template.Spec.Containers),
				initContainers: containerNames(rs.Spec.Template.Spec.InitContainers)})
		}
		out = append(out, a.finish())
	}
	revisions := func(a *App, tmpl corev1.PodTemplateSpec) {
		for j := range crs.Items {
			cr := &crs.Items[j]
			if controller(cr.OwnerReferences) != a.ID {
				continue
			}
			hashes := []string{cr.Name}
			if h := cr.Labels[appsv1.ControllerRevisionHashLabelKey]; h != "" {
				hashes = append(hashes, h)
			}
			a.deployments = append(a.deployments, &Deployment{ID: string(cr.UID), Revision: cr.Revision, CreatedAt: cr.CreationTimestamp.UTC(),
				kind: "ControllerRevision", name: cr.Name, hashes: hashes, Components: containerNames(tmpl.Spec.Containers),
				initContainers: containerNames(tmpl.Spec.InitContainers)})
		}
	}
	for i := range stss.Items {
		s := &stss.Items[i]
		a := newApp(KindStatefulSet, s.ObjectMeta)
		a.ready = s.Status.UpdateRevision == s.Status.CurrentRevision && s.Status.ReadyReplicas == s.Status.Replicas
		revisions(a, s.Spec.Template)
		out = append(out, a.finish())
	}
	for i := range dss.Items {
		s := &dss.Items[i]
		a := newApp(KindDaemonSet, s.ObjectMeta)
		a.ready = s.Status.UpdatedNumberScheduled == s.Status.DesiredNumberScheduled && s.Status.NumberReady == s.Status.DesiredNumberScheduled
		revisions(a, s.Spec.Template)
		out = append(out, a.finish())
	}
	jobDeployment := func(j *batchv1.Job, rev int64) *Deployment {
		return &Deployment{ID: string(j.UID), Revision: rev, CreatedAt: j.CreationTimestamp.UTC(), kind: KindJob, name: j.Name,
			Components: containerNames(j.Spec.Template.Spec.Containers), initContainers: containerNames(j.Spec.Template.Spec.InitContainers)}
	}
	for i := range jobs.Items {
		j := &jobs.Items[i]
		if controller(j.OwnerReferences) != "" {
			continue // a CronJob's run: one of its deployments
		}
		a := newApp(KindJob, j.ObjectMeta)
		a.ready, a.failed = jobDone(j)
		a.deployments = []*Deployment{jobDeployment(j, 1)}
		out = append(out, a.finish())
	}
	for i := range cjs.Items {
		cj := &cjs.Items[i]
		a := newApp(KindCronJob, cj.ObjectMeta)
		var runs []*batchv1.Job
		for k := range jobs.Items {
			if controller(jobs.Items[k].OwnerReferences) == a.ID {
				runs = append(runs, &jobs.Items[k])
			}
		}
		slices.SortFunc(runs, func(x, y *batchv1.Job) int { return x.CreationTimestamp.Compare(y.CreationTimestamp.Time) })
		for k, j := range runs {
			a.deployments = append(a.deployments, jobDeployment(j, int64(k+1)))
		}
		if n := len(runs); n > 0 {
			a.ready, a.failed = jobDone(runs[n-1])
		}
		out = append(out, a.finish())
	}
	return out, nil
}

// listOr passes a list through, but takes a kind the cluster does not serve
// or the client may not list as none, so that one missing permission does
// not hide the other kinds.
func listOr[T any](l *T, err error) (*T, error) {
	if err != nil && (apierrors.IsForbidden(err) || apierrors.IsNotFound(err)) {
		return new(T), nil
	}
	return l, err
}

// jobDone reports whether a Job completed, and whether it failed.
func jobDone(j *batchv1.Job) (done, failed bool) {
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return true, false
		case batchv1.JobFailed:
			return true, true
		}
	}
	return false, false
}

// finish orders the revisions, links each to the next, and sets phases and
// the active deployment.
func (a *App) finish() *App {
	slices.SortFunc(a.deployments, func(x, y *Deployment) int {
		if x.Revision != y.Revision {
			return int(x.Revision - y.Revision)
		}
		return x.CreatedAt.Compare(y.CreatedAt)
	})
	n := len(a.deployments)
	for i, d := range a.deployments {
		d.Phase = PhaseSuperseded
		if i+1 < n {
			d.next = a.deployments[i+1].CreatedAt
		}
		if d.Components == nil {
			d.Components = []string{}
		}
	}
	if n > 0 {
		last := a.deployments[n-1]
		a.ActiveDeploymentID = last.ID
		switch {
		case a.failed:
			last.Phase = PhaseError
		case a.ready:
			last.Phase = PhaseActive
		default:
			last.Phase = PhaseDeploying
		}
	}
	return a
}

func containerNames(cs []corev1.Container) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}
