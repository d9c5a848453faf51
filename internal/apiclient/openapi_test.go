package apiclient

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/timeparse"
)

// The server's OpenAPI document is generated from the wire types of this
// package and the operations below; TestOpenAPIDocument fails while the
// committed file differs from what they give. Regenerate it with
//
//	go test ./internal/apiclient -run TestOpenAPIDocument -update
var update = flag.Bool("update", false, "rewrite the OpenAPI document")

const documentPath = "../httpapi/openapi.json"

// op is one operation of the document.
type op struct {
	method, path string
	// scope is the token scope the route needs; "" for none.
	scope   string
	summary string
	// query lists the query parameters the route declares.
	query []string
	// body is the request body's type; nil for none.
	body any
	// optionalBody: the body may be left out.
	optionalBody bool
	// partial: the body's fields may each be left out, keeping their
	// values.
	partial bool
	// ok is the success status and its answer's type; a string is a
	// content type of a text body.
	status int
	answer any
	// more are further answers: status -> type.
	more map[int]any
}

// oneOf answers one of several types.
type oneOf []any

// contents answers several content types: content type -> type.
type contents map[string]any

const (
	textPlain   = "text/plain"
	eventStream = "text/event-stream"
	ndjson      = "application/x-ndjson"
	freeJSON    = "free-form JSON"
)

var (
	timeRange = []string{"start_time", "end_time", "since"}
	listing   = join(timeRange, "cluster_id", "cluster")
	logsQuery = join(timeRange, "cluster", "namespace", "pod", "container", "level", "search", "regex", "limit", "direction", "cursor", "include_archive")
	appLogs   = []string{"type", "follow", "pod_connection_timeout"}
)

func join(base []string, more ...string) []string { return append(slices.Clip(base), more...) }

