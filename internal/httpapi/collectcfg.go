package httpapi

import (
	"context"
	"net/http"

	"github.com/kubelog/kubelog/internal/apiclient"
	"github.com/kubelog/kubelog/internal/clusters"
)

// toCollectionJSON is a collection config as the API shows it.
func toCollectionJSON(c clusters.CollectionConfig) apiclient.CollectionConfig {
	out := apiclient.CollectionConfig{ID: c.ID, ClusterID: c.ClusterID, Namespace: c.Namespace, LabelSelector: c.LabelSelector,
		OnlyContainers: c.OnlyContainers, IgnoreContainers: c.IgnoreContainers, IncludeInit: c.IncludeInit, Enabled: c.Enabled,
		CreatedAt: timeOrEmpty(c.CreatedAt), UpdatedAt: timeOrEmpty(c.UpdatedAt)}
	if out.OnlyContainers == nil {
		out.OnlyContainers = []string{}
	}
	if out.IgnoreContainers == nil {
		out.IgnoreContainers = []string{}
	}
	return out
}

func toCollectionsJSON(cs []clusters.CollectionConfig) []apiclient.CollectionConfig {
	out := make([]apiclient.CollectionConfig, 0, len(cs))
	for _, c := range cs {
		out = append(out, toCollectionJSON(c))
	}
	return out
}

// collectionRequest is the body of POST and PUT /config.
type collectionRequest struct {
	ClusterID        *string   `json:"cluster_id"`
	Namespace        *string   `json:"namespace"`
	LabelSelector    *string   `json:"label_selector"`
	OnlyContainers   *[]string `json:"only_containers"`
	IgnoreContainers *[]string `json:"ignore_containers"`
	IncludeInit      *bool     `json:"include_init"`
	Enabled          *bool     `json:"enabled"`
}

func (r collectionRequest) input() clusters.CollectionInput {
	return clusters.CollectionInput{ClusterID: r.ClusterID, Namespace: r.Namespace, LabelSelector: r.LabelSelector,
		OnlyContainers: r.OnlyContainers, IgnoreContainers: r.IgnoreContainers, IncludeInit: r.IncludeInit, Enabled: r.Enabled}
}

// listCollectionConfigs serves GET /api/v1/logs/config?cluster_id=&namespace=
// (one with ?id= or /config/{id}).
func (a *API) listCollectionConfigs(w http.ResponseWriter, r *http.Request) error {
	svc, err := a.clusterService()
	if err != nil {
		return err
	}
	if id := requestObjectID(r); id != "" {
		c, err := svc.GetCollection(r.Context(), tenantOf(r), id)
		if err != nil {
			return clusterErr(err)
		}
		writeJSON(w, http.StatusOK, toCollectionJSON(c))
		return nil
	}
	v := queryOf(r)
	cs, err := svc.ListCollections(r.Context(), clusters.CollectionFilter{Tenant: tenantOf(r), ClusterID: v.Get("cluster_id"), Namespace: v.Get("namespace")})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"configs": toCollectionsJSON(cs), "total": len(cs)})
	return nil
}

// createCollectionConfig serves POST /api/v1/logs/config. Without
// cluster_id it applies to the tenant's cluster "default".
func (a *API) createCollectionConfig(w http.ResponseWriter, r *http.Request) error {
	svc, err := a.clusterService()
	if err != nil {
		return err
	}
	var req collectionRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.ClusterID == nil || *req.ClusterID == "" {
		id, err := svc.ResolveClusterID(r.Context(), tenantOf(r), "")
		if err != nil {
			return clusterErr(err)
		}
		req.ClusterID = &id
	}
	c, err := svc.CreateCollection(r.Context(), tenantOf(r), req.input())
	if err != nil {
		return clusterErr(err)
	}
	writeJSON(w, http.StatusCreated, toCollectionJSON(c))
	return nil
}

