package httpapi

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubelog/kubelog/internal/clusters"
	"github.com/kubelog/kubelog/internal/collector"
	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/query"
)

// liveTimeout bounds a listing from a cluster.
const liveTimeout = 10 * time.Second

// liveItem is a namespace, pod or container as the live listings show it:
// whether the cluster has it now, whether it is collected, and what the
// store holds of it.
type liveItem struct {
	query.Group
	Live      bool `json:"live"`
	Collected bool `json:"collected"`
	// Pods only.
	Phase string `json:"phase,omitempty"`
	Node  string `json:"node,omitempty"`
	// Containers only.
	Kind         string `json:"kind,omitempty"`
	State        string `json:"state,omitempty"`
	RestartCount *int32 `json:"restart_count,omitempty"`
}

// liveSource is what a live listing reads: the cluster's client, its config
// and its selections.
type liveSource struct {
	client  kubernetes.Interface
	cluster clusters.ClusterConfig
	sels    []collector.Selection
}

func (a *API) liveSource(ctx context.Context, tenant, id string) (*liveSource, error) {
	svc, err := a.clusterService()
	if err != nil {
		return nil, err
	}
	client, c, err := svc.Client(ctx, tenant, id)
	if err != nil {
		return nil, clusterErr(err)
	}
	sels, err := svc.Selections(ctx, id)
	if err != nil {
		return nil, err
	}
	return &liveSource{client: client, cluster: c, sels: sels}, nil
}

// selects reports whether the container is collected; an invalid stored
// selection counts as not collecting.
func (ls *liveSource) selects(pod *corev1.Pod, name string, init bool) bool {
	ok, err := collector.Selects(ls.sels, pod, name, init)
	return err == nil && ok
}

// containers lists a pod's containers with their kind.
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

// storeCounts groups what the store holds of the cluster by key.
func (a *API) storeCounts(r *http.Request, cluster string, ms []logmodel.Matcher, key func(logmodel.Labels) (query.Group, bool)) (map[string]query.Group, error) {
	ms = append(ms, logmodel.Matcher{Type: logmodel.MatchEqual, Name: "cluster", Value: cluster})
	list, err := a.listing(r, ms, key)
	if err != nil {
		return nil, err
	}
	out := make(map[string]query.Group, len(list))
	for _, c := range list {
		out[c.Namespace+"\x00"+c.Pod+"\x00"+c.Name] = c
	}
	return out, nil
}

// merge adds the stored-only items to the live ones, sorted.
func merge(live []liveItem, stored map[string]query.Group) []liveItem {
	for i := range live {
		k := live[i].Namespace + "\x00" + live[i].Pod + "\x00" + live[i].Name
		if c, ok := stored[k]; ok {
			live[i].Entries, live[i].Bytes, live[i].Streams = c.Entries, c.Bytes, c.Streams
			delete(stored, k)
		}
	}
	for _, c := range stored {
		live = append(live, liveItem{Group: c})
	}
	slices.SortFunc(live, func(a, b liveItem) int {
		return strings.Compare(a.Namespace+"\x00"+a.Pod+"\x00"+a.Name, b.Namespace+"\x00"+b.Pod+"\x00"+b.Name)
	})
	return live
}

// liveNamespaces serves GET /api/v1/logs/namespaces?cluster_id=.
func (a *API) liveNamespaces(w http.ResponseWriter, r *http.Request, id string) error {
	ctx, cancel := context.WithTimeout(r.Context(), liveTimeout)
	defer cancel()
	ls, err := a.liveSource(ctx, tenantOf(r), id)
	if err != nil {
		return err
	}
	list, err := ls.client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return a.upstream(r, "cluster "+ls.cluster.Name+": list namespaces", err)
	}
	stored, err := a.storeCounts(r, ls.cluster.Name, nil, func(l logmodel.Labels) (query.Group, bool) {
		ns := l.Get("namespace")
		return query.Group{Name: ns}, ns != ""
	})
	if err != nil {
		return err
	}
	var items []liveItem
	for _, ns := range list.Items {
		collected := false
		for _, s := range ls.sels {
			if s.Enabled && (s.Namespace == "*" || s.Namespace == ns.Name) {
				collected = true
			}
		}
		items = append(items, liveItem{Group: query.Group{Name: ns.Name}, Live: true, Collected: collected})
	}
	items = merge(items, stored)
	writeJSON(w, http.StatusOK, map[string]any{"cluster_id": id, "namespaces": items, "total": len(items)})
	return nil
}

