package security_test

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// tokenRoutes lists every route of internal/httpapi/routes.go that takes a
// bearer token, as registered (method and pattern; "/apis/" is the
// PodLogStream group's catch-all for any method). The routes that take none
// are left out: /health, /ready, the signed links under /v2/links, the
// Kubernetes discovery paths and the JSON 404 catch-alls of /api/v1/logs and
// /v2/; /metrics takes the admin token on a server with
// --public-metrics=false, as the shared one. TestRouteTableComplete keeps
// this list in step with routes.go.
var tokenRoutes = []string{
	"GET /metrics",
	"GET /api/v1/logs",
	"GET /api/v1/logs/{$}",
	"POST /api/v1/logs/search",
	"GET /api/v1/logs/namespaces",
	"GET /api/v1/logs/pods",
	"GET /api/v1/logs/containers",
	"GET /api/v1/logs/stats",
	"GET /api/v1/logs/metrics",
	"GET /api/v1/logs/health",
	"GET /api/v1/logs/storage/info",
	"GET /api/v1/logs/tokens",
	"POST /api/v1/logs/tokens",
	"DELETE /api/v1/logs/tokens",
	"DELETE /api/v1/logs/tokens/{id}",
	"GET /api/v1/logs/tenants/{tenant}/limits",
	"PUT /api/v1/logs/tenants/{tenant}/limits",
	"POST /api/v1/logs/tail/sessions",
	"GET /api/v1/logs/tail/sessions",
	"GET /api/v1/logs/tail/sessions/{id}",
	"PATCH /api/v1/logs/tail/sessions/{id}",
	"DELETE /api/v1/logs/tail/sessions/{id}",
	"GET /api/v1/logs/tail/sessions/{id}/stream",
	"GET /api/v1/logs/archive/policies",
	"GET /api/v1/logs/archive/policies/{id}",
	"POST /api/v1/logs/archive/policies",
	"PUT /api/v1/logs/archive/policies",
	"PUT /api/v1/logs/archive/policies/{id}",
	"DELETE /api/v1/logs/archive/policies",
	"DELETE /api/v1/logs/archive/policies/{id}",
	"POST /api/v1/logs/archive/start",
	"GET /api/v1/logs/archive/jobs",
	"GET /api/v1/logs/archive/jobs/{id}",
	"DELETE /api/v1/logs/archive/jobs/{id}",
	"GET /api/v1/logs/s3/metadata",
	"GET /api/v1/logs/s3/content",
	"GET /api/v1/logs/s3/stats",
	"GET /api/v1/logs/clusters/configs",
	"POST /api/v1/logs/clusters/configs",
	"PUT /api/v1/logs/clusters/configs",
	"PUT /api/v1/logs/clusters/configs/{id}",
	"DELETE /api/v1/logs/clusters/configs",
	"DELETE /api/v1/logs/clusters/configs/{id}",
	"GET /api/v1/logs/clusters/status",
	"POST /api/v1/logs/clusters/refresh",
	"GET /api/v1/logs/clusters/{clusterId}/metrics",
	"GET /api/v1/logs/config",
	"GET /api/v1/logs/config/{id}",
	"POST /api/v1/logs/config",
	"PUT /api/v1/logs/config",
	"PUT /api/v1/logs/config/{id}",
	"DELETE /api/v1/logs/config",
	"DELETE /api/v1/logs/config/{id}",
	"POST /api/v1/logs/config/bulk-update",
	"POST /api/v1/logs/config/disable",
	"POST /api/v1/logs/config/disable/cluster",
	"POST /api/v1/logs/collect",
	"POST /api/v1/logs/collect/continuous",
	"POST /api/v1/logs/collect/bulk",
	"GET /api/v1/logs/collect/jobs",
	"GET /api/v1/logs/collect/jobs/{id}",
	"DELETE /api/v1/logs/collect/jobs/{id}",
	"POST /api/v1/logs/search/logql",
	"GET /loki/api/v1/query", "POST /loki/api/v1/query",
	"GET /loki/api/v1/query_range", "POST /loki/api/v1/query_range",
	"GET /loki/api/v1/labels", "POST /loki/api/v1/labels",
	"GET /loki/api/v1/label/{name}/values", "POST /loki/api/v1/label/{name}/values",
	"GET /loki/api/v1/series", "POST /loki/api/v1/series",
	"GET /loki/api/v1/index/stats", "POST /loki/api/v1/index/stats",
	"GET /loki/api/v1/index/volume", "POST /loki/api/v1/index/volume",
	"GET /loki/api/v1/index/volume_range", "POST /loki/api/v1/index/volume_range",
	"GET /loki/api/v1/format_query", "POST /loki/api/v1/format_query",
	"GET /loki/api/v1/status/buildinfo",
	"GET /loki/api/v1/tail",
	"POST /loki/api/v1/push",
	"POST /flush",
	"GET /v2/apps",
	"GET /v2/apps/{app_id}",
	"GET /v2/apps/{app_id}/deployments",
	"GET /v2/apps/{app_id}/deployments/{deployment_id}",
	"GET /v2/apps/{app_id}/deployments/{deployment_id}/components/{component_name}/logs",
	"GET /v2/apps/{app_id}/deployments/{deployment_id}/logs",
	"GET /v2/apps/{app_id}/logs",
	"GET /apis/tilt.dev/v1alpha1/podlogstreams", "POST /apis/tilt.dev/v1alpha1/podlogstreams",
	"PUT /apis/tilt.dev/v1alpha1/podlogstreams", "PATCH /apis/tilt.dev/v1alpha1/podlogstreams",
	"DELETE /apis/tilt.dev/v1alpha1/podlogstreams",
	"GET /apis/tilt.dev/v1alpha1/podlogstreams/{name}", "POST /apis/tilt.dev/v1alpha1/podlogstreams/{name}",
	"PUT /apis/tilt.dev/v1alpha1/podlogstreams/{name}", "PATCH /apis/tilt.dev/v1alpha1/podlogstreams/{name}",
	"DELETE /apis/tilt.dev/v1alpha1/podlogstreams/{name}",
	"GET /apis/tilt.dev/v1alpha1/podlogstreams/{name}/status", "POST /apis/tilt.dev/v1alpha1/podlogstreams/{name}/status",
	"PUT /apis/tilt.dev/v1alpha1/podlogstreams/{name}/status", "PATCH /apis/tilt.dev/v1alpha1/podlogstreams/{name}/status",
	"DELETE /apis/tilt.dev/v1alpha1/podlogstreams/{name}/status",
	"/apis/",
}