// updateCollectionConfig serves PUT /api/v1/logs/config?id= (and
// /config/{id}); fields left out keep their value.
func (a *API) updateCollectionConfig(w http.ResponseWriter, r *http.Request) error {
	svc, id, err := a.clusterServiceAndID(r, "collection config")
	if err != nil {
		return err
	}
	var req collectionRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	c, err := svc.UpdateCollection(r.Context(), tenantOf(r), id, req.input())
	if err != nil {
		return clusterErr(err)
	}
	writeJSON(w, http.StatusOK, toCollectionJSON(c))
	return nil
}

// deleteCollectionConfig serves DELETE /api/v1/logs/config?id= (and
// /config/{id}).
func (a *API) deleteCollectionConfig(w http.ResponseWriter, r *http.Request) error {
	svc, id, err := a.clusterServiceAndID(r, "collection config")
	if err != nil {
		return err
	}
	if err := svc.DeleteCollection(r.Context(), tenantOf(r), id); err != nil {
		return clusterErr(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "deleted": true})
	return nil
}

// bulkUpdateCollectionConfigs serves POST /api/v1/logs/config/bulk-update:
// {"ids": [...], "enabled": bool}.
func (a *API) bulkUpdateCollectionConfigs(w http.ResponseWriter, r *http.Request) error {
	svc, err := a.clusterService()
	if err != nil {
		return err
	}
	var req struct {
		IDs     []string `json:"ids"`
		Enabled *bool    `json:"enabled"`
	}
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	switch {
	case len(req.IDs) == 0:
		return badRequest("ids: at least one collection config id is required")
	case len(req.IDs) > 1000:
		return badRequest("ids: at most 1000 at once")
	case req.Enabled == nil:
		return badRequest("enabled: is required (true or false)")
	}
	cs, err := svc.SetEnabled(r.Context(), tenantOf(r), req.IDs, *req.Enabled)
	if err != nil {
		return clusterErr(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"updated": len(cs), "configs": toCollectionsJSON(cs)})
	return nil
}

// disableNamespace serves POST /api/v1/logs/config/disable:
// {"cluster_id", "namespace"} disables that namespace's configs.
func (a *API) disableNamespace(w http.ResponseWriter, r *http.Request) error {
	svc, err := a.clusterService()
	if err != nil {
		return err
	}
	var req struct {
		ClusterID string `json:"cluster_id"`
		Namespace string `json:"namespace"`
	}
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.Namespace == "" {
		return badRequest("namespace: is required")
	}
	disable := func(ctx context.Context, tenant, id string) ([]clusters.CollectionConfig, error) {
		return svc.DisableNamespace(ctx, tenant, id, req.Namespace)
	}
	return disableConfigs(w, r, svc, req.ClusterID, disable, map[string]any{"namespace": req.Namespace})
}

// disableCluster serves POST /api/v1/logs/config/disable/cluster:
// {"cluster_id"} disables every config of the cluster.
func (a *API) disableCluster(w http.ResponseWriter, r *http.Request) error {
	svc, err := a.clusterService()
	if err != nil {
		return err
	}
	var req struct {
		ClusterID string `json:"cluster_id"`
	}
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.ClusterID == "" {
		return badRequest("cluster_id: is required")
	}
	return disableConfigs(w, r, svc, req.ClusterID, svc.DisableCluster, map[string]any{})
}

// disableConfigs resolves clusterID (empty: the tenant's cluster "default"),
// disables configs of that cluster with disable and answers them, their
// count and the cluster id along with answer's fields.
func disableConfigs(w http.ResponseWriter, r *http.Request, svc *clusters.Service, clusterID string, disable func(ctx context.Context, tenant, id string) ([]clusters.CollectionConfig, error), answer map[string]any) error {
	id, err := svc.ResolveClusterID(r.Context(), tenantOf(r), clusterID)
	if err != nil {
		return clusterErr(err)
	}
	cs, err := disable(r.Context(), tenantOf(r), id)
	if err != nil {
		return clusterErr(err)
	}
	answer["cluster_id"] = id
	answer["disabled"] = len(cs)
	answer["configs"] = toCollectionsJSON(cs)
	writeJSON(w, http.StatusOK, answer)
	return nil
}
