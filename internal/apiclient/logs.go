package apiclient

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// Values returns q as a query string's values.
func (q LogsQuery) Values() url.Values {
	v := url.Values{}
	for _, p := range []struct{ name, value string }{
		{"cluster", q.Cluster}, {"namespace", q.Namespace}, {"pod", q.Pod}, {"container", q.Container}, {"level", q.Level},
		{"search", q.Search}, {"regex", q.Regex}, {"start_time", q.StartTime}, {"end_time", q.EndTime}, {"since", q.Since},
		{"direction", q.Direction}, {"cursor", q.Cursor},
	} {
		if p.value != "" {
			v.Set(p.name, p.value)
		}
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.IncludeArchive {
		v.Set("include_archive", "true")
	}
	return v
}

// Logs calls GET /api/v1/logs.
func (c *Client) Logs(ctx context.Context, q LogsQuery) (*LogsPage, error) {
	return get[LogsPage](ctx, c, withQuery(LogsPath, q.Values()))
}

// Search calls POST /api/v1/logs/search.
func (c *Client) Search(ctx context.Context, req SearchRequest) (*LogsPage, error) {
	return send[LogsPage](ctx, c, http.MethodPost, LogsPath+"/search", req)
}

// LogQL calls POST /api/v1/logs/search/logql.
func (c *Client) LogQL(ctx context.Context, req LogQLRequest) (*LogQLResult, error) {
	return send[LogQLResult](ctx, c, http.MethodPost, LogsPath+"/search/logql", req)
}

// Namespaces calls GET /api/v1/logs/namespaces with q (cluster_id, cluster,
// start_time, end_time, since).
func (c *Client) Namespaces(ctx context.Context, q url.Values) (*NamespaceList, error) {
	return get[NamespaceList](ctx, c, withQuery(LogsPath+"/namespaces", q))
}

// Pods calls GET /api/v1/logs/pods with q (as Namespaces, and namespace).
func (c *Client) Pods(ctx context.Context, q url.Values) (*PodList, error) {
	return get[PodList](ctx, c, withQuery(LogsPath+"/pods", q))
}

// Containers calls GET /api/v1/logs/containers with q (as Pods, and pod).
func (c *Client) Containers(ctx context.Context, q url.Values) (*ContainerList, error) {
	return get[ContainerList](ctx, c, withQuery(LogsPath+"/containers", q))
}

// Stats calls GET /api/v1/logs/stats with q.
func (c *Client) Stats(ctx context.Context, q url.Values) (*Stats, error) {
	return get[Stats](ctx, c, withQuery(LogsPath+"/stats", q))
}

// LogMetrics calls GET /api/v1/logs/metrics with q (since, cluster_id,
// namespace, all).
func (c *Client) LogMetrics(ctx context.Context, q url.Values) (*LogMetrics, error) {
	return get[LogMetrics](ctx, c, withQuery(LogsPath+"/metrics", q))
}

// Health calls GET /health, which needs no token. A server that is down
// answers 503, an *Error.
func (c *Client) Health(ctx context.Context) (*Health, error) {
	return get[Health](ctx, c, "/health")
}

// StorageInfo calls GET /api/v1/logs/storage/info; its Tenant is the one
// the client acts in.
func (c *Client) StorageInfo(ctx context.Context) (*StorageInfo, error) {
	return get[StorageInfo](ctx, c, LogsPath+"/storage/info")
}