// TestRouteTableComplete checks tokenRoutes against the routes registered in
// internal/httpapi/routes.go, read from the source: a route added there
// must be added to the table, so that TestScopeOrgID sends it.
func TestRouteTableComplete(t *testing.T) {
	src, err := os.ReadFile("../../../internal/httpapi/routes.go")
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	found := map[string]bool{}
	add := func(method, path string) {
		if method == "" {
			found[path] = true
		} else {
			found[method+" "+path] = true
		}
	}
	const logs, lv1 = "/api/v1/logs", "/loki/api/v1"
	for _, m := range regexp.MustCompile(`(?:std|heavy)\("(\w+) "\+logs(?:\+"([^"]*)")?,`).FindAllStringSubmatch(s, -1) {
		add(m[1], logs+m[2])
	}
	for _, m := range regexp.MustCompile(`(?:std|heavy)\("(\w+) (/[^"]*)",`).FindAllStringSubmatch(s, -1) {
		add(m[1], m[2])
	}
	for _, m := range regexp.MustCompile(`loki\(m\+lv1\+"([^"]*)"`).FindAllStringSubmatch(s, -1) {
		add("GET", lv1+m[1])
		add("POST", lv1+m[1])
	}
	for _, m := range regexp.MustCompile(`loki\("(\w+) "\+lv1\+"([^"]*)"`).FindAllStringSubmatch(s, -1) {
		add(m[1], lv1+m[2])
	}
	for _, m := range regexp.MustCompile(`a\.handle\(route\{pattern: "(\w+) (/[^"]*)", scope:`).FindAllStringSubmatch(s, -1) {
		add(m[1], m[2])
	}
	pls := regexp.MustCompile(`const pls = "([^"]*)"`).FindStringSubmatch(s)
	plsPaths := regexp.MustCompile(`range \[\]string\{pls((?:, pls \+ "[^"]*")*)\}`).FindStringSubmatch(s)
	if pls == nil || plsPaths == nil {
		t.Fatal("routes.go: the PodLogStream routes are not where this test looks (const pls, range []string{pls, ...}); update the test")
	}
	paths := []string{pls[1]}
	for _, m := range regexp.MustCompile(`pls \+ "([^"]*)"`).FindAllStringSubmatch(plsPaths[1], -1) {
		paths = append(paths, pls[1]+m[1])
	}
	for _, m := range regexp.MustCompile(`kube\("(\w+) "\+p,`).FindAllStringSubmatch(s, -1) {
		for _, p := range paths {
			add(m[1], p)
		}
	}
	for _, m := range regexp.MustCompile(`kube\("(/[^"]*)",`).FindAllStringSubmatch(s, -1) {
		add("", m[1])
	}
	if len(found) < 90 {
		t.Fatalf("routes.go: found only %d routes that take a token; the file changed shape, update the test", len(found))
	}
	for r := range found {
		if !slices.Contains(tokenRoutes, r) {
			t.Errorf("route %q of routes.go is missing from tokenRoutes", r)
		}
	}
	for _, r := range tokenRoutes {
		if !found[r] {
			t.Errorf("route %q of tokenRoutes is not in routes.go", r)
		}
	}
}

