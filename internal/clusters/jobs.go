package clusters

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubelog/kubelog/internal/collector"
	"github.com/kubelog/kubelog/internal/logmodel"
)

// JobInput is a job to start.
type JobInput struct {
	Kind string
	// ClusterID is the cluster; empty means the tenant's cluster "default".
	ClusterID string
	Request   JobRequest
}

// validate checks in for its kind.
func (in JobInput) validate() error {
	r := in.Request
	switch {
	case in.Kind != KindBulk && r.Namespace == "":
		return invalid("namespace", "is required")
	case r.Namespace != "" && !dnsLabel.MatchString(r.Namespace):
		return invalid("namespace", "%q is not a namespace name", r.Namespace)
	case len(r.Pods) > 0 && r.LabelSelector != "":
		return invalid("pods", "give pods or label_selector, not both")
	case in.Kind == KindBulk && (len(r.Pods) > 0 || r.LabelSelector != ""):
		return invalid("pods", "a bulk job collects every pod; use POST /collect to choose pods")
	case r.TailLines < 0:
		return invalid("tail_lines", "must not be negative")
	case in.Kind == KindContinuous && (r.TailLines != 0 || !r.SinceTime.IsZero() || r.Previous):
		return invalid("tail_lines", "since_time, since, tail_lines and previous apply to one-time jobs only; a continuous job follows each container from its start")
	}
	for i, p := range r.Pods {
		if p == "" || len(p) > 253 {
			return invalid(fmt.Sprintf("pods[%d]", i), "%q is not a pod name", p)
		}
	}
	for i, c := range r.Containers {
		if !dnsLabel.MatchString(c) {
			return invalid(fmt.Sprintf("containers[%d]", i), "%q is not a container name", c)
		}
	}
	return validSelector("label_selector", r.LabelSelector)
}

// CreateJob saves a job and starts it.
func (s *Service) CreateJob(ctx context.Context, tenant string, in JobInput) (Job, error) {
	if err := in.validate(); err != nil {
		return Job{}, err
	}
	var c ClusterConfig
	var err error
	if in.ClusterID == "" {
		c, err = s.defaultCluster(ctx, tenant)
	} else if c, err = s.db.getCluster(ctx, tenant, in.ClusterID); isNotFound(err) {
		err = invalid("cluster_id", "no cluster %q in this tenant", in.ClusterID)
	}
	if err != nil {
		return Job{}, err
	}
	now := s.clock.Now().UTC()
	j := Job{ID: newID(), Tenant: tenant, ClusterID: c.ID, Kind: in.Kind, Request: in.Request, Status: StatusPending, CreatedAt: now}
	if in.Kind == KindContinuous {
		j.Status, j.StartedAt = StatusRunning, now
	}
	if err := s.db.insertJob(ctx, j); err != nil {
		return j, err
	}
	if in.Kind == KindContinuous {
		return j, s.apply(ctx, c.ID)
	}
	s.runJob(j)
	return j, nil
}

// defaultCluster returns the tenant's cluster named "default".
func (s *Service) defaultCluster(ctx context.Context, tenant string) (ClusterConfig, error) {
	cs, err := s.db.listClusters(ctx, tenant)
	if err != nil {
		return ClusterConfig{}, err
	}
	for _, c := range cs {
		if c.Name == DefaultClusterName {
			return c, nil
		}
	}
	return ClusterConfig{}, invalid("cluster_id", "is required: this tenant has no cluster named %q", DefaultClusterName)
}

// runJob runs a one-time or bulk job in the background.
func (s *Service) runJob(j Job) {
	ctx, cancel := context.WithCancelCause(s.ctx)
	rj := &runningJob{cancel: cancel, done: make(chan struct{})}
	s.mu.Lock()
	s.running[j.ID] = rj
	s.mu.Unlock()
	s.wg.Go(func() {
		defer func() {
			s.mu.Lock()
			delete(s.running, j.ID)
			s.mu.Unlock()
			cancel(nil)
			close(rj.done)
		}()
		s.execute(ctx, j)
	})
}

// runningJob is a one-time or bulk job running here.
type runningJob struct {
	cancel context.CancelCauseFunc
	// done is closed when the job recorded its outcome.
	done chan struct{}
}

