package apiclient

import (
	"github.com/kubelog/kubelog/internal/apps"
	"github.com/kubelog/kubelog/internal/archive"
	"github.com/kubelog/kubelog/internal/auth"
	"github.com/kubelog/kubelog/internal/clusters"
	"github.com/kubelog/kubelog/internal/logmodel"
)

// The types the server marshals as they are; aliases, so that a change of
// the server's type is a change of the client's.
type (
	// Entry is a log entry (DESIGN.md "Entry JSON").
	Entry = logmodel.EntryJSON
	// ArchiveQueryStats counts the archived objects a query read with
	// include_archive.
	ArchiveQueryStats = archive.QueryStats
	// Policy is an archive policy; its destination's secret is redacted.
	Policy = archive.Policy
	// Destination is an archive policy's bucket.
	Destination = archive.Destination
	// ArchiveJob is one run of an archive policy.
	ArchiveJob = archive.Job
	// ArchiveProgress is an archive job's progress.
	ArchiveProgress = archive.Progress
	// Object is an archived object.
	Object = archive.Object
	// ArchiveTotals are counts over a set of archived objects.
	ArchiveTotals = archive.Totals
	// Reachability is whether an archive destination answers.
	Reachability = archive.Reachability
	// Limits are a tenant's limits.
	Limits = auth.Limits
	// PodProgress is a collection job's progress on one container.
	PodProgress = clusters.PodProgress
	// App is a Kubernetes workload of /v2/apps.
	App = apps.App
	// Deployment is one rollout of an app.
	Deployment = apps.Deployment
	// AppLogs are the links of GET /v2/apps/.../logs.
	AppLogs = apps.LogsResponse
)

// ErrorBody is the error answer of kubelog's own surfaces.
type ErrorBody struct {
	ID        string `json:"id"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
}

// LogsPage is a page of GET /api/v1/logs or POST /api/v1/logs/search.
// NextCursor continues the same query when HasMore.
type LogsPage struct {
	Logs       []Entry    `json:"logs"`
	HasMore    bool       `json:"has_more"`
	NextCursor string     `json:"next_cursor"`
	Stats      QueryStats `json:"stats"`
}

// QueryStats are the figures of one query.
type QueryStats struct {
	ScannedBytes  int64   `json:"scanned_bytes"`
	ScannedLines  int64   `json:"scanned_lines"`
	BlocksScanned int     `json:"blocks_scanned"`
	BlocksSkipped int     `json:"blocks_skipped"`
	TookMs        float64 `json:"took_ms"`
	// ArchiveQueryStats is set with include_archive.
	*ArchiveQueryStats
}

// LogsQuery are the parameters of GET /api/v1/logs; empty ones are left
// out.
type LogsQuery struct {
	Cluster, Namespace, Pod, Container, Level string
	Search, Regex                             string
	StartTime, EndTime, Since                 string
	// Limit 0 leaves the server's default.
	Limit     int
	Direction string
	Cursor    string
	// IncludeArchive is sent as include_archive=true.
	IncludeArchive bool
}

// Filters are the filters of a search.
type Filters struct {
	Cluster   string `json:"cluster,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Pod       string `json:"pod,omitempty"`
	Container string `json:"container,omitempty"`
	Level     string `json:"level,omitempty"`
	Search    string `json:"search,omitempty"`
	Regex     string `json:"regex,omitempty"`
}

// SearchRequest is the body of POST /api/v1/logs/search.
type SearchRequest struct {
	Query          string  `json:"query,omitempty"`
	Filters        Filters `json:"filters,omitzero"`
	StartTime      string  `json:"start_time,omitempty"`
	EndTime        string  `json:"end_time,omitempty"`
	Since          string  `json:"since,omitempty"`
	Limit          *int    `json:"limit,omitempty"`
	Direction      string  `json:"direction,omitempty"`
	Cursor         string  `json:"cursor,omitempty"`
	IncludeArchive bool    `json:"include_archive,omitempty"`
}

// LogQLRequest is the body of POST /api/v1/logs/search/logql. Start and
// End are Loki's names of StartTime and EndTime.
type LogQLRequest struct {
	Query          string `json:"query"`
	StartTime      string `json:"start_time,omitempty"`
	EndTime        string `json:"end_time,omitempty"`
	Start          string `json:"start,omitempty"`
	End            string `json:"end,omitempty"`
	Limit          *int   `json:"limit,omitempty"`
	Direction      string `json:"direction,omitempty"`
	Step           string `json:"step,omitempty"`
	IncludeArchive bool   `json:"include_archive,omitempty"`
}

