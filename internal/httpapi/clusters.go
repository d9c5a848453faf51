package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/kubelog/kubelog/internal/apiclient"
	"github.com/kubelog/kubelog/internal/auth"
	"github.com/kubelog/kubelog/internal/clusters"
	"github.com/kubelog/kubelog/internal/collector"
)

// redacted stands for credentials in every answer.
const redacted = "<redacted>"

// clusterJSON is a cluster config as the API shows it.
type clusterJSON struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Tenant     string `json:"tenant"`
	Kubeconfig string `json:"kubeconfig,omitempty"`
	InCluster  bool   `json:"in_cluster"`
	Context    string `json:"context"`
	CreatedAt  string `json:"created_at"`
	UpdatedAt  string `json:"updated_at"`
}

func toClusterJSON(c clusters.ClusterConfig) clusterJSON {
	out := clusterJSON{ID: c.ID, Name: c.Name, Tenant: c.Tenant, InCluster: c.InCluster, Context: c.Context,
		CreatedAt: timeOrEmpty(c.CreatedAt), UpdatedAt: timeOrEmpty(c.UpdatedAt)}
	if c.Kubeconfig != "" {
		out.Kubeconfig = redacted
	}
	return out
}

// clusterRequest is the body of POST and PUT /clusters/configs.
type clusterRequest struct {
	Name       *string `json:"name"`
	Kubeconfig *string `json:"kubeconfig"`
	InCluster  *bool   `json:"in_cluster"`
	Context    *string `json:"context"`
}

// input is the request's cluster input; admin says whether the token is
// an admin's, which alone may set in_cluster.
func (r clusterRequest) input(admin bool) clusters.ClusterInput {
	return clusters.ClusterInput{Name: r.Name, Kubeconfig: r.Kubeconfig, InCluster: r.InCluster, Context: r.Context, Admin: admin}
}

// isAdmin reports whether the request's token holds the admin scope.
func isAdmin(r *http.Request) bool {
	p := info(r).principal
	return p != nil && p.Require(auth.ScopeAdmin) == nil
}

// clusterService returns the clusters service or a 503 when the server runs
// without one.
func (a *API) clusterService() (*clusters.Service, error) {
	if a.clusters == nil {
		return nil, errorf(http.StatusServiceUnavailable, "unavailable", "collection from Kubernetes is not running on this server")
	}
	return a.clusters, nil
}

// clusterErr maps the clusters package's errors to API errors.
func clusterErr(err error) error {
	var inv *clusters.InvalidError
	var ce *clusters.ConnectError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &inv):
		return badRequest("%s", inv.Error())
	case errors.As(err, &ce):
		return errorf(http.StatusBadRequest, ce.Reason, "%s", ce.Error())
	case errors.Is(err, clusters.ErrInClusterForbidden):
		return forbidden("%v", err)
	case errors.Is(err, clusters.ErrFinished):
		return conflict("%v", err)
	case errors.Is(err, collector.ErrUnknownCluster):
		return errorf(http.StatusServiceUnavailable, "unavailable", "%v", err)
	}
	return err
}

// requestObjectID returns the id a request addresses: in the path ({id}) or
// as ?id=; empty when it has neither.
func requestObjectID(r *http.Request) string {
	if id := r.PathValue("id"); id != "" {
		return id
	}
	return queryOf(r).Get("id")
}

// idParam returns the id from the path or ?id=, which must be there.
func idParam(r *http.Request, what string) (string, error) {
	id := requestObjectID(r)
	if id == "" {
		return "", badRequest("id: the %s id is required, in the path or as ?id=", what)
	}
	return id, nil
}

// clusterServiceAndID returns the cluster service and the id (of a what)
// that r addresses, in the path or as ?id=.
func (a *API) clusterServiceAndID(r *http.Request, what string) (*clusters.Service, string, error) {
	svc, err := a.clusterService()
	if err != nil {
		return nil, "", err
	}
	id, err := idParam(r, what)
	if err != nil {
		return nil, "", err
	}
	return svc, id, nil
}