// operations are kubelog's own routes (not /loki, /flush or /apis).
func operations() []op {
	const l = LogsPath
	ops := []op{
		{method: "GET", path: "/health", summary: "Health of the server and each component; no token", status: 200, answer: Health{}, more: map[int]any{503: Health{}}},
		{method: "GET", path: "/ready", summary: "Readiness; no token", status: 200, answer: Ready{}, more: map[int]any{503: Ready{}}},
		{method: "GET", path: "/metrics", summary: "Prometheus metrics; no token unless the server is configured so", status: 200, answer: textPlain},
		{method: "GET", path: OpenAPIPath, summary: "This document; no token", status: 200, answer: freeJSON},

		{method: "GET", path: l, scope: "read", summary: "Entries matching filters, one page", query: logsQuery, status: 200, answer: LogsPage{}},
		{method: "GET", path: l + "/", scope: "read", summary: "The same as GET /api/v1/logs", query: logsQuery, status: 200, answer: LogsPage{}},
		{method: "POST", path: l + "/search", scope: "read", summary: "Full-text search expression with filters, one page", body: SearchRequest{}, status: 200, answer: LogsPage{}},
		{method: "POST", path: l + "/search/logql", scope: "read", summary: "A LogQL query", body: LogQLRequest{}, status: 200, answer: LogQLResult{}},
		{method: "GET", path: l + "/namespaces", scope: "read", summary: "Namespaces with stored entries; live from the cluster with cluster_id", query: listing, status: 200, answer: NamespaceList{}},
		{method: "GET", path: l + "/pods", scope: "read", summary: "Pods with stored entries; live from the cluster with cluster_id", query: join(listing, "namespace"), status: 200, answer: PodList{}},
		{method: "GET", path: l + "/containers", scope: "read", summary: "Containers with stored entries; live from the cluster with cluster_id", query: join(listing, "namespace", "pod"), status: 200, answer: ContainerList{}},
		{method: "GET", path: l + "/stats", scope: "read", summary: "Line counts by level, namespace and pod, and a histogram", query: join(timeRange, "cluster", "namespace", "pod", "container", "level", "interval", "top"), status: 200, answer: Stats{}},
		{method: "GET", path: l + "/metrics", scope: "read", summary: "Ingest rates and window figures per tenant", query: []string{"since", "cluster_id", "namespace", "all"}, status: 200, answer: LogMetrics{}},
		{method: "GET", path: l + "/health", scope: "read", summary: "The same as GET /health", status: 200, answer: Health{}, more: map[int]any{503: Health{}}},
		{method: "GET", path: l + "/storage/info", scope: "read", summary: "Storage figures of the acting tenant", status: 200, answer: StorageInfo{}},

		{method: "GET", path: l + "/tokens", scope: "admin", summary: "API tokens, never their secrets", query: []string{"all"}, status: 200, answer: TokenList{}},
		{method: "POST", path: l + "/tokens", scope: "admin", summary: "Create a token; the answer holds its secret", body: TokenRequest{}, status: 201, answer: Token{}},
		{method: "DELETE", path: l + "/tokens", scope: "admin", summary: "Revoke a token", query: []string{"id", "all"}, status: 200, answer: Revoked{}},
		{method: "DELETE", path: l + "/tokens/{id}", scope: "admin", summary: "Revoke a token", query: []string{"all"}, status: 200, answer: Revoked{}},
		{method: "GET", path: l + "/tenants/{tenant}/limits", scope: "admin", summary: "A tenant's limits", status: 200, answer: TenantLimits{}},
		{method: "PUT", path: l + "/tenants/{tenant}/limits", scope: "admin", summary: "Set a tenant's limits; fields left out keep their values", body: Limits{}, partial: true, status: 200, answer: TenantLimits{}},

		{method: "POST", path: SessionsPath, scope: "read", summary: "Create a tail session", body: SessionRequest{}, status: 200, answer: Session{}},
		{method: "GET", path: SessionsPath, scope: "read", summary: "Tail sessions", query: []string{"userUuid", "active"}, status: 200, answer: SessionList{}},
		{method: "GET", path: SessionsPath + "/{id}", scope: "read", summary: "A tail session", status: 200, answer: Session{}},
		{method: "PATCH", path: SessionsPath + "/{id}", scope: "read", summary: "Change a tail session's filter or service", body: SessionPatch{}, status: 200, answer: Session{}},
		{method: "DELETE", path: SessionsPath + "/{id}", scope: "read", summary: "End a tail session", status: 200, answer: Session{}},
		{method: "GET", path: SessionsPath + "/{id}/stream", scope: "read", summary: "Follow a tail session: Server-Sent Events (an entry per event, id its cursor; event gap for entries retention deleted), or WebSocket messages with Upgrade: websocket. Resumes after Last-Event-ID or cursor", query: []string{"cursor"}, status: 200, answer: eventStream, more: map[int]any{101: nil}},

		{method: "GET", path: l + "/archive/policies", scope: "manage", summary: "Archive policies, or the one with id", query: []string{"id"}, status: 200, answer: oneOf{PolicyList{}, Policy{}}},
		{method: "GET", path: l + "/archive/policies/{id}", scope: "manage", summary: "An archive policy", status: 200, answer: Policy{}},
		{method: "POST", path: l + "/archive/policies", scope: "manage", summary: "Create an archive policy", body: PolicyRequest{}, status: 201, answer: Policy{}},
		{method: "PUT", path: l + "/archive/policies", scope: "manage", summary: "Update an archive policy", query: []string{"id"}, body: PolicyRequest{}, status: 200, answer: Policy{}},
		{method: "PUT", path: l + "/archive/policies/{id}", scope: "manage", summary: "Update an archive policy", body: PolicyRequest{}, status: 200, answer: Policy{}},
		{method: "DELETE", path: l + "/archive/policies", scope: "manage", summary: "Delete an archive policy", query: []string{"id"}, status: 200, answer: Deleted{}},
		{method: "DELETE", path: l + "/archive/policies/{id}", scope: "manage", summary: "Delete an archive policy", status: 200, answer: Deleted{}},
		{method: "POST", path: l + "/archive/start", scope: "manage", summary: "Start an archive job now", body: ArchiveStart{}, status: 201, answer: ArchiveJob{}},
		{method: "GET", path: l + "/archive/jobs", scope: "manage", summary: "Archive jobs", query: []string{"policy_id", "status", "limit"}, status: 200, answer: ArchiveJobList{}},
		{method: "GET", path: l + "/archive/jobs/{id}", scope: "manage", summary: "An archive job", status: 200, answer: ArchiveJob{}},
		{method: "DELETE", path: l + "/archive/jobs/{id}", scope: "manage", summary: "Cancel an archive job", status: 200, answer: ArchiveJob{}},
		{method: "GET", path: l + "/s3/metadata", scope: "read", summary: "Archived objects, one page", query: join(timeRange, "limit", "policy_id", "cluster", "namespace", "pod", "container", "cursor"), status: 200, answer: ObjectList{}},
		{method: "GET", path: l + "/s3/content", scope: "read", summary: "An archived object's entries, one page; its stored NDJSON lines with format=raw", query: []string{"key", "format", "limit", "cursor", "search"}, status: 200, answer: contents{"application/json": ObjectContent{}, ndjson: textPlain}},
		{method: "GET", path: l + "/s3/stats", scope: "read", summary: "Archived objects, bytes and lines in total, per policy and per namespace", status: 200, answer: ArchiveStats{}},

		{method: "GET", path: l + "/clusters/configs", scope: "manage", summary: "Registered clusters, or the one with id", query: []string{"id"}, status: 200, answer: oneOf{ClusterList{}, Cluster{}}},
		{method: "POST", path: l + "/clusters/configs", scope: "manage", summary: "Register a cluster", body: ClusterRequest{}, status: 201, answer: Cluster{}},
		{method: "PUT", path: l + "/clusters/configs", scope: "manage", summary: "Update a cluster", query: []string{"id"}, body: ClusterRequest{}, status: 200, answer: Cluster{}},
		{method: "PUT", path: l + "/clusters/configs/{id}", scope: "manage", summary: "Update a cluster", body: ClusterRequest{}, status: 200, answer: Cluster{}},
		{method: "DELETE", path: l + "/clusters/configs", scope: "manage", summary: "Delete a cluster", query: []string{"id"}, status: 200, answer: Deleted{}},
		{method: "DELETE", path: l + "/clusters/configs/{id}", scope: "manage", summary: "Delete a cluster", status: 200, answer: Deleted{}},
		{method: "GET", path: l + "/clusters/status", scope: "read", summary: "Each cluster's condition", status: 200, answer: ClusterStatusList{}},
		{method: "POST", path: l + "/clusters/refresh", scope: "manage", summary: "Reconnect to one cluster (cluster_id, in the query or the body) or every one", query: []string{"cluster_id"}, body: ClusterRefreshRequest{}, optionalBody: true, status: 200, answer: ClusterRefresh{}},
		{method: "GET", path: l + "/clusters/{clusterId}/metrics", scope: "read", summary: "A cluster's collection figures", status: 200, answer: ClusterMetrics{}},
		{method: "GET", path: l + "/config", scope: "manage", summary: "Collection configs, or the one with id", query: []string{"id", "cluster_id", "namespace"}, status: 200, answer: oneOf{CollectionList{}, CollectionConfig{}}},
		{method: "GET", path: l + "/config/{id}", scope: "manage", summary: "A collection config", status: 200, answer: CollectionConfig{}},
		{method: "POST", path: l + "/config", scope: "manage", summary: "Create a collection config", body: CollectionRequest{}, status: 201, answer: CollectionConfig{}},
		{method: "PUT", path: l + "/config", scope: "manage", summary: "Update a collection config", query: []string{"id"}, body: CollectionRequest{}, status: 200, answer: CollectionConfig{}},
		{method: "PUT", path: l + "/config/{id}", scope: "manage", summary: "Update a collection config", body: CollectionRequest{}, status: 200, answer: CollectionConfig{}},
		{method: "DELETE", path: l + "/config", scope: "manage", summary: "Delete a collection config", query: []string{"id"}, status: 200, answer: Deleted{}},
		{method: "DELETE", path: l + "/config/{id}", scope: "manage", summary: "Delete a collection config", status: 200, answer: Deleted{}},
		{method: "POST", path: l + "/config/bulk-update", scope: "manage", summary: "Enable or disable several collection configs", body: BulkUpdate{}, status: 200, answer: BulkUpdated{}},
		{method: "POST", path: l + "/config/disable", scope: "manage", summary: "Disable a namespace's collection configs", body: Disable{}, status: 200, answer: Disabled{}},
		{method: "POST", path: l + "/config/disable/cluster", scope: "manage", summary: "Disable a cluster's collection configs", body: Disable{}, status: 200, answer: Disabled{}},
		{method: "POST", path: l + "/collect", scope: "manage", summary: "Start a one-time collection job", body: CollectRequest{}, status: 201, answer: CollectJob{}},
		{method: "POST", path: l + "/collect/continuous", scope: "manage", summary: "Start a continuous collection job", body: CollectRequest{}, status: 201, answer: CollectJob{}},
		{method: "POST", path: l + "/collect/bulk", scope: "manage", summary: "Start a bulk collection job: every pod of a namespace or cluster", body: CollectRequest{}, status: 201, answer: CollectJob{}},
		{method: "GET", path: l + "/collect/jobs", scope: "manage", summary: "Collection jobs", query: []string{"cluster_id", "status", "limit"}, status: 200, answer: CollectJobList{}},
		{method: "GET", path: l + "/collect/jobs/{id}", scope: "manage", summary: "A collection job", status: 200, answer: CollectJob{}},
		{method: "DELETE", path: l + "/collect/jobs/{id}", scope: "manage", summary: "Cancel a collection job", status: 200, answer: CollectJob{}},

		{method: "GET", path: AppsPath, scope: "read", summary: "Apps (Kubernetes workloads)", status: 200, answer: AppList{}},
		{method: "GET", path: AppsPath + "/{app_id}", scope: "read", summary: "An app", status: 200, answer: AppAnswer{}},
		{method: "GET", path: AppsPath + "/{app_id}/deployments", scope: "read", summary: "An app's deployments", status: 200, answer: DeploymentList{}},
		{method: "GET", path: AppsPath + "/{app_id}/deployments/{deployment_id}", scope: "read", summary: "A deployment", status: 200, answer: DeploymentAnswer{}},
		{method: "GET", path: AppsPath + "/{app_id}/deployments/{deployment_id}/components/{component_name}/logs", scope: "read", summary: "Signed links to a component's logs", query: appLogs, status: 200, answer: AppLogs{}},
		{method: "GET", path: AppsPath + "/{app_id}/deployments/{deployment_id}/logs", scope: "read", summary: "Signed links to a deployment's logs", query: appLogs, status: 200, answer: AppLogs{}},
		{method: "GET", path: AppsPath + "/{app_id}/logs", scope: "read", summary: "Signed links to the active deployment's logs", query: appLogs, status: 200, answer: AppLogs{}},
		{method: "GET", path: "/v2/links/apps/logs", summary: "A signed url: the lines so far, as text; the link's token authenticates", query: []string{"token"}, status: 200, answer: textPlain},
		{method: "GET", path: "/v2/links/apps/live", summary: "A signed live_url: new lines as WebSocket messages {\"data\": line} (Upgrade: websocket) or Server-Sent Events (Accept: text/event-stream); the link's token authenticates", query: []string{"token"}, status: 200, answer: eventStream, more: map[int]any{101: nil}},
	}
	return ops
}

