package collector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// OnceRequest is a one-time collection: read what the chosen containers have
// logged so far, store it, and stop.
type OnceRequest struct {
	// Namespace holds the pods.
	Namespace string
	// Pods names the pods; when empty, LabelSelector selects them (empty
	// selects every pod of the namespace).
	Pods          []string
	LabelSelector string
	// Containers names the containers; empty means all, init and ephemeral
	// ones included.
	Containers []string
	// SinceTime, when not zero, skips lines older than it (to the second, as
	// the logs API takes it); TailLines, when positive, keeps only each
	// container's last TailLines lines.
	SinceTime time.Time
	TailLines int64
	// Previous reads each container's previous (terminated) instance.
	Previous bool
}

// OnceResult is what a one-time collection did for one container.
type OnceResult struct {
	Pod, Container string
	// Lines and Bytes count the entries stored and their line bytes.
	Lines, Bytes int64
	// Err is why the container's log could not be read entirely, or nil.
	Err error
}

// CollectOnce runs a one-time collection in a cluster added with AddCluster
// and returns, once every container is read, what it did per container. It
// uses the cluster's pod informer and stream slots, and saves no resume
// point: entries that continuous collection also stores are kept once by the
// store when they are identical, which holds unless SinceTime or TailLines
// cut into lines sharing a timestamp (their ordinals then differ).
func (m *Manager) CollectOnce(ctx context.Context, clusterID string, req OnceRequest) ([]OnceResult, error) {
	c, err := m.cluster(clusterID)
	if err != nil {
		return nil, err
	}
	if req.Namespace == "" {
		return nil, errors.New("collect once: namespace is required")
	}
	sel, err := labels.Parse(req.LabelSelector)
	if err != nil {
		return nil, fmt.Errorf("collect once: label selector: %w", err)
	}
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return nil, fmt.Errorf("collect once: pods of cluster %s not synced: %w", clusterID, ctx.Err())
	}
	var pods []*corev1.Pod
	if len(req.Pods) > 0 {
		for _, name := range req.Pods {
			pod, err := c.pods.Pods(req.Namespace).Get(name)
			if err != nil {
				return nil, fmt.Errorf("collect once: pod %s/%s: %w", req.Namespace, name, err)
			}
			pods = append(pods, pod)
		}
	} else if pods, err = c.pods.Pods(req.Namespace).List(sel); err != nil {
		return nil, fmt.Errorf("collect once: list pods: %w", err)
	}

	var streams []*stream
	for _, pod := range pods {
		for _, st := range podStatuses(pod) {
			if len(req.Containers) > 0 && !slices.Contains(req.Containers, st.Name) {
				continue
			}
			restart := st.RestartCount
			if req.Previous {
				if restart == 0 {
					continue
				}
				restart--
			}
			id := currentID(&st)
			if req.Previous && st.LastTerminationState.Terminated != nil {
				id = st.LastTerminationState.Terminated.ContainerID
			}
			inst := c.newInstance(pod, st.Name, restart, id)
			inst.key = "" // no resume point
			streams = append(streams, &stream{c: c, inst: inst, labels: entryLabels(c.spec.Name, pod, st.Name)})
		}
	}
	results := make([]OnceResult, len(streams))
	var wg sync.WaitGroup
	for i, s := range streams {
		wg.Go(func() {
			results[i] = s.once(ctx, req)
		})
	}
	wg.Wait()
	return results, ctx.Err()
}

// podStatuses returns the statuses of a pod's init, regular and ephemeral
// containers.
func podStatuses(pod *corev1.Pod) []corev1.ContainerStatus {
	return slices.Concat(pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses, pod.Status.EphemeralContainerStatuses)
}

// once reads the instance's log without follow, within a stream slot.
func (s *stream) once(ctx context.Context, req OnceRequest) OnceResult {
	res := OnceResult{Pod: s.inst.pod, Container: s.inst.container}
	if !s.acquire(ctx) {
		res.Err = ctx.Err()
		return res
	}
	defer s.release()
	opts := &corev1.PodLogOptions{Container: s.inst.container, Timestamps: true, Previous: req.Previous}
	if !req.SinceTime.IsZero() {
		since := metav1.NewTime(req.SinceTime)
		opts.SinceTime = &since
	}
	if req.TailLines > 0 {
		opts.TailLines = &req.TailLines
	}
	res.Err = s.follow(ctx, opts)
	res.Lines, res.Bytes = s.storedLines, s.storedBytes
	return res
}