// listClusterConfigs serves GET /api/v1/logs/clusters/configs (one with
// ?id= or /configs/{id}).
func (a *API) listClusterConfigs(w http.ResponseWriter, r *http.Request) error {
	svc, err := a.clusterService()
	if err != nil {
		return err
	}
	if id := requestObjectID(r); id != "" {
		c, err := svc.GetCluster(r.Context(), tenantOf(r), id)
		if err != nil {
			return clusterErr(err)
		}
		writeJSON(w, http.StatusOK, toClusterJSON(c))
		return nil
	}
	cs, err := svc.ListClusters(r.Context(), tenantOf(r))
	if err != nil {
		return err
	}
	out := make([]clusterJSON, 0, len(cs))
	for _, c := range cs {
		out = append(out, toClusterJSON(c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"clusters": out, "total": len(out)})
	return nil
}

// createClusterConfig serves POST /api/v1/logs/clusters/configs.
func (a *API) createClusterConfig(w http.ResponseWriter, r *http.Request) error {
	svc, err := a.clusterService()
	if err != nil {
		return err
	}
	var req clusterRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	c, err := svc.CreateCluster(r.Context(), tenantOf(r), req.input(isAdmin(r)))
	if err != nil {
		return clusterErr(err)
	}
	writeJSON(w, http.StatusCreated, toClusterJSON(c))
	return nil
}

// updateClusterConfig serves PUT /api/v1/logs/clusters/configs?id= (and
// /configs/{id}).
func (a *API) updateClusterConfig(w http.ResponseWriter, r *http.Request) error {
	svc, id, err := a.clusterServiceAndID(r, "cluster")
	if err != nil {
		return err
	}
	var req clusterRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	c, err := svc.UpdateCluster(r.Context(), tenantOf(r), id, req.input(isAdmin(r)))
	if err != nil {
		return clusterErr(err)
	}
	writeJSON(w, http.StatusOK, toClusterJSON(c))
	return nil
}

// deleteClusterConfig serves DELETE /api/v1/logs/clusters/configs?id= (and
// /configs/{id}).
func (a *API) deleteClusterConfig(w http.ResponseWriter, r *http.Request) error {
	svc, id, err := a.clusterServiceAndID(r, "cluster")
	if err != nil {
		return err
	}
	if err := svc.DeleteCluster(r.Context(), tenantOf(r), id); err != nil {
		return clusterErr(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "deleted": true})
	return nil
}

// toStatusJSON is one cluster's collection state as the API shows it.
func toStatusJSON(st collector.ClusterStatus) apiclient.ClusterStatus {
	return apiclient.ClusterStatus{ClusterID: st.ID, Name: st.Name, Reachable: st.Reachable, ServerVersion: st.ServerVersion,
		LastError: st.LastError, LastErrorAt: timeOrEmpty(st.LastErrorAt), PodsWatched: st.PodsWatched,
		StreamsActive: st.StreamsActive, LinesPerSecond: st.LinesPerSec, LinesCollected: st.LinesCollected, BytesCollected: st.BytesCollected}
}

// getClusterStatus serves GET /api/v1/logs/clusters/status.
func (a *API) getClusterStatus(w http.ResponseWriter, r *http.Request) error {
	svc, err := a.clusterService()
	if err != nil {
		return err
	}
	sts, err := svc.Status(r.Context(), tenantOf(r))
	if err != nil {
		return err
	}
	out := make([]apiclient.ClusterStatus, 0, len(sts))
	healthy := 0
	for _, st := range sts {
		out = append(out, toStatusJSON(st))
		if st.Reachable {
			healthy++
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"clusters": out, "total": len(out), "reachable": healthy})
	return nil
}

// refreshClusters serves POST /api/v1/logs/clusters/refresh: one cluster
// (body {"cluster_id"} or ?cluster_id=) or all of the tenant's.
func (a *API) refreshClusters(w http.ResponseWriter, r *http.Request) error {
	svc, err := a.clusterService()
	if err != nil {
		return err
	}
	var req struct {
		ClusterID string `json:"cluster_id"`
	}
	if r.ContentLength != 0 {
		if err := decodeBody(r, &req); err != nil {
			return err
		}
	}
	if q := queryOf(r).Get("cluster_id"); q != "" {
		req.ClusterID = q
	}
	ids, err := svc.Refresh(r.Context(), tenantOf(r), req.ClusterID)
	if err != nil {
		return clusterErr(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"refreshed": ids, "total": len(ids), "refreshed_at": timeOrEmpty(a.clock.Now())})
	return nil
}

// getClusterMetrics serves GET /api/v1/logs/clusters/{clusterId}/metrics.
func (a *API) getClusterMetrics(w http.ResponseWriter, r *http.Request) error {
	svc, err := a.clusterService()
	if err != nil {
		return err
	}
	id := r.PathValue("clusterId")
	c, err := svc.GetCluster(r.Context(), tenantOf(r), id)
	if err != nil {
		return clusterErr(err)
	}
	sts, err := svc.Status(r.Context(), tenantOf(r))
	if err != nil {
		return err
	}
	var st apiclient.ClusterStatus
	for _, s := range sts {
		if s.ID == c.ID {
			st = toStatusJSON(s)
		}
	}
	cfgs, err := svc.ListCollections(r.Context(), clusters.CollectionFilter{Tenant: tenantOf(r), ClusterID: c.ID})
	if err != nil {
		return err
	}
	enabled := 0
	for _, cc := range cfgs {
		if cc.Enabled {
			enabled++
		}
	}
	jobs, err := svc.ListJobs(r.Context(), clusters.JobFilter{Tenant: tenantOf(r), ClusterID: c.ID, Status: clusters.StatusRunning})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"cluster_id": c.ID, "name": c.Name, "reachable": st.Reachable, "server_version": st.ServerVersion,
		"pods_watched": st.PodsWatched, "streams_active": st.StreamsActive, "lines_per_second": st.LinesPerSecond,
		"lines_collected": st.LinesCollected, "bytes_collected": st.BytesCollected,
		"last_error": st.LastError, "last_error_at": st.LastErrorAt,
		"collection_configs": len(cfgs), "collection_configs_enabled": enabled, "jobs_running": len(jobs),
		"timestamp": a.clock.Now().UTC().Format(time.RFC3339Nano),
	})
	return nil
}

// clusterHealth is the "clusters" component of /health: degraded while a
// cluster does not answer. It names no cluster, since /health needs no
// token.
func (a *API) clusterHealth() (componentHealth, bool) {
	if a.clusters == nil {
		return componentHealth{}, false
	}
	bad, total := a.clusters.Unreachable()
	if bad == 0 {
		return componentHealth{Status: healthOK}, true
	}
	return componentHealth{Status: healthDegraded, Message: fmt.Sprintf("%d of %d clusters unreachable; GET /api/v1/logs/clusters/status tells which", bad, total)}, true
}