// paramDocs describe the query parameters.
var paramDocs = map[string]string{
	"start_time":             "start of the range: RFC3339, or Unix seconds, milliseconds, microseconds or nanoseconds by digit count",
	"end_time":               "end of the range, as start_time",
	"since":                  "a duration back from now (Go durations, plus d and w)",
	"cluster_id":             "a registered cluster's id",
	"cluster":                "the cluster label",
	"namespace":              "namespace",
	"pod":                    "pod",
	"container":              "container",
	"level":                  "level: trace, debug, info, warn, error, fatal or unknown",
	"search":                 "substring of the message",
	"regex":                  "regular expression on the message",
	"limit":                  "the most entries or items to answer",
	"direction":              "forward or backward",
	"cursor":                 "a page token (next_cursor) or, on a tail stream, an entry's cursor to resume after",
	"include_archive":        "true reads archived objects too",
	"interval":               "the histogram's bucket width, a duration",
	"top":                    "how many pods top_pods lists",
	"all":                    "true acts on every tenant (admin)",
	"id":                     "the object's id, as an alternative to the path",
	"userUuid":               "only this user's sessions",
	"active":                 "true lists only active sessions",
	"policy_id":              "only this archive policy's",
	"status":                 "only in these statuses, comma-separated",
	"key":                    "the archived object's key",
	"format":                 "json (default) or raw",
	"type":                   "RUN, RUN_RESTARTED, DEPLOY or BUILD",
	"follow":                 "true: live_url follows new lines",
	"pod_connection_timeout": "how long to wait for an instance when none exists yet",
	"token":                  "the signed link's token",
}