// listLivePods lists the pods of a namespace ("" for all), or one pod.
func (ls *liveSource) pods(ctx context.Context, ns, name string) ([]corev1.Pod, error) {
	if name != "" {
		opts := metav1.ListOptions{FieldSelector: "metadata.name=" + name}
		list, err := ls.client.CoreV1().Pods(ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		return list.Items, nil
	}
	list, err := ls.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

// livePods serves GET /api/v1/logs/pods?cluster_id=&namespace=.
func (a *API) livePods(w http.ResponseWriter, r *http.Request, id string) error {
	ctx, cancel := context.WithTimeout(r.Context(), liveTimeout)
	defer cancel()
	ns := queryOf(r).Get("namespace")
	ls, err := a.liveSource(ctx, tenantOf(r), id)
	if err != nil {
		return err
	}
	pods, err := ls.pods(ctx, ns, "")
	if err != nil {
		return a.upstream(r, "cluster "+ls.cluster.Name+": list pods", err)
	}
	stored, err := a.storeCounts(r, ls.cluster.Name, listMatcher("namespace", ns), func(l logmodel.Labels) (query.Group, bool) {
		pod := l.Get("pod")
		return query.Group{Name: pod, Namespace: l.Get("namespace")}, pod != ""
	})
	if err != nil {
		return err
	}
	var items []liveItem
	for i := range pods {
		p := &pods[i]
		collected := false
		for _, c := range podContainers(p) {
			if ls.selects(p, c.name, c.kind == "init") {
				collected = true
			}
		}
		items = append(items, liveItem{Group: query.Group{Name: p.Name, Namespace: p.Namespace}, Live: true, Collected: collected,
			Phase: string(p.Status.Phase), Node: p.Spec.NodeName})
	}
	items = merge(items, stored)
	writeJSON(w, http.StatusOK, map[string]any{"cluster_id": id, "pods": items, "total": len(items)})
	return nil
}

// liveContainers serves GET /api/v1/logs/containers?cluster_id=&namespace=&pod=.
func (a *API) liveContainers(w http.ResponseWriter, r *http.Request, id string) error {
	ctx, cancel := context.WithTimeout(r.Context(), liveTimeout)
	defer cancel()
	v := queryOf(r)
	ns, podName := v.Get("namespace"), v.Get("pod")
	var ms []logmodel.Matcher
	for _, p := range []struct{ name, value string }{{"namespace", ns}, {"pod", podName}} {
		ms = append(ms, listMatcher(p.name, p.value)...)
	}
	ls, err := a.liveSource(ctx, tenantOf(r), id)
	if err != nil {
		return err
	}
	pods, err := ls.pods(ctx, ns, podName)
	if err != nil {
		return a.upstream(r, "cluster "+ls.cluster.Name+": list pods", err)
	}
	stored, err := a.storeCounts(r, ls.cluster.Name, ms, func(l logmodel.Labels) (query.Group, bool) {
		c := l.Get("container")
		return query.Group{Name: c, Namespace: l.Get("namespace"), Pod: l.Get("pod")}, c != ""
	})
	if err != nil {
		return err
	}
	var items []liveItem
	for i := range pods {
		p := &pods[i]
		for _, c := range podContainers(p) {
			it := liveItem{Group: query.Group{Name: c.name, Namespace: p.Namespace, Pod: p.Name}, Live: true,
				Collected: ls.selects(p, c.name, c.kind == "init"), Kind: c.kind}
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
			items = append(items, it)
		}
	}
	items = merge(items, stored)
	writeJSON(w, http.StatusOK, map[string]any{"cluster_id": id, "containers": items, "total": len(items)})
	return nil
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