// LogQLResult is the answer of POST /api/v1/logs/search/logql: Logs for a
// log query (ResultType "streams"), Series for a metric one ("matrix").
type LogQLResult struct {
	ResultType string        `json:"result_type"`
	Logs       []Entry       `json:"logs,omitempty"`
	Series     []LogQLSeries `json:"series,omitempty"`
	Stats      LogQLStats    `json:"stats"`
}

// LogQLSeries is one series of a metric query.
type LogQLSeries struct {
	Labels map[string]string `json:"labels"`
	Values []LogQLPoint      `json:"values"`
}

// LogQLPoint is one point of a series.
type LogQLPoint struct {
	Timestamp string  `json:"timestamp"`
	Value     float64 `json:"value"`
}

// LogQLStats are the figures of a LogQL query.
type LogQLStats struct {
	ScannedLines int64   `json:"scanned_lines"`
	ScannedBytes int64   `json:"scanned_bytes"`
	TookMs       float64 `json:"took_ms"`
}

// ListItem is a namespace, pod or container of the listings. The live
// fields are set when the listing names a cluster_id.
type ListItem struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	Pod       string `json:"pod,omitempty"`
	Entries   uint64 `json:"entries"`
	Bytes     uint64 `json:"bytes"`
	Streams   int    `json:"streams"`
	// Live: the cluster has it now; Collected: a collection config takes it.
	Live      bool   `json:"live,omitempty"`
	Collected bool   `json:"collected,omitempty"`
	Phase     string `json:"phase,omitempty"`
	Node      string `json:"node,omitempty"`
	Kind      string `json:"kind,omitempty"`
	State     string `json:"state,omitempty"`
	// RestartCount is set for the containers of a live listing.
	RestartCount *int32 `json:"restart_count,omitempty"`
}

// NamespaceList is the answer of GET /api/v1/logs/namespaces.
type NamespaceList struct {
	ClusterID  string     `json:"cluster_id,omitempty"`
	Namespaces []ListItem `json:"namespaces"`
	Total      int        `json:"total"`
}

// PodList is the answer of GET /api/v1/logs/pods.
type PodList struct {
	ClusterID string     `json:"cluster_id,omitempty"`
	Pods      []ListItem `json:"pods"`
	Total     int        `json:"total"`
}

// ContainerList is the answer of GET /api/v1/logs/containers.
type ContainerList struct {
	ClusterID  string     `json:"cluster_id,omitempty"`
	Containers []ListItem `json:"containers"`
	Total      int        `json:"total"`
}

// Stats is the answer of GET /api/v1/logs/stats.
type Stats struct {
	StartTime   string            `json:"start_time,omitempty"`
	EndTime     string            `json:"end_time,omitempty"`
	TotalLines  uint64            `json:"total_lines"`
	TotalBytes  uint64            `json:"total_bytes"`
	ByLevel     map[string]uint64 `json:"by_level"`
	ByNamespace map[string]uint64 `json:"by_namespace"`
	TopPods     []PodCount        `json:"top_pods"`
	Interval    string            `json:"interval,omitempty"`
	Histogram   []HistogramBucket `json:"histogram,omitempty"`
}

// PodCount is a pod's line count.
type PodCount struct {
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	Lines     uint64 `json:"lines"`
}

// HistogramBucket is the line count of one interval.
type HistogramBucket struct {
	Time  string `json:"time"`
	Lines uint64 `json:"lines"`
}

// LogMetrics is the answer of GET /api/v1/logs/metrics.
type LogMetrics struct {
	Since   string          `json:"since"`
	Tenants []TenantMetrics `json:"tenants"`
}

