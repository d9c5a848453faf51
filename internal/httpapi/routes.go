package httpapi

import (
	"slices"

	"github.com/kubelog/kubelog/internal/apps"
	"github.com/kubelog/kubelog/internal/auth"
	"github.com/kubelog/kubelog/internal/clusters"
)

// routes registers every route of the API.
func (a *API) routes() {
	const logs = "/api/v1/logs"
	// Each route of kubelog's own surfaces lists the query parameters it
	// takes; any other is a 400 that names it.
	std := func(pattern string, scope auth.Scopes, h handlerFunc, params ...string) {
		a.handle(route{pattern: pattern, scope: scope, class: auth.ClassStandard, limited: true, surface: surfaceLogs, strict: true, params: params}, h)
	}
	heavy := func(pattern string, scope auth.Scopes, h handlerFunc, params ...string) {
		a.handle(route{pattern: pattern, scope: scope, class: auth.ClassHeavy, limited: true, surface: surfaceLogs, strict: true, params: params}, h)
	}
	open := func(pattern string, h handlerFunc, params ...string) {
		a.handle(route{pattern: pattern, surface: surfaceLogs, strict: true, params: params}, h)
	}
	timeRange := []string{"start_time", "end_time", "since"}
	with := func(base []string, more ...string) []string { return append(slices.Clip(base), more...) }
	listing := with(timeRange, "cluster_id", "cluster")
	logsParams := with(timeRange, "cluster", "namespace", "pod", "container", "level", "search", "regex", "limit", "direction", "cursor", "include_archive")

	// Operations at the root: no token, no limit.
	open("GET /health", a.rootHealth)
	open("GET /ready", a.ready_)
	open("GET /api/v1/openapi.json", a.getOpenAPI)
	if a.cfg.PublicMetrics {
		open("GET /metrics", a.promMetrics)
	} else {
		a.handle(route{pattern: "GET /metrics", scope: auth.ScopeAdmin, surface: surfaceLogs}, a.promMetrics)
	}

	// Logs management API (seed: k8s-logs-api.md).
	std("GET "+logs, auth.ScopeRead, a.getLogs, logsParams...)
	std("GET "+logs+"/{$}", auth.ScopeRead, a.getLogs, logsParams...)
	heavy("POST "+logs+"/search", auth.ScopeRead, a.postSearch)
	std("GET "+logs+"/namespaces", auth.ScopeRead, a.getNamespaces, listing...)
	std("GET "+logs+"/pods", auth.ScopeRead, a.getPods, with(listing, "namespace")...)
	std("GET "+logs+"/containers", auth.ScopeRead, a.getContainers, with(listing, "namespace", "pod")...)
	std("GET "+logs+"/stats", auth.ScopeRead, a.getStats, with(timeRange, "cluster", "namespace", "pod", "container", "level", "interval", "top")...)
	std("GET "+logs+"/metrics", auth.ScopeRead, a.getLogMetrics, "since", "cluster_id", "namespace", "all")
	std("GET "+logs+"/health", auth.ScopeRead, a.getHealth)
	std("GET "+logs+"/storage/info", auth.ScopeRead, a.getStorageInfo)
	std("GET "+logs+"/tokens", auth.ScopeAdmin, a.listTokens, "all")
	std("POST "+logs+"/tokens", auth.ScopeAdmin, a.createToken)
	std("DELETE "+logs+"/tokens", auth.ScopeAdmin, a.revokeToken, "id", "all")
	std("DELETE "+logs+"/tokens/{id}", auth.ScopeAdmin, a.revokeToken, "all")
	std("GET "+logs+"/tenants/{tenant}/limits", auth.ScopeAdmin, a.getLimits)
	std("PUT "+logs+"/tenants/{tenant}/limits", auth.ScopeAdmin, a.putLimits)
	std("POST "+logs+"/tail/sessions", auth.ScopeRead, a.createSession)
	std("GET "+logs+"/tail/sessions", auth.ScopeRead, a.listSessions, "userUuid", "active")
	std("GET "+logs+"/tail/sessions/{id}", auth.ScopeRead, a.getSession)
	std("PATCH "+logs+"/tail/sessions/{id}", auth.ScopeRead, a.patchSession)
	std("DELETE "+logs+"/tail/sessions/{id}", auth.ScopeRead, a.deleteSession)
	std("GET "+logs+"/tail/sessions/{id}/stream", auth.ScopeRead, a.streamSession, "cursor")
	// Archive to S3 (seed: "Archive Management", "S3 Storage"; archive.go, s3.go).
	std("GET "+logs+"/archive/policies", auth.ScopeManage, a.listArchivePolicies, "id")
	std("GET "+logs+"/archive/policies/{id}", auth.ScopeManage, a.listArchivePolicies)
	std("POST "+logs+"/archive/policies", auth.ScopeManage, a.createArchivePolicy)
	std("PUT "+logs+"/archive/policies", auth.ScopeManage, a.updateArchivePolicy, "id")
	std("PUT "+logs+"/archive/policies/{id}", auth.ScopeManage, a.updateArchivePolicy)
	std("DELETE "+logs+"/archive/policies", auth.ScopeManage, a.deleteArchivePolicy, "id")
	std("DELETE "+logs+"/archive/policies/{id}", auth.ScopeManage, a.deleteArchivePolicy)
	heavy("POST "+logs+"/archive/start", auth.ScopeManage, a.startArchive)
	std("GET "+logs+"/archive/jobs", auth.ScopeManage, a.listArchiveJobs, "policy_id", "status", "limit")
	std("GET "+logs+"/archive/jobs/{id}", auth.ScopeManage, a.getArchiveJob)
	std("DELETE "+logs+"/archive/jobs/{id}", auth.ScopeManage, a.cancelArchiveJob)
	std("GET "+logs+"/s3/metadata", auth.ScopeRead, a.getS3Metadata, with(timeRange, "limit", "policy_id", "cluster", "namespace", "pod", "container", "cursor")...)
	heavy("GET "+logs+"/s3/content", auth.ScopeRead, a.getS3Content, "key", "format", "limit", "cursor", "search")
	std("GET "+logs+"/s3/stats", auth.ScopeRead, a.getS3Stats)
	// Clusters, collection configs and collection jobs (package clusters).
	std("GET "+logs+"/clusters/configs", auth.ScopeManage, a.listClusterConfigs, "id")
	std("POST "+logs+"/clusters/configs", auth.ScopeManage, a.createClusterConfig)
	std("PUT "+logs+"/clusters/configs", auth.ScopeManage, a.updateClusterConfig, "id")
	std("PUT "+logs+"/clusters/configs/{id}", auth.ScopeManage, a.updateClusterConfig)
	std("DELETE "+logs+"/clusters/configs", auth.ScopeManage, a.deleteClusterConfig, "id")
	std("DELETE "+logs+"/clusters/configs/{id}", auth.ScopeManage, a.deleteClusterConfig)
	std("GET "+logs+"/clusters/status", auth.ScopeRead, a.getClusterStatus)
	std("POST "+logs+"/clusters/refresh", auth.ScopeManage, a.refreshClusters, "cluster_id")
	std("GET "+logs+"/clusters/{clusterId}/metrics", auth.ScopeRead, a.getClusterMetrics)
	std("GET "+logs+"/config", auth.ScopeManage, a.listCollectionConfigs, "id", "cluster_id", "namespace")
	std("GET "+logs+"/config/{id}", auth.ScopeManage, a.listCollectionConfigs)
	std("POST "+logs+"/config", auth.ScopeManage, a.createCollectionConfig)
	std("PUT "+logs+"/config", auth.ScopeManage, a.updateCollectionConfig, "id")
	std("PUT "+logs+"/config/{id}", auth.ScopeManage, a.updateCollectionConfig)
	std("DELETE "+logs+"/config", auth.ScopeManage, a.deleteCollectionConfig, "id")
	std("DELETE "+logs+"/config/{id}", auth.ScopeManage, a.deleteCollectionConfig)
	std("POST "+logs+"/config/bulk-update", auth.ScopeManage, a.bulkUpdateCollectionConfigs)
	std("POST "+logs+"/config/disable", auth.ScopeManage, a.disableNamespace)
	std("POST "+logs+"/config/disable/cluster", auth.ScopeManage, a.disableCluster)
	heavy("POST "+logs+"/collect", auth.ScopeManage, a.startJob(clusters.KindOnce))
	std("POST "+logs+"/collect/continuous", auth.ScopeManage, a.startJob(clusters.KindContinuous))
	heavy("POST "+logs+"/collect/bulk", auth.ScopeManage, a.startJob(clusters.KindBulk))
	std("GET "+logs+"/collect/jobs", auth.ScopeManage, a.listCollectJobs, "cluster_id", "status", "limit")
	std("GET "+logs+"/collect/jobs/{id}", auth.ScopeManage, a.getCollectJob)
	std("DELETE "+logs+"/collect/jobs/{id}", auth.ScopeManage, a.cancelCollectJob)

	// Anything else under the logs API is a JSON 404 (or a 405 naming the
	// methods the path takes), not the mux's text.
	open(logs, a.unmatched(logs, "no such endpoint"))
	open(logs+"/", a.unmatched(logs+"/", "no such endpoint"))

	heavy("POST "+logs+"/search/logql", auth.ScopeRead, a.logqlSearch)

	// Loki-compatible query API.
	loki := func(pattern string, class auth.Class, h handlerFunc) {
		a.handle(route{pattern: pattern, scope: auth.ScopeRead, class: class, limited: true, surface: surfaceLoki}, h)
	}
	const lv1 = "/loki/api/v1"
	for _, m := range []string{"GET ", "POST "} {
		loki(m+lv1+"/query", auth.ClassLokiHeavy, a.lokiQuery)
		loki(m+lv1+"/query_range", auth.ClassLokiHeavy, a.lokiQueryRange)
		loki(m+lv1+"/labels", auth.ClassLoki, a.lokiLabels)
		loki(m+lv1+"/label/{name}/values", auth.ClassLoki, a.lokiLabelValues)
		loki(m+lv1+"/series", auth.ClassLoki, a.lokiSeries)
		loki(m+lv1+"/index/stats", auth.ClassLokiHeavy, a.lokiIndexStats)
		loki(m+lv1+"/index/volume", auth.ClassLokiHeavy, a.lokiVolume(false))
		loki(m+lv1+"/index/volume_range", auth.ClassLokiHeavy, a.lokiVolume(true))
		loki(m+lv1+"/format_query", auth.ClassLoki, a.lokiFormatQuery)
	}
	loki("GET "+lv1+"/status/buildinfo", auth.ClassLoki, a.lokiBuildInfo)
	loki("GET "+lv1+"/tail", auth.ClassLokiHeavy, a.lokiTail)

	// Loki-compatible push.
	a.handle(route{pattern: "POST /loki/api/v1/push", scope: auth.ScopeWrite, class: auth.ClassPush, surface: surfaceLoki}, a.push)
	// Loki's ingester flush: the head is written to parts and merged.
	a.handle(route{pattern: "POST /flush", scope: auth.ScopeAdmin, class: auth.ClassHeavy, limited: true, surface: surfaceLoki}, a.flush)

	// App deployment logs (seed: app-deployment-logs.md); errors {"id","message"}.
	std("GET /v2/apps", auth.ScopeRead, a.listApps)
	std("GET /v2/apps/{app_id}", auth.ScopeRead, a.getApp)
	std("GET /v2/apps/{app_id}/deployments", auth.ScopeRead, a.listAppDeployments)
	std("GET /v2/apps/{app_id}/deployments/{deployment_id}", auth.ScopeRead, a.getAppDeployment)
	appLogs := []string{"type", "follow", "pod_connection_timeout"}
	std("GET /v2/apps/{app_id}/deployments/{deployment_id}/components/{component_name}/logs", auth.ScopeRead, a.getAppLogs, appLogs...)
	std("GET /v2/apps/{app_id}/deployments/{deployment_id}/logs", auth.ScopeRead, a.getAppLogs, appLogs...)
	std("GET /v2/apps/{app_id}/logs", auth.ScopeRead, a.getAppLogs, appLogs...)
	// Signed links: the token in the URL authenticates, no bearer token.
	open("GET "+apps.DownloadPath, a.downloadAppLogs, "token")
	open("GET "+apps.LivePath, a.liveAppLogs, "token")
	open("/v2/", a.unmatched("/v2/", "The resource you requested could not be found."))
	// Kubernetes-style API group tilt.dev/v1alpha1: PodLogStream objects
	// (seed: podlogstream-api.md), served by package kapi. Discovery needs no
	// token and is not limited; errors are Status objects.
	if a.kube != nil {
		for _, p := range []string{"/api", "/apis", "/apis/tilt.dev", "/apis/tilt.dev/v1alpha1", "/version", "/openapi/v3", "/openapi/v3/apis/tilt.dev/v1alpha1"} {
			a.handle(route{pattern: "GET " + p, surface: surfaceKube}, a.kubeDiscovery)
		}
		kube := func(pattern string, scope auth.Scopes) {
			a.handle(route{pattern: pattern, scope: scope, class: auth.ClassKube, limited: true, surface: surfaceKube}, a.kubeResource)
		}
		const pls = "/apis/tilt.dev/v1alpha1/podlogstreams"
		for _, p := range []string{pls, pls + "/{name}", pls + "/{name}/status"} {
			kube("GET "+p, auth.ScopeRead)
			kube("POST "+p, auth.ScopeManage)
			kube("PUT "+p, auth.ScopeManage)
			kube("PATCH "+p, auth.ScopeManage)
			kube("DELETE "+p, auth.ScopeManage)
		}
		// Anything else under /apis is a Status 404 (or 405), not the mux's text.
		kube("/apis/", auth.ScopeRead)
	}
}