// stopJob cancels a running one-time or bulk job with cause; it returns a
// channel closed when the job ended, or nil when the job is not running here.
func (s *Service) stopJob(id string, cause error) <-chan struct{} {
	s.mu.Lock()
	rj, ok := s.running[id]
	s.mu.Unlock()
	if !ok {
		return nil
	}
	rj.cancel(cause)
	return rj.done
}

// execute runs job j to its end and records the outcome. When the service
// closes first, the job stays running in the database and runs again at the
// next Start.
func (s *Service) execute(ctx context.Context, j Job) {
	save := func() {
		if err := s.db.saveJob(context.WithoutCancel(ctx), j); err != nil {
			s.log.Warn("saving job progress failed", "job", j.ID, "err", err)
		}
	}
	j.Status = StatusRunning
	if j.StartedAt.IsZero() {
		j.StartedAt = s.clock.Now().UTC()
	}
	j.Lines, j.Bytes, j.Errors, j.Progress = 0, 0, nil, nil
	save()
	fail := func(err error) {
		j.Status, j.EndedAt = StatusFailed, s.clock.Now().UTC()
		j.Errors = append(j.Errors, err.Error())
		save()
	}
	if err := s.waitReachable(ctx, j.ClusterID); err != nil {
		if ctx.Err() == nil {
			fail(err)
		} else if errors.Is(context.Cause(ctx), errCancelled) {
			j.Status, j.EndedAt = StatusCancelled, s.clock.Now().UTC()
			save()
		}
		return
	}
	namespaces := []string{j.Request.Namespace}
	if j.Request.Namespace == "" {
		client, _, err := s.coll.Client(j.ClusterID)
		if err != nil {
			fail(err)
			return
		}
		list, err := client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		if err != nil {
			if ctx.Err() == nil {
				fail(fmt.Errorf("list namespaces: %w", err))
			}
			return
		}
		namespaces = namespaces[:0]
		for _, ns := range list.Items {
			namespaces = append(namespaces, ns.Name)
		}
		slices.Sort(namespaces)
	}
	for _, ns := range namespaces {
		r := j.Request
		res, err := s.coll.CollectOnce(ctx, j.ClusterID, collector.OnceRequest{Namespace: ns, Pods: r.Pods, LabelSelector: r.LabelSelector,
			Containers: r.Containers, SinceTime: r.SinceTime, TailLines: r.TailLines, Previous: r.Previous})
		for _, one := range res {
			p := PodProgress{Namespace: ns, Pod: one.Pod, Container: one.Container, Lines: one.Lines, Bytes: one.Bytes, Status: StatusSucceeded}
			if one.Err != nil && ctx.Err() == nil {
				p.Status, p.Error = StatusFailed, one.Err.Error()
				j.Errors = append(j.Errors, fmt.Sprintf("%s/%s/%s: %v", ns, one.Pod, one.Container, one.Err))
			}
			j.Lines += one.Lines
			j.Bytes += one.Bytes
			j.Progress = append(j.Progress, p)
		}
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			fail(err)
			return
		}
		save()
	}
	switch {
	case errors.Is(context.Cause(ctx), errCancelled):
		j.Status = StatusCancelled
	case ctx.Err() != nil:
		return // closing: the job runs again at the next start
	case len(j.Errors) > 0:
		j.Status = StatusFailed
	default:
		j.Status = StatusSucceeded
	}
	j.EndedAt = s.clock.Now().UTC()
	save()
}

// waitReachable waits until the cluster answered its API server check, for
// up to Config.ReachTimeout.
func (s *Service) waitReachable(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ReachTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		last := ""
		found := false
		for _, st := range s.coll.Status() {
			if st.ID != id {
				continue
			}
			if st.Reachable {
				return nil
			}
			found, last = true, st.LastError
		}
		if !found {
			return fmt.Errorf("cluster %s is not collected: its config cannot be used", id)
		}
		select {
		case <-ctx.Done():
			if last == "" {
				last = "no answer yet"
			}
			return fmt.Errorf("cluster %s unreachable after %s: %s", id, s.cfg.ReachTimeout, last)
		case <-tick.C:
		}
	}
}

