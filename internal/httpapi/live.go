package httpapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/kubelog/kubelog/internal/clusters"
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

// live answers a live listing: what the cluster has now (list), merged with
// what the store holds of the cluster's streams ms selects, grouped by key,
// under the name field of the answer.
func (a *API) live(w http.ResponseWriter, r *http.Request, id, field string, ms []logmodel.Matcher,
	list func(ctx context.Context, svc *clusters.Service) (*clusters.Listing, error), key func(logmodel.Labels) (query.Group, bool)) error {
	svc, err := a.clusterService()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), liveTimeout)
	defer cancel()
	l, err := list(ctx, svc)
	var up *clusters.UpstreamError
	switch {
	case errors.As(err, &up):
		return a.upstream(r, up.Call, up.Err)
	case err != nil:
		return clusterErr(err)
	}
	ms = append(ms, logmodel.Matcher{Type: logmodel.MatchEqual, Name: "cluster", Value: l.Cluster})
	groups, err := a.listing(r, ms, key)
	if err != nil {
		return err
	}
	stored := make(map[string]query.Group, len(groups))
	for _, c := range groups {
		stored[groupKey(c)] = c
	}
	items := make([]liveItem, 0, len(l.Items))
	for _, it := range l.Items {
		li := liveItem{Group: query.Group{Name: it.Name, Namespace: it.Namespace, Pod: it.Pod}, Live: true, Collected: it.Collected,
			Phase: it.Phase, Node: it.Node, Kind: it.Kind, State: it.State, RestartCount: it.RestartCount}
		if c, ok := stored[groupKey(li.Group)]; ok {
			li.Entries, li.Bytes, li.Streams = c.Entries, c.Bytes, c.Streams
			delete(stored, groupKey(li.Group))
		}
		items = append(items, li)
	}
	for _, c := range stored {
		items = append(items, liveItem{Group: c})
	}
	slices.SortFunc(items, func(a, b liveItem) int { return strings.Compare(groupKey(a.Group), groupKey(b.Group)) })
	if len(items) == 0 {
		items = nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"cluster_id": id, field: items, "total": len(items)})
	return nil
}

func groupKey(g query.Group) string { return g.Namespace + "\x00" + g.Pod + "\x00" + g.Name }

// liveNamespaces serves GET /api/v1/logs/namespaces?cluster_id=.
func (a *API) liveNamespaces(w http.ResponseWriter, r *http.Request, id string) error {
	return a.live(w, r, id, "namespaces", nil, func(ctx context.Context, svc *clusters.Service) (*clusters.Listing, error) {
		return svc.LiveNamespaces(ctx, tenantOf(r), id)
	}, func(l logmodel.Labels) (query.Group, bool) {
		ns := l.Get("namespace")
		return query.Group{Name: ns}, ns != ""
	})
}

// livePods serves GET /api/v1/logs/pods?cluster_id=&namespace=.
func (a *API) livePods(w http.ResponseWriter, r *http.Request, id string) error {
	ns := queryOf(r).Get("namespace")
	return a.live(w, r, id, "pods", listMatcher("namespace", ns), func(ctx context.Context, svc *clusters.Service) (*clusters.Listing, error) {
		return svc.LivePods(ctx, tenantOf(r), id, ns)
	}, func(l logmodel.Labels) (query.Group, bool) {
		pod := l.Get("pod")
		return query.Group{Name: pod, Namespace: l.Get("namespace")}, pod != ""
	})
}

// liveContainers serves GET /api/v1/logs/containers?cluster_id=&namespace=&pod=.
func (a *API) liveContainers(w http.ResponseWriter, r *http.Request, id string) error {
	v := queryOf(r)
	ns, pod := v.Get("namespace"), v.Get("pod")
	ms := append(listMatcher("namespace", ns), listMatcher("pod", pod)...)
	return a.live(w, r, id, "containers", ms, func(ctx context.Context, svc *clusters.Service) (*clusters.Listing, error) {
		return svc.LiveContainers(ctx, tenantOf(r), id, ns, pod)
	}, func(l logmodel.Labels) (query.Group, bool) {
		c := l.Get("container")
		return query.Group{Name: c, Namespace: l.Get("namespace"), Pod: l.Get("pod")}, c != ""
	})
}