// ClusterRefreshRequest is the optional body of POST
// /api/v1/logs/clusters/refresh. It is declared here, not among the wire
// types, since the client sends the id in the query.
type ClusterRefreshRequest struct {
	ClusterID string `json:"cluster_id,omitempty"`
}

// component names the types whose Go name is not their name in the API.
var componentNames = map[reflect.Type]string{
	reflect.TypeFor[Entry]():           "Entry",
	reflect.TypeFor[ArchiveJob]():      "ArchiveJob",
	reflect.TypeFor[ArchiveProgress](): "ArchiveProgress",
	reflect.TypeFor[ArchiveTotals]():   "ArchiveTotals",
	reflect.TypeFor[AppLogs]():         "AppLogs",
	reflect.TypeFor[Limits]():          "Limits",
}

// schemas builds the component schemas of Go types.
type schemas struct {
	defs  map[string]any
	types map[string]reflect.Type
}

func (s *schemas) of(t reflect.Type) map[string]any {
	switch t {
	case reflect.TypeFor[time.Time]():
		return map[string]any{"type": "string", "format": "date-time"}
	case reflect.TypeFor[timeparse.Duration]():
		return map[string]any{"type": "string", "description": "a duration: Go's, plus d and w"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return nullable(s.of(t.Elem()))
	case reflect.Struct:
		return s.ref(t)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "format": "byte"}
		}
		return map[string]any{"type": "array", "items": s.of(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": s.of(t.Elem())}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64:
		return map[string]any{"type": "integer", "format": "int64"}
	case reflect.Int32:
		return map[string]any{"type": "integer", "format": "int32"}
	case reflect.Uint, reflect.Uint64:
		return map[string]any{"type": "integer", "format": "int64", "minimum": 0}
	case reflect.Float64:
		return map[string]any{"type": "number", "format": "double"}
	}
	panic(fmt.Sprintf("BUG: no schema for %s", t))
}

// nullable allows null besides the schema; a $ref cannot have siblings in
// OpenAPI 3.0, so it is wrapped.
func nullable(sc map[string]any) map[string]any {
	if _, ok := sc["$ref"]; ok {
		return map[string]any{"allOf": []any{sc}, "nullable": true}
	}
	sc["nullable"] = true
	return sc
}

// ref returns a reference to the struct type t's component, building it
// once.
func (s *schemas) ref(t reflect.Type) map[string]any {
	name := componentNames[t]
	if name == "" {
		name = t.Name()
	}
	if prev, ok := s.types[name]; ok {
		if prev != t {
			panic(fmt.Sprintf("BUG: two types are named %s: %s and %s; name them in componentNames", name, prev, t))
		}
	} else {
		s.types[name] = t
		s.defs[name] = nil // claimed, for recursive types
		s.defs[name] = s.object(t)
	}
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

// object is the schema of struct type t: encoding/json's fields, those
// without omitempty or omitzero required, none other allowed.
func (s *schemas) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	required := []string{}
	var walk func(t reflect.Type, optional bool)
	walk = func(t reflect.Type, optional bool) {
		for f := range t.Fields() {
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					walk(ft.Elem(), true)
				} else {
					walk(ft, optional)
				}
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			sc := s.of(f.Type)
			if k := f.Type.Kind(); (k == reflect.Slice && f.Type.Elem().Kind() != reflect.Uint8) || k == reflect.Map {
				// A nil slice or map is null.
				sc = nullable(sc)
			}
			props[name] = sc
			omit := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
			if !optional && !omit {
				required = append(required, name)
			}
		}
	}
	walk(t, false)
	sc := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		slices.Sort(required)
		sc["required"] = required
	}
	return sc
}

