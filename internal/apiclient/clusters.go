package apiclient

import (
	"context"
	"net/http"
	"net/url"
)

// Clusters calls GET /api/v1/logs/clusters/configs.
func (c *Client) Clusters(ctx context.Context) (*ClusterList, error) {
	return get[ClusterList](ctx, c, LogsPath+"/clusters/configs")
}

// Cluster calls GET /api/v1/logs/clusters/configs?id=.
func (c *Client) Cluster(ctx context.Context, id string) (*Cluster, error) {
	return get[Cluster](ctx, c, withQuery(LogsPath+"/clusters/configs", url.Values{"id": {id}}))
}

// CreateCluster calls POST /api/v1/logs/clusters/configs.
func (c *Client) CreateCluster(ctx context.Context, req ClusterRequest) (*Cluster, error) {
	return send[Cluster](ctx, c, http.MethodPost, LogsPath+"/clusters/configs", req)
}

// UpdateCluster calls PUT /api/v1/logs/clusters/configs/{id}.
func (c *Client) UpdateCluster(ctx context.Context, id string, req ClusterRequest) (*Cluster, error) {
	return send[Cluster](ctx, c, http.MethodPut, LogsPath+"/clusters/configs/"+escape(id), req)
}

// DeleteCluster calls DELETE /api/v1/logs/clusters/configs/{id}.
func (c *Client) DeleteCluster(ctx context.Context, id string) (*Deleted, error) {
	return send[Deleted](ctx, c, http.MethodDelete, LogsPath+"/clusters/configs/"+escape(id), nil)
}

// ClusterStatus calls GET /api/v1/logs/clusters/status.
func (c *Client) ClusterStatus(ctx context.Context) (*ClusterStatusList, error) {
	return get[ClusterStatusList](ctx, c, LogsPath+"/clusters/status")
}

// RefreshClusters calls POST /api/v1/logs/clusters/refresh: one cluster,
// or every one with an empty id.
func (c *Client) RefreshClusters(ctx context.Context, id string) (*ClusterRefresh, error) {
	q := url.Values{}
	if id != "" {
		q.Set("cluster_id", id)
	}
	return send[ClusterRefresh](ctx, c, http.MethodPost, withQuery(LogsPath+"/clusters/refresh", q), nil)
}

// ClusterMetrics calls GET /api/v1/logs/clusters/{clusterId}/metrics.
func (c *Client) ClusterMetrics(ctx context.Context, id string) (*ClusterMetrics, error) {
	return get[ClusterMetrics](ctx, c, LogsPath+"/clusters/"+escape(id)+"/metrics")
}

// CollectionConfigs calls GET /api/v1/logs/config with q (cluster_id,
// namespace).
func (c *Client) CollectionConfigs(ctx context.Context, q url.Values) (*CollectionList, error) {
	return get[CollectionList](ctx, c, withQuery(LogsPath+"/config", q))
}

// CollectionConfig calls GET /api/v1/logs/config/{id}.
func (c *Client) CollectionConfig(ctx context.Context, id string) (*CollectionConfig, error) {
	return get[CollectionConfig](ctx, c, LogsPath+"/config/"+escape(id))
}

// CreateCollectionConfig calls POST /api/v1/logs/config.
func (c *Client) CreateCollectionConfig(ctx context.Context, req CollectionRequest) (*CollectionConfig, error) {
	return send[CollectionConfig](ctx, c, http.MethodPost, LogsPath+"/config", req)
}

// UpdateCollectionConfig calls PUT /api/v1/logs/config/{id}.
func (c *Client) UpdateCollectionConfig(ctx context.Context, id string, req CollectionRequest) (*CollectionConfig, error) {
	return send[CollectionConfig](ctx, c, http.MethodPut, LogsPath+"/config/"+escape(id), req)
}

// DeleteCollectionConfig calls DELETE /api/v1/logs/config/{id}.
func (c *Client) DeleteCollectionConfig(ctx context.Context, id string) (*Deleted, error) {
	return send[Deleted](ctx, c, http.MethodDelete, LogsPath+"/config/"+escape(id), nil)
}

// BulkUpdateCollectionConfigs calls POST /api/v1/logs/config/bulk-update.
func (c *Client) BulkUpdateCollectionConfigs(ctx context.Context, req BulkUpdate) (*BulkUpdated, error) {
	return send[BulkUpdated](ctx, c, http.MethodPost, LogsPath+"/config/bulk-update", req)
}

// DisableNamespace calls POST /api/v1/logs/config/disable.
func (c *Client) DisableNamespace(ctx context.Context, req Disable) (*Disabled, error) {
	return send[Disabled](ctx, c, http.MethodPost, LogsPath+"/config/disable", req)
}

// DisableCluster calls POST /api/v1/logs/config/disable/cluster.
func (c *Client) DisableCluster(ctx context.Context, clusterID string) (*Disabled, error) {
	return send[Disabled](ctx, c, http.MethodPost, LogsPath+"/config/disable/cluster", Disable{ClusterID: clusterID})
}

// Collection job kinds: the path under /api/v1/logs/collect of each.
const (
	CollectOnce       = ""
	CollectContinuous = "/continuous"
	CollectBulk       = "/bulk"
)

// Collect starts a collection job of kind (CollectOnce, CollectContinuous
// or CollectBulk) with POST /api/v1/logs/collect[kind].
func (c *Client) Collect(ctx context.Context, kind string, req CollectRequest) (*CollectJob, error) {
	return send[CollectJob](ctx, c, http.MethodPost, LogsPath+"/collect"+kind, req)
}

// CollectJobs calls GET /api/v1/logs/collect/jobs with q (cluster_id,
// status, limit).
func (c *Client) CollectJobs(ctx context.Context, q url.Values) (*CollectJobList, error) {
	return get[CollectJobList](ctx, c, withQuery(LogsPath+"/collect/jobs", q))
}

// CollectJob calls GET /api/v1/logs/collect/jobs/{id}.
func (c *Client) CollectJob(ctx context.Context, id string) (*CollectJob, error) {
	return get[CollectJob](ctx, c, LogsPath+"/collect/jobs/"+escape(id))
}

// CancelCollectJob calls DELETE /api/v1/logs/collect/jobs/{id}.
func (c *Client) CancelCollectJob(ctx context.Context, id string) (*CollectJob, error) {
	return send[CollectJob](ctx, c, http.MethodDelete, LogsPath+"/collect/jobs/"+escape(id), nil)
}