// victimMarkers are strings only victim's data holds.
var victimMarkers = []string{victimLine, victimOldLine, victimBucket, "victim-user", `"victim-c"`, "victim-policy"}

// evilPlanted is what evil's requests would leave in victim's tenant.
const evilPlanted = "EVIL-PLANTED-IN-VICTIM"

// routeRequest returns the request evil sends for a route of tokenRoutes,
// aimed at victim's objects: the path with its parameters filled with
// victim's ids and a query and body that would read or change them.
func (w *world) routeRequest(route string) (method, path string, body any) {
	method, path, ok := strings.Cut(route, " ")
	if !ok { // the catch-all: a namespaced PodLogStream path, which does not exist
		return "GET", "/apis/tilt.dev/v1alpha1/namespaces/" + victimNS + "/podlogstreams/" + w.victimPLS, nil
	}
	dummy := "00000000-0000-4000-8000-000000000000"
	path = strings.NewReplacer(
		"/tokens/{id}", "/tokens/"+w.victimTokenID,
		"/tail/sessions/{id}", "/tail/sessions/"+w.victimSession,
		"/archive/policies/{id}", "/archive/policies/"+w.victimPolicy,
		"/archive/jobs/{id}", "/archive/jobs/aj_"+dummy,
		"/clusters/configs/{id}", "/clusters/configs/"+w.victimCluster,
		"/config/{id}", "/config/"+w.victimConfig,
		"/collect/jobs/{id}", "/collect/jobs/"+w.victimJob,
		"{clusterId}", w.victimCluster,
		"{tenant}", "victim",
		"/label/{name}/", "/label/namespace/",
		"/podlogstreams/{name}", "/podlogstreams/"+w.victimPLS,
		"{app_id}", dummy, "{deployment_id}", dummy, "{component_name}", "app",
		"{$}", "",
	).Replace(path)
	byID := map[string]string{
		"/api/v1/logs/tokens": w.victimTokenID, "/api/v1/logs/archive/policies": w.victimPolicy,
		"/api/v1/logs/clusters/configs": w.victimCluster, "/api/v1/logs/config": w.victimConfig,
	}
	q := url.Values{}
	switch {
	case byID[path] != "" && method != "POST":
		q.Set("id", byID[path])
	case strings.HasPrefix(path, "/api/v1/logs") && method == "GET" && (path == "/api/v1/logs" || path == "/api/v1/logs/"):
		q.Set("namespace", victimNS)
	case strings.HasPrefix(path, "/loki/api/v1/query") || strings.HasPrefix(path, "/loki/api/v1/tail"):
		q.Set("query", `{namespace="`+victimNS+`"}`)
	case strings.HasSuffix(path, "/logs") && strings.HasPrefix(path, "/v2/"):
		q.Set("type", "RUN")
		q.Set("pod_connection_timeout", "0s")
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	switch {
	case method == "GET" || method == "DELETE":
	case path == "/loki/api/v1/push":
		body = map[string]any{"streams": []any{map[string]any{"stream": map[string]string{"namespace": victimNS},
			"values": [][]string{{fmt.Sprint(time.Now().UnixNano()), evilPlanted}}}}}
	case path == "/api/v1/logs/tokens":
		body = map[string]string{"tenant": "victim", "name": evilPlanted, "scopes": "admin"}
	case path == "/api/v1/logs/clusters/configs":
		body = map[string]string{"name": "evil-planted", "kubeconfig": realKubeconfig}
	case path == "/api/v1/logs/tail/sessions":
		body = map[string]string{"tenantId": "victim", "userUuid": evilPlanted, "service": "*"}
	case strings.HasPrefix(path, "/apis/"):
		body = map[string]any{"apiVersion": "tilt.dev/v1alpha1", "kind": "PodLogStream", "metadata": map[string]any{"name": w.victimPLS},
			"spec": map[string]any{"pod": "evil-planted"}}
	case strings.HasPrefix(path, "/loki/"):
		body = "query=" + url.QueryEscape(`{namespace="`+victimNS+`"}`)
	default:
		body = map[string]any{"name": evilPlanted, "cluster_id": w.victimCluster, "namespace": victimNS, "policy_id": w.victimPolicy,
			"ids": []string{w.victimConfig}, "enabled": false, "query": `{namespace="` + victimNS + `"}`}
	}
	return method, path, body
}

// TestScopeOrgID is attack 8: evil's token with X-Scope-OrgID: victim, on
// every route that takes a token, is 403 (the acting tenant is decided, and
// refused, before the route's scope and handler: so admin routes are 403 as
// well, not 400), with none of victim's data, and changes nothing of
// victim's. An admin token with the header does act in victim.
func TestScopeOrgID(t *testing.T) {
	w := shared(t)
	s := w.srv
	for _, route := range tokenRoutes {
		method, path, body := w.routeRequest(route)
		hdr := []string{"X-Scope-OrgID", "victim"}
		if b, ok := body.(string); ok && b != "" {
			hdr = append(hdr, "Content-Type", "application/x-www-form-urlencoded")
		}
		r := s.do(t, w.evil, method, path, body, hdr...)
		if r.code != 403 {
			t.Errorf("%s (%s %s) with evil's token as victim: got %s; want 403", route, method, path, r)
		}
		for _, m := range victimMarkers {
			if r.has(m) {
				t.Errorf("%s (%s %s) with evil's token as victim: the answer holds victim's %q: %s", route, method, path, m, r)
			}
		}
	}

	// Other spellings of the header never reach victim either.
	for _, h := range []string{"Victim", " victim", "victim ", "victim,evil", "../victim", "victim%00", "victim\t"} {
		r := s.do(t, w.evil, "GET", "/api/v1/logs?namespace="+victimNS, nil, "X-Scope-OrgID", h)
		if r.code/100 == 2 || r.has(victimLine) {
			t.Errorf("X-Scope-OrgID %q with evil's token: got %s; want a 4xx", h, r)
		}
	}
	// A tenant named in a body is checked as the header is.
	for _, tc := range []struct {
		path string
		body any
	}{
		{"/api/v1/logs/tail/sessions", map[string]string{"tenantId": "victim", "userUuid": evilPlanted, "service": "*"}},
		{"/api/v1/logs/archive/policies", func() map[string]any {
			b := policyBody(evilPlanted, victimBucket, `{namespace="x"}`)
			b["tenant"] = "victim"
			return b
		}()},
	} {
		if r := s.do(t, w.evil, "POST", tc.path, tc.body); r.code != 403 {
			t.Errorf("POST %s naming tenant victim in the body with evil's token: got %s; want 403", tc.path, r)
		}
	}

	// Nothing of victim's changed: its objects and token are there, nothing
	// evil sent landed in its tenant.
	for _, p := range []string{
		"/api/v1/logs/clusters/configs?id=" + w.victimCluster,
		"/api/v1/logs/archive/policies/" + w.victimPolicy,
		"/api/v1/logs/tail/sessions/" + w.victimSession,
		"/api/v1/logs/config/" + w.victimConfig,
		"/api/v1/logs/collect/jobs/" + w.victimJob,
		"/apis/tilt.dev/v1alpha1/podlogstreams/" + w.victimPLS,
	} {
		if r := s.do(t, w.victim, "GET", p, nil); r.code != 200 || r.has(evilPlanted) {
			t.Errorf("victim GET %s after evil's requests: got %s; want 200, unchanged", p, r)
		}
	}
	for _, p := range []string{
		"/api/v1/logs?search=" + evilPlanted,
		"/api/v1/logs/clusters/configs",
		"/api/v1/logs/archive/policies",
		"/api/v1/logs/tail/sessions",
	} {
		if r := s.must(t, w.victim, 200, "GET", p, nil, nil); r.has(evilPlanted) || r.has("evil-planted") {
			t.Errorf("victim GET %s: evil's request landed in victim: %s", p, r)
		}
	}
	if r := s.must(t, s.admin, 200, "GET", "/api/v1/logs/tokens?all=true", nil, nil); r.has(evilPlanted) {
		t.Errorf("evil created a token in victim: %s", r)
	}

	// The one positive case: the admin token acts in victim.
	if r := s.do(t, s.admin, "GET", "/api/v1/logs?namespace="+victimNS, nil, "X-Scope-OrgID", "victim"); r.code != 200 || !r.has(victimLine) {
		t.Errorf("admin as victim: got %s; want 200 with victim's line", r)
	}
	if r := s.do(t, s.admin, "GET", "/api/v1/logs/clusters/configs", nil, "X-Scope-OrgID", "victim"); r.code != 200 || !r.has(w.victimCluster) {
		t.Errorf("admin as victim: got %s; want 200 with victim's cluster", r)
	}
	// And evil's token without the header finds none of victim's objects.
	for _, p := range []string{
		"/api/v1/logs/clusters/configs?id=" + w.victimCluster,
		"/api/v1/logs/archive/policies/" + w.victimPolicy,
		"/api/v1/logs/tail/sessions/" + w.victimSession,
		"/api/v1/logs/config/" + w.victimConfig,
		"/api/v1/logs/collect/jobs/" + w.victimJob,
		"/api/v1/logs/clusters/" + w.victimCluster + "/metrics",
		"/apis/tilt.dev/v1alpha1/podlogstreams/" + w.victimPLS,
	} {
		r := s.do(t, w.evil, "GET", p, nil)
		if r.code != 404 {
			t.Errorf("evil GET %s of victim's: got %s; want 404", p, r)
		}
		for _, m := range victimMarkers {
			if r.has(m) {
				t.Errorf("evil GET %s: the answer holds victim's %q", p, m)
			}
		}
	}
}