// TenantMetrics are one tenant's ingest rates and figures over the window.
type TenantMetrics struct {
	Tenant               string  `json:"tenant"`
	IngestLinesPerSecond float64 `json:"ingest_lines_per_second"`
	IngestBytesPerSecond float64 `json:"ingest_bytes_per_second"`
	LinesSinceStart      uint64  `json:"lines_since_start"`
	BytesSinceStart      uint64  `json:"bytes_since_start"`
	RejectedLines        uint64  `json:"rejected_lines"`
	FailedPushes         uint64  `json:"failed_pushes"`
	RateLimitedRequests  uint64  `json:"rate_limited_requests"`
	WindowLines          uint64  `json:"window_lines"`
	WindowBytes          uint64  `json:"window_bytes"`
	WindowRate           float64 `json:"window_lines_per_second"`
	ActiveStreams        int     `json:"active_streams"`
	ErrorLines           uint64  `json:"error_lines"`
}

// Health is the answer of GET /health and GET /api/v1/logs/health.
type Health struct {
	Status        string                     `json:"status"`
	Version       string                     `json:"version"`
	UptimeSeconds float64                    `json:"uptime_seconds"`
	Components    map[string]ComponentHealth `json:"components"`
}

// ComponentHealth is one component's condition.
type ComponentHealth struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
	Since   string `json:"since,omitempty"`
}

// Ready is the answer of GET /ready.
type Ready struct {
	Status string `json:"status"`
}

// StorageInfo is the answer of GET /api/v1/logs/storage/info. Path and
// Disk are there for admin tokens; ArchiveDestinations when the archive is
// on.
type StorageInfo struct {
	Tenant              string               `json:"tenant"`
	Bytes               int64                `json:"bytes"`
	RawBytes            uint64               `json:"raw_bytes"`
	Parts               int                  `json:"parts"`
	Entries             uint64               `json:"entries"`
	Streams             int                  `json:"streams"`
	CompressionRatio    float64              `json:"compression_ratio"`
	Retention           string               `json:"retention"`
	OldestTime          string               `json:"oldest_time"`
	NewestTime          string               `json:"newest_time"`
	Path                string               `json:"path,omitempty"`
	Disk                *StorageDisk         `json:"disk,omitempty"`
	ArchiveDestinations []ArchiveDestination `json:"archive_destinations,omitempty"`
}

// StorageDisk is the disk use of the whole server.
type StorageDisk struct {
	PartBytes    int64 `json:"part_bytes"`
	WALBytes     int64 `json:"wal_bytes"`
	TotalBytes   int64 `json:"total_bytes"`
	CorruptParts int64 `json:"corrupt_parts"`
}

// ArchiveDestination is one archive policy's bucket with its reachability
// and usage.
type ArchiveDestination struct {
	PolicyID     string        `json:"policy_id"`
	PolicyName   string        `json:"policy_name"`
	Endpoint     string        `json:"endpoint"`
	Bucket       string        `json:"bucket"`
	Prefix       string        `json:"prefix"`
	Region       string        `json:"region"`
	Reachability Reachability  `json:"reachability"`
	Usage        ArchiveTotals `json:"usage"`
}

// Token is an API token; Token (the secret) is only in the answer of its
// creation.
type Token struct {
	ID         string `json:"id"`
	Tenant     string `json:"tenant"`
	Name       string `json:"name"`
	Scopes     string `json:"scopes"`
	CreatedAt  string `json:"created_at"`
	ExpiresAt  string `json:"expires_at,omitempty"`
	RevokedAt  string `json:"revoked_at,omitempty"`
	LastUsedAt string `json:"last_used_at,omitempty"`
	Token      string `json:"token,omitempty"`
}

// TokenList is the answer of GET /api/v1/logs/tokens.
type TokenList struct {
	Tokens []Token `json:"tokens"`
}

// TokenRequest is the body of POST /api/v1/logs/tokens. Scopes is a comma
// list; ExpiresIn a duration.
type TokenRequest struct {
	Tenant    string `json:"tenant,omitempty"`
	Name      string `json:"name,omitempty"`
	Scopes    string `json:"scopes"`
	ExpiresIn string `json:"expires_in,omitempty"`
}

// Revoked is the answer of revoking a token.
type Revoked struct {
	ID      string `json:"id"`
	Revoked bool   `json:"revoked"`
}

// Deleted is the answer of deleting a policy, a cluster or a collection
// config.
type Deleted struct {
	ID      string `json:"id"`
	Deleted bool   `json:"deleted"`
}

// TenantLimits is the answer of GET and PUT /api/v1/logs/tenants/{tenant}/limits.
type TenantLimits struct {
	Tenant string `json:"tenant"`
	Limits Limits `json:"limits"`
}

