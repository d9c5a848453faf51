package clusters

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubelog/kubelog/internal/collector"
)

// LiveItem is a namespace, pod or container as a cluster has it now, and
// whether kubelog collects it.
type LiveItem struct {
	Name      string
	Namespace string // pods and containers
	Pod       string // containers
	Collected bool
	// Pods only.
	Phase string
	Node  string
	// Containers only: init, regular or ephemeral; running, terminated or
	// waiting (empty before the container has a status).
	Kind         string
	State        string
	RestartCount *int32
}

// Listing is what a live listing found in a cluster.
type Listing struct {
	// Cluster is the cluster's name, its label on stored streams.
	Cluster string
	Items   []LiveItem
}

// UpstreamError is a call to a cluster's API server that failed.
type UpstreamError struct {
	// Call names it, with the cluster: "cluster prod: list pods".
	Call string
	Err  error
}

func (e *UpstreamError) Error() string { return e.Call + ": " + e.Err.Error() }

func (e *UpstreamError) Unwrap() error { return e.Err }

// liveSource is what a live listing reads: the cluster's client, its config
// and its selections.
type liveSource struct {
	client  kubernetes.Interface
	cluster ClusterConfig
	sels    []collector.Selection
}

func (s *Service) liveSource(ctx context.Context, tenant, id string) (*liveSource, error) {
	client, c, err := s.Client(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	sels, err := s.Selections(ctx, id)
	if err != nil {
		return nil, err
	}
	return &liveSource{client: client, cluster: c, sels: sels}, nil
}

func (ls *liveSource) upstream(call string, err error) error {
	return &UpstreamError{Call: "cluster " + ls.cluster.Name + ": " + call, Err: err}
}

// selects reports whether the container is collected; an invalid stored
// selection counts as not collecting.
func (ls *liveSource) selects(pod *corev1.Pod, name string, init bool) bool {
	ok, err := collector.Selects(ls.sels, pod, name, init)
	return err == nil && ok
}

// pods lists the pods of a namespace ("" for all), or one pod.
func (ls *liveSource) pods(ctx context.Context, ns, name string) ([]corev1.Pod, error) {
	opts := metav1.ListOptions{}
	if name != "" {
		opts.FieldSelector = "metadata.name=" + name
	}
	list, err := ls.client.CoreV1().Pods(ns).List(ctx, opts)
	if err != nil {
		return nil, ls.upstream("list pods", err)
	}
	return list.Items, nil
}

// LiveNamespaces lists the namespaces of a tenant's cluster.
func (s *Service) LiveNamespaces(ctx context.Context, tenant, id string) (*Listing, error) {
	ls, err := s.liveSource(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	list, err := ls.client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, ls.upstream("list namespaces", err)
	}
	out := &Listing{Cluster: ls.cluster.Name}
	for _, ns := range list.Items {
		collected := false
		for _, s := range ls.sels {
			if s.Enabled && (s.Namespace == "*" || s.Namespace == ns.Name) {
				collected = true
			}
		}
		out.Items = append(out.Items, LiveItem{Name: ns.Name, Collected: collected})
	}
	return out, nil
}

// LivePods lists the pods of a namespace ("" for all) of a tenant's
// cluster; a pod is collected when one of its containers is.
func (s *Service) LivePods(ctx context.Context, tenant, id, ns string) (*Listing, error) {
	ls, err := s.liveSource(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	pods, err := ls.pods(ctx, ns, "")
	if err != nil {
		return nil, err
	}
	out := &Listing{Cluster: ls.cluster.Name}
	for i := range pods {
		p := &pods[i]
		collected := false
		for _, c := range podContainers(p) {
			if ls.selects(p, c.name, c.kind == "init") {
				collected = true
			}
		}
		out.Items = append(out.Items, LiveItem{Name: p.Name, Namespace: p.Namespace, Collected: collected,
			Phase: string(p.Status.Phase), Node: p.Spec.NodeName})
	}
	return out, nil
}

// LiveContainers lists the containers of the pods of a namespace ("" for
// all), or of one pod, of a tenant's cluster.
func (s *Service) LiveContainers(ctx context.Context, tenant, id, ns, pod string) (*Listing, error) {
	ls, err := s.liveSource(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	pods, err := ls.pods(ctx, ns, pod)
	if err != nil {
		return nil, err
	}
	out := &Listing{Cluster: ls.cluster.Name}
	for i := range pods {
		p := &pods[i]
		for _, c := range podContainers(p) {
			it := LiveItem{Name: c.name, Namespace: p.Namespace, Pod: p.Name, Collected: ls.selects(p, c.name, c.kind == "init"), Kind: c.kind}
			if st := containerStatus(p, c.name); st != nil {
				rc := st.RestartCount
				it.RestartCount = &rc
				switch {
				case st.State.Running != nil:
					it.State = "running"
				case st.State.Terminated != nil:
					it.State = "terminated"
				default:
					it.State = "waiting"
				}
			}
			out.Items = append(out.Items, it)
		}
	}
	return out, nil
}

// podContainers lists a pod's containers with their kind.
func podContainers(pod *corev1.Pod) []struct{ name, kind string } {
	var out []struct{ name, kind string }
	for _, c := range pod.Spec.InitContainers {
		out = append(out, struct{ name, kind string }{c.Name, "init"})
	}
	for _, c := range pod.Spec.Containers {
		out = append(out, struct{ name, kind string }{c.Name, "regular"})
	}
	for _, c := range pod.Spec.EphemeralContainers {
		out = append(out, struct{ name, kind string }{c.Name, "ephemeral"})
	}
	return out
}

// containerStatus returns the status of a pod's named container, or nil.
func containerStatus(pod *corev1.Pod, name string) *corev1.ContainerStatus {
	for _, sts := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses, pod.Status.EphemeralContainerStatuses} {
		for i := range sts {
			if sts[i].Name == name {
				return &sts[i]
			}
		}
	}
	return nil
}