// ListJobs returns the jobs matching f, newest first, with the figures of
// continuous jobs read from the store.
func (s *Service) ListJobs(ctx context.Context, f JobFilter) ([]Job, error) {
	jobs, err := s.db.listJobs(ctx, f)
	if err != nil {
		return nil, err
	}
	for i := range jobs {
		if jobs[i].Kind == KindContinuous {
			s.continuousProgress(ctx, &jobs[i])
		}
	}
	return jobs, nil
}

// GetJob returns one of the tenant's jobs.
func (s *Service) GetJob(ctx context.Context, tenant, id string) (Job, error) {
	j, err := s.db.getJob(ctx, tenant, id)
	if err != nil {
		return j, err
	}
	if j.Kind == KindContinuous {
		s.continuousProgress(ctx, &j)
	}
	return j, nil
}

// ErrFinished is returned, wrapped, when cancelling a job that ended.
var ErrFinished = errors.New("job already finished")

// CancelJob cancels one of the tenant's jobs and returns it.
func (s *Service) CancelJob(ctx context.Context, tenant, id string) (Job, error) {
	j, err := s.db.getJob(ctx, tenant, id)
	if err != nil {
		return j, err
	}
	if j.Finished() {
		return j, fmt.Errorf("job %s is %s: %w", id, j.Status, ErrFinished)
	}
	if done := s.stopJob(id, errCancelled); done != nil {
		select {
		case <-done:
		case <-ctx.Done():
			return j, ctx.Err()
		}
		return s.GetJob(ctx, tenant, id)
	}
	j.Status, j.EndedAt = StatusCancelled, s.clock.Now().UTC()
	if err := s.db.saveJob(ctx, j); err != nil {
		return j, err
	}
	if j.Kind == KindContinuous {
		if err := s.apply(ctx, j.ClusterID); err != nil {
			return j, err
		}
		s.continuousProgress(ctx, &j)
	}
	return j, nil
}

// continuousProgress fills a continuous job's lines, bytes and per-container
// progress from what the store holds for its containers.
func (s *Service) continuousProgress(ctx context.Context, j *Job) {
	c, err := s.db.getCluster(ctx, j.Tenant, j.ClusterID)
	if err != nil {
		return
	}
	ms := []logmodel.Matcher{
		{Type: logmodel.MatchEqual, Name: "cluster", Value: c.Name},
		{Type: logmodel.MatchEqual, Name: "namespace", Value: j.Request.Namespace},
	}
	pods := j.Request.Pods
	if j.Request.LabelSelector != "" {
		if client, _, err := s.coll.Client(j.ClusterID); err == nil {
			if list, err := client.CoreV1().Pods(j.Request.Namespace).List(ctx, metav1.ListOptions{LabelSelector: j.Request.LabelSelector}); err == nil {
				pods = pods[:0:0]
				for _, p := range list.Items {
					pods = append(pods, p.Name)
				}
			}
		}
		if len(pods) == 0 {
			return
		}
	}
	stats, _, err := s.st.StreamStats(ctx, j.Tenant, ms, 0, math.MaxInt64)
	if err != nil {
		return
	}
	status := StatusRunning
	if j.Finished() {
		status = j.Status
	}
	byKey := map[string]int{}
	j.Lines, j.Bytes, j.Progress = 0, 0, nil
	for _, st := range stats {
		pod, container := st.Stream.Labels.Get("pod"), st.Stream.Labels.Get("container")
		if len(pods) > 0 && !slices.Contains(pods, pod) {
			continue
		}
		if len(j.Request.Containers) > 0 && !slices.Contains(j.Request.Containers, container) {
			continue
		}
		k := pod + "/" + container
		i, ok := byKey[k]
		if !ok {
			i = len(j.Progress)
			byKey[k] = i
			j.Progress = append(j.Progress, PodProgress{Namespace: j.Request.Namespace, Pod: pod, Container: container, Status: status})
		}
		j.Progress[i].Lines += int64(st.Entries)
		j.Progress[i].Bytes += int64(st.Bytes)
		j.Lines += int64(st.Entries)
		j.Bytes += int64(st.Bytes)
	}
	slices.SortFunc(j.Progress, func(a, b PodProgress) int {
		if a.Pod != b.Pod {
			return strings.Compare(a.Pod, b.Pod)
		}
		return strings.Compare(a.Container, b.Container)
	})
}