// partial is the schema of struct type t with none of its own fields
// required.
func (s *schemas) partial(t reflect.Type) map[string]any {
	sc := s.object(t)
	delete(sc, "required")
	return sc
}

// content is the content map of an answer or body of type v.
func (s *schemas) content(v any) map[string]any {
	switch v := v.(type) {
	case string:
		switch v {
		case freeJSON:
			return map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}
		case textPlain:
			return map[string]any{textPlain: map[string]any{"schema": map[string]any{"type": "string"}}}
		}
		return map[string]any{v: map[string]any{"schema": map[string]any{"type": "string"}}}
	case oneOf:
		var alts []any
		for _, t := range v {
			alts = append(alts, s.of(reflect.TypeOf(t)))
		}
		return map[string]any{"application/json": map[string]any{"schema": map[string]any{"oneOf": alts}}}
	case contents:
		out := map[string]any{}
		for ct, t := range v {
			if str, ok := t.(string); ok && str == textPlain {
				out[ct] = map[string]any{"schema": map[string]any{"type": "string"}}
				continue
			}
			out[ct] = map[string]any{"schema": s.of(reflect.TypeOf(t))}
		}
		return out
	}
	return map[string]any{"application/json": map[string]any{"schema": s.of(reflect.TypeOf(v))}}
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// document builds the OpenAPI document.
func document() map[string]any {
	s := &schemas{defs: map[string]any{}, types: map[string]reflect.Type{}}
	errorAnswer := map[string]any{"description": "an error", "content": s.content(ErrorBody{})}
	paths := map[string]any{}
	for _, o := range operations() {
		item, _ := paths[o.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[o.path] = item
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(o.path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range o.query {
			doc := paramDocs[q]
			if doc == "" {
				panic("BUG: no description of the query parameter " + q)
			}
			params = append(params, map[string]any{"name": q, "in": "query", "description": doc, "schema": map[string]any{"type": "string"}})
		}
		answers := map[string]any{
			fmt.Sprint(o.status): map[string]any{"description": "success", "content": s.content(o.answer)},
			"default":            errorAnswer,
		}
		for code, v := range o.more {
			a := map[string]any{"description": statusText(code)}
			if v != nil {
				a["content"] = s.content(v)
			}
			answers[fmt.Sprint(code)] = a
		}
		operation := map[string]any{
			"operationId": operationID(o),
			"summary":     o.summary,
			"tags":        []string{tag(o.path)},
			"responses":   answers,
		}
		if params != nil {
			operation["parameters"] = params
		}
		if o.body != nil {
			content := s.content(o.body)
			if o.partial {
				content = map[string]any{"application/json": map[string]any{"schema": s.partial(reflect.TypeOf(o.body))}}
			}
			operation["requestBody"] = map[string]any{"required": !o.optionalBody, "content": content}
		}
		if o.scope == "" {
			operation["security"] = []any{}
		} else {
			operation["description"] = "Needs a token with the " + o.scope + " scope (or admin)."
		}
		method := strings.ToLower(o.method)
		if _, dup := item[method]; dup {
			panic("BUG: two operations " + o.method + " " + o.path)
		}
		item[method] = operation
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "kubelog",
			"version":     "v1",
			"description": "kubelog's own REST API: the logs management API (/api/v1/logs), tail sessions, archives, clusters and collection, app deployment logs (/v2/apps) and operations. The Loki-compatible API (/loki/api/v1) and the PodLogStream resources (/apis/tilt.dev/v1alpha1) follow Loki's and Kubernetes' own descriptions. Errors are {\"id\",\"message\",\"request_id\"}; a 429 carries Retry-After and X-RateLimit-Limit/Remaining/Reset.",
		},
		"security": []any{map[string]any{"bearer": []any{}}},
		"paths":    paths,
		"components": map[string]any{
			"schemas":         s.defs,
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}},
		},
	}
}