// Session is a tail session, in the seed's camelCase.
type Session struct {
	ID         string `json:"id"`
	TenantID   string `json:"tenantId"`
	UserUUID   string `json:"userUuid"`
	Filter     string `json:"filter"`
	Service    string `json:"service"`
	LastCursor string `json:"lastCursor"`
	CreatedAt  string `json:"createdAt"`
	Active     bool   `json:"active"`
}

// SessionRequest is the body of POST /api/v1/logs/tail/sessions.
type SessionRequest struct {
	TenantID   string `json:"tenantId"`
	UserUUID   string `json:"userUuid"`
	Filter     string `json:"filter,omitempty"`
	Service    string `json:"service,omitempty"`
	LastCursor string `json:"lastCursor,omitempty"`
}

// SessionPatch is the body of PATCH /api/v1/logs/tail/sessions/{id}; nil
// fields are left as they are.
type SessionPatch struct {
	Filter  *string `json:"filter,omitempty"`
	Service *string `json:"service,omitempty"`
}

// SessionList is the answer of GET /api/v1/logs/tail/sessions.
type SessionList struct {
	Sessions []Session `json:"sessions"`
	Total    int       `json:"total"`
}

// Gap is the data of a tail stream's "gap" event: retention deleted the
// entries between After and Next.
type Gap struct {
	After   string `json:"after"`
	Next    string `json:"next"`
	Missing uint64 `json:"missing"`
	Message string `json:"message"`
}

// PolicyRequest is the body of creating or updating an archive policy;
// nil fields are left out (an update keeps them).
type PolicyRequest struct {
	ID                 string              `json:"id,omitempty"`
	Name               *string             `json:"name,omitempty"`
	Tenant             string              `json:"tenant,omitempty"`
	Selector           *string             `json:"selector,omitempty"`
	OlderThan          *string             `json:"older_than,omitempty"`
	Schedule           *string             `json:"schedule,omitempty"`
	Compression        *string             `json:"compression,omitempty"`
	Destination        *DestinationRequest `json:"destination,omitempty"`
	DeleteAfterArchive *bool               `json:"delete_after_archive,omitempty"`
	Enabled            *bool               `json:"enabled,omitempty"`
}

// DestinationRequest is a policy's destination in a request.
type DestinationRequest struct {
	Endpoint        *string `json:"endpoint,omitempty"`
	Region          *string `json:"region,omitempty"`
	Bucket          *string `json:"bucket,omitempty"`
	Prefix          *string `json:"prefix,omitempty"`
	AccessKeyID     *string `json:"access_key_id,omitempty"`
	SecretAccessKey *string `json:"secret_access_key,omitempty"`
	PathStyle       *bool   `json:"path_style,omitempty"`
	TLS             *bool   `json:"tls,omitempty"`
}

// PolicyList is the answer of GET /api/v1/logs/archive/policies.
type PolicyList struct {
	Policies []Policy `json:"policies"`
	Total    int      `json:"total"`
}

// ArchiveStart is the body of POST /api/v1/logs/archive/start; empty
// times leave the policy's defaults.
type ArchiveStart struct {
	PolicyID  string `json:"policy_id"`
	StartTime string `json:"start_time,omitempty"`
	EndTime   string `json:"end_time,omitempty"`
}

// ArchiveJobList is the answer of GET /api/v1/logs/archive/jobs.
type ArchiveJobList struct {
	Jobs  []ArchiveJob `json:"jobs"`
	Total int          `json:"total"`
}

// ObjectList is a page of GET /api/v1/logs/s3/metadata.
type ObjectList struct {
	Objects    []Object `json:"objects"`
	Total      int      `json:"total"`
	HasMore    bool     `json:"has_more"`
	NextCursor string   `json:"next_cursor"`
}

// ObjectContent is a page of GET /api/v1/logs/s3/content.
type ObjectContent struct {
	Key        string  `json:"key"`
	Object     Object  `json:"object"`
	Logs       []Entry `json:"logs"`
	HasMore    bool    `json:"has_more"`
	NextCursor string  `json:"next_cursor"`
}