func statusText(code int) string {
	switch code {
	case 101:
		return "switched to a WebSocket"
	case 503:
		return "down or shutting down"
	}
	panic(fmt.Sprintf("BUG: no description of status %d", code))
}

// tag groups an operation by the first segment after its surface's prefix.
func tag(path string) string {
	switch {
	case strings.HasPrefix(path, SessionsPath):
		return "tail"
	case strings.HasPrefix(path, LogsPath+"/"):
		seg, _, _ := strings.Cut(strings.TrimPrefix(path, LogsPath+"/"), "/")
		switch seg {
		case "", "search", "namespaces", "pods", "containers", "stats":
			return "logs"
		case "s3", "archive":
			return "archive"
		case "clusters", "config", "collect":
			return "collection"
		case "tokens", "tenants":
			return "admin"
		}
		return "operations"
	case path == LogsPath:
		return "logs"
	case strings.HasPrefix(path, "/v2/"):
		return "apps"
	}
	return "operations"
}

// operationID is the method and the path's words in camelCase, e.g.
// getApiV1LogsTailSessionsId.
func operationID(o op) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(o.method))
	up := true
	for _, r := range o.path {
		switch {
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9':
			if up && r >= 'a' && r <= 'z' {
				r -= 'a' - 'A'
			}
			b.WriteRune(r)
			up = false
		default:
			up = true
		}
	}
	if strings.HasSuffix(o.path, "/") {
		b.WriteString("Slash")
	}
	return b.String()
}

func TestOpenAPIDocument(t *testing.T) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(document()); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(documentPath, buf.Bytes(), 0o644); err != nil { // #nosec G306 -- a source file
			t.Fatal(err)
		}
		return
	}
	old, err := os.ReadFile(documentPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(old, buf.Bytes()) {
		t.Fatalf("%s is not what the wire types and operations give; run go test ./internal/apiclient -run TestOpenAPIDocument -update", documentPath)
	}
}