// ArchiveStats is the answer of GET /api/v1/logs/s3/stats.
type ArchiveStats struct {
	Total       ArchiveTotals            `json:"total"`
	ByPolicy    map[string]ArchiveTotals `json:"by_policy"`
	ByNamespace map[string]ArchiveTotals `json:"by_namespace"`
}

// Cluster is a registered cluster; Kubeconfig is never answered with its
// credentials.
type Cluster struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Tenant     string `json:"tenant"`
	Kubeconfig string `json:"kubeconfig,omitempty"`
	InCluster  bool   `json:"in_cluster"`
	Context    string `json:"context"`
	CreatedAt  string `json:"created_at"`
	UpdatedAt  string `json:"updated_at"`
}

// ClusterRequest is the body of creating or updating a cluster; nil fields
// are left out.
type ClusterRequest struct {
	Name       *string `json:"name,omitempty"`
	Kubeconfig *string `json:"kubeconfig,omitempty"`
	InCluster  *bool   `json:"in_cluster,omitempty"`
	Context    *string `json:"context,omitempty"`
}

// ClusterList is the answer of GET /api/v1/logs/clusters/configs.
type ClusterList struct {
	Clusters []Cluster `json:"clusters"`
	Total    int       `json:"total"`
}

// ClusterStatus is one cluster's condition.
type ClusterStatus struct {
	ClusterID      string  `json:"cluster_id"`
	Name           string  `json:"name"`
	Reachable      bool    `json:"reachable"`
	ServerVersion  string  `json:"server_version"`
	LastError      string  `json:"last_error,omitempty"`
	LastErrorAt    string  `json:"last_error_at,omitempty"`
	PodsWatched    int     `json:"pods_watched"`
	StreamsActive  int     `json:"streams_active"`
	LinesPerSecond float64 `json:"lines_per_second"`
	LinesCollected int64   `json:"lines_collected"`
	BytesCollected int64   `json:"bytes_collected"`
}

// ClusterStatusList is the answer of GET /api/v1/logs/clusters/status;
// Reachable counts the clusters that answer.
type ClusterStatusList struct {
	Clusters  []ClusterStatus `json:"clusters"`
	Total     int             `json:"total"`
	Reachable int             `json:"reachable"`
}

// ClusterRefresh is the answer of POST /api/v1/logs/clusters/refresh.
type ClusterRefresh struct {
	Refreshed   []string `json:"refreshed"`
	Total       int      `json:"total"`
	RefreshedAt string   `json:"refreshed_at"`
}

// ClusterMetrics is the answer of GET /api/v1/logs/clusters/{clusterId}/metrics.
type ClusterMetrics struct {
	ClusterID                string  `json:"cluster_id"`
	Name                     string  `json:"name"`
	Reachable                bool    `json:"reachable"`
	ServerVersion            string  `json:"server_version"`
	PodsWatched              int     `json:"pods_watched"`
	StreamsActive            int     `json:"streams_active"`
	LinesPerSecond           float64 `json:"lines_per_second"`
	LinesCollected           int64   `json:"lines_collected"`
	BytesCollected           int64   `json:"bytes_collected"`
	LastError                string  `json:"last_error"`
	LastErrorAt              string  `json:"last_error_at"`
	CollectionConfigs        int     `json:"collection_configs"`
	CollectionConfigsEnabled int     `json:"collection_configs_enabled"`
	JobsRunning              int     `json:"jobs_running"`
	Timestamp                string  `json:"timestamp"`
}

// CollectionConfig decides what of a cluster is collected.
type CollectionConfig struct {
	ID               string   `json:"id"`
	ClusterID        string   `json:"cluster_id"`
	Namespace        string   `json:"namespace"`
	LabelSelector    string   `json:"label_selector"`
	OnlyContainers   []string `json:"only_containers"`
	IgnoreContainers []string `json:"ignore_containers"`
	IncludeInit      bool     `json:"include_init"`
	Enabled          bool     `json:"enabled"`
	CreatedAt        string   `json:"created_at"`
	UpdatedAt        string   `json:"updated_at"`
}

// CollectionRequest is the body of creating or updating a collection
// config; nil fields are left out.
type CollectionRequest struct {
	ClusterID        *string   `json:"cluster_id,omitempty"`
	Namespace        *string   `json:"namespace,omitempty"`
	LabelSelector    *string   `json:"label_selector,omitempty"`
	OnlyContainers   *[]string `json:"only_containers,omitempty"`
	IgnoreContainers *[]string `json:"ignore_containers,omitempty"`
	IncludeInit      *bool     `json:"include_init,omitempty"`
	Enabled          *bool     `json:"enabled,omitempty"`
}

// CollectionList is the answer of GET /api/v1/logs/config.
type CollectionList struct {
	Configs []CollectionConfig `json:"configs"`
	Total   int                `json:"total"`
}

// BulkUpdate is the body of POST /api/v1/logs/config/bulk-update.
type BulkUpdate struct {
	IDs     []string `json:"ids"`
	Enabled *bool    `json:"enabled,omitempty"`
}

// BulkUpdated is the answer of POST /api/v1/logs/config/bulk-update.
type BulkUpdated struct {
	Updated int                `json:"updated"`
	Configs []CollectionConfig `json:"configs"`
}

// Disable is the body of POST /api/v1/logs/config/disable (a namespace)
// and /config/disable/cluster (Namespace unused); an empty ClusterID is
// the tenant's cluster "default".
type Disable struct {
	ClusterID string `json:"cluster_id,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// Disabled is the answer of the disable calls; Namespace is set by
// /config/disable.
type Disabled struct {
	ClusterID string             `json:"cluster_id"`
	Namespace string             `json:"namespace,omitempty"`
	Disabled  int                `json:"disabled"`
	Configs   []CollectionConfig `json:"configs"`
}

// CollectJob is a collection job.
type CollectJob struct {
	ID            string        `json:"id"`
	Type          string        `json:"type"`
	ClusterID     string        `json:"cluster_id"`
	Namespace     string        `json:"namespace"`
	Pods          []string      `json:"pods,omitempty"`
	LabelSelector string        `json:"label_selector,omitempty"`
	Containers    []string      `json:"containers,omitempty"`
	SinceTime     string        `json:"since_time,omitempty"`
	TailLines     int64         `json:"tail_lines,omitempty"`
	Previous      bool          `json:"previous"`
	Status        string        `json:"status"`
	Lines         int64         `json:"lines"`
	Bytes         int64         `json:"bytes"`
	Errors        []string      `json:"errors"`
	Progress      []PodProgress `json:"progress"`
	CreatedAt     string        `json:"created_at"`
	StartedAt     string        `json:"started_at,omitempty"`
	EndedAt       string        `json:"ended_at,omitempty"`
}

// CollectRequest is the body of POST /api/v1/logs/collect,
// /collect/continuous and /collect/bulk.
type CollectRequest struct {
	ClusterID     string   `json:"cluster_id,omitempty"`
	Namespace     string   `json:"namespace,omitempty"`
	Pod           string   `json:"pod,omitempty"`
	Pods          []string `json:"pods,omitempty"`
	LabelSelector string   `json:"label_selector,omitempty"`
	Containers    []string `json:"containers,omitempty"`
	Container     string   `json:"container,omitempty"`
	SinceTime     string   `json:"since_time,omitempty"`
	Since         string   `json:"since,omitempty"`
	TailLines     *int64   `json:"tail_lines,omitempty"`
	Previous      bool     `json:"previous,omitempty"`
}

// CollectJobList is the answer of GET /api/v1/logs/collect/jobs.
type CollectJobList struct {
	Jobs    []CollectJob `json:"jobs"`
	Total   int          `json:"total"`
	HasMore bool         `json:"has_more"`
}

// AppList is the answer of GET /v2/apps.
type AppList struct {
	Apps []App `json:"apps"`
	Meta Meta  `json:"meta"`
}

// Meta is the meta object of the /v2/apps listings.
type Meta struct {
	Total int `json:"total"`
}

// AppAnswer is the answer of GET /v2/apps/{app_id}.
type AppAnswer struct {
	App App `json:"app"`
}

// DeploymentList is the answer of GET /v2/apps/{app_id}/deployments.
type DeploymentList struct {
	Deployments []Deployment `json:"deployments"`
	Meta        Meta         `json:"meta"`
}

// DeploymentAnswer is the answer of GET /v2/apps/{app_id}/deployments/{deployment_id}.
type DeploymentAnswer struct {
	Deployment Deployment `json:"deployment"`
}

// LiveLine is one message of an app's live_url.
type LiveLine struct {
	Data string `json:"data"`
}
