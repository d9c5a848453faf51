package security_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// traversals are names that try to leave where a name is looked up, as they
// go into a URL (raw: percent-escapes stay as written).
var traversals = []string{
	"../../../../etc/passwd",
	"..%2f..%2f..%2f..%2fetc%2fpasswd",
	"%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
	"..%252f..%252f..%252fetc%252fpasswd",
	"..%5c..%5c..%5cetc%5cpasswd",
	"....//....//....//etc/passwd",
	"%2fetc%2fpasswd",
	"..;/..;/etc/passwd",
	"%00",
	"x%00..%2f..%2fetc%2fpasswd",
	"%2e%2e",
}

// leaked reports what in an answer is a file's content or another tenant's
// data, or "".
func leaked(r reply) string {
	if r.has("root:") {
		return "file content (root:)"
	}
	for _, m := range victimMarkers {
		if r.has(m) {
			return "victim's " + m
		}
	}
	return ""
}

// TestPathTraversal is attack 9: every name and key parameter (cluster
// names and ids, tail session ids, archive policy and job ids, collection
// config and job ids, token ids, tenant names, app, deployment and
// component ids, label names, PodLogStream names, archive keys, cursors and
// link tokens) given traversal sequences, encoded every way, never answers
// 5xx, file content or another tenant's data.
func TestPathTraversal(t *testing.T) {
	w := shared(t)
	s := w.srv
	const x = "{x}"
	type tmpl struct {
		method, path string
		admin        bool
		body         any
	}
	templates := []tmpl{
		{method: "GET", path: "/api/v1/logs/clusters/configs?id=" + x},
		{method: "PUT", path: "/api/v1/logs/clusters/configs/" + x, body: map[string]string{"name": "renamed"}},
		{method: "PUT", path: "/api/v1/logs/clusters/configs?id=" + x, body: map[string]string{"name": "renamed"}},
		{method: "DELETE", path: "/api/v1/logs/clusters/configs/" + x},
		{method: "DELETE", path: "/api/v1/logs/clusters/configs?id=" + x},
		{method: "GET", path: "/api/v1/logs/clusters/" + x + "/metrics"},
		{method: "POST", path: "/api/v1/logs/clusters/refresh?cluster_id=" + x},
		{method: "GET", path: "/api/v1/logs/config?cluster_id=" + x},
		{method: "GET", path: "/api/v1/logs/tail/sessions/" + x},
		{method: "PATCH", path: "/api/v1/logs/tail/sessions/" + x, body: map[string]string{"filter": ""}},
		{method: "DELETE", path: "/api/v1/logs/tail/sessions/" + x},
		{method: "GET", path: "/api/v1/logs/tail/sessions/" + x + "/stream"},
		{method: "GET", path: "/api/v1/logs/archive/policies/" + x},
		{method: "GET", path: "/api/v1/logs/archive/policies?id=" + x},
		{method: "PUT", path: "/api/v1/logs/archive/policies/" + x, body: map[string]bool{"enabled": false}},
		{method: "DELETE", path: "/api/v1/logs/archive/policies/" + x},
		{method: "GET", path: "/api/v1/logs/archive/jobs/" + x},
		{method: "DELETE", path: "/api/v1/logs/archive/jobs/" + x},
		{method: "GET", path: "/api/v1/logs/archive/jobs?policy_id=" + x},
		{method: "GET", path: "/api/v1/logs/config/" + x},
		{method: "GET", path: "/api/v1/logs/config?id=" + x},
		{method: "PUT", path: "/api/v1/logs/config/" + x, body: map[string]bool{"enabled": false}},
		{method: "DELETE", path: "/api/v1/logs/config/" + x},
		{method: "GET", path: "/api/v1/logs/collect/jobs/" + x},
		{method: "DELETE", path: "/api/v1/logs/collect/jobs/" + x},
		{method: "DELETE", path: "/api/v1/logs/tokens/" + x, admin: true},
		{method: "DELETE", path: "/api/v1/logs/tokens?id=" + x, admin: true},
		{method: "GET", path: "/api/v1/logs/tenants/" + x + "/limits", admin: true},
		{method: "PUT", path: "/api/v1/logs/tenants/" + x + "/limits", admin: true, body: map[string]string{"retention": "1d"}},
		{method: "GET", path: "/v2/apps/" + x},
		{method: "GET", path: "/v2/apps/" + x + "/deployments"},
		{method: "GET", path: "/v2/apps/" + x + "/deployments/" + x},
		{method: "GET", path: "/v2/apps/" + x + "/deployments/" + x + "/components/" + x + "/logs?type=RUN&pod_connection_timeout=0s"},
		{method: "GET", path: "/v2/apps/" + x + "/logs?type=RUN&pod_connection_timeout=0s"},
		{method: "GET", path: "/v2/links/apps/logs?token=" + x},
		{method: "GET", path: "/loki/api/v1/label/" + x + "/values"},
		{method: "GET", path: "/apis/tilt.dev/v1alpha1/podlogstreams/" + x},
		{method: "GET", path: "/apis/tilt.dev/v1alpha1/podlogstreams/" + x + "/status"},
		{method: "PUT", path: "/apis/tilt.dev/v1alpha1/podlogstreams/" + x, body: map[string]any{"apiVersion": "tilt.dev/v1alpha1", "kind": "PodLogStream",
			"metadata": map[string]string{"name": "a"}, "spec": map[string]string{"pod": "p"}}},
		{method: "DELETE", path: "/apis/tilt.dev/v1alpha1/podlogstreams/" + x},
		{method: "GET", path: "/apis/tilt.dev/v1alpha1/namespaces/" + x + "/podlogstreams/" + x},
		{method: "GET", path: "/api/v1/logs/s3/content?key=" + x},
		{method: "GET", path: "/api/v1/logs/s3/content?format=raw&key=" + x},
		{method: "GET", path: "/api/v1/logs/s3/metadata?policy_id=" + x},
		{method: "GET", path: "/api/v1/logs/s3/metadata?cursor=" + x},
		{method: "GET", path: "/api/v1/logs?cursor=" + x},
		{method: "GET", path: "/api/v1/logs?namespace=" + x},
		{method: "GET", path: "/api/v1/logs/pods?namespace=" + x},
	}
	// Archive keys that parse (ten components or more) but climb out.
	keys := []string{
		"kubelog/evil/../../../../../etc/passwd/2024/01/01/00/0-1.ndjson.gz",
		"evil/c/ns/../../../../../../2024/01/01/00/0-1.ndjson.zst",
		"kubelog/evil/c/ns/p/c/2024/01/01/00/..%2f..%2f..%2fetc%2fpasswd",
		"kubelog/%2e%2e/%2e%2e/%2e%2e/etc/passwd/2024/01/01/00/0-1.ndjson.zst",
		"/etc/passwd", "file:///etc/passwd", "..", "/",
	}
	n, codes := 0, map[int]int{}
	check := func(t *testing.T, token, method, path string, body any) {
		t.Helper()
		r, err := s.call(token, method, path, body)
		if err != nil {
			t.Errorf("%s %s: %v", method, path, err)
			return
		}
		n++
		codes[r.code]++
		if r.code >= 500 {
			t.Errorf("%s %s: got %s; want no 5xx", method, path, r)
		}
		if l := leaked(r); l != "" {
			t.Errorf("%s %s: the answer holds %s: %s", method, path, l, r)
		}
	}
	for _, tm := range templates {
		token := w.evil
		if tm.admin {
			token = s.admin
		}
		for _, v := range traversals {
			check(t, token, tm.method, strings.ReplaceAll(tm.path, x, v), tm.body)
		}
	}
	for _, k := range keys {
		check(t, w.evil, "GET", "/api/v1/logs/s3/content?key="+url.QueryEscape(k), nil)
		check(t, w.evil, "GET", "/api/v1/logs/s3/content?key="+k, nil)
	}

	// Names in bodies: what a server that built paths from them would climb
	// out with. Whatever is created is removed again.
	names := []string{"../../../../etc/passwd", "..", "/etc/passwd", "a/../../b", "x\x00y", `..\..\etc\passwd`}
	for _, name := range names {
		for _, tc := range []struct {
			path  string
			token string
			body  any
		}{
			{"/api/v1/logs/clusters/configs", w.evil, map[string]string{"name": name, "kubeconfig": realKubeconfig}},
			{"/api/v1/logs/tail/sessions", w.evil, map[string]string{"tenantId": "evil", "userUuid": name, "service": name}},
			{"/api/v1/logs/config", w.evil, map[string]string{"cluster_id": name, "namespace": name}},
			{"/api/v1/logs/collect", w.evil, map[string]any{"cluster_id": w.evilCluster, "namespace": name, "pods": []string{name}}},
			{"/api/v1/logs/tokens", s.admin, map[string]string{"tenant": name, "name": name, "scopes": "read"}},
			{"/apis/tilt.dev/v1alpha1/podlogstreams", w.evil, map[string]any{"apiVersion": "tilt.dev/v1alpha1", "kind": "PodLogStream",
				"metadata": map[string]string{"name": name}, "spec": map[string]string{"pod": name, "namespace": name, "cluster": name}}},
			{"/api/v1/logs/archive/policies", w.evil, func() map[string]any {
				b := policyBody(name, "traversal-bucket", `{namespace="x"}`)
				b["destination"].(map[string]any)["prefix"] = name
				return b
			}()},
		} {
			r, err := s.call(tc.token, "POST", tc.path, tc.body)
			if err != nil {
				t.Errorf("POST %s with name %q: %v", tc.path, name, err)
				continue
			}
			n++
			codes[r.code]++
			if r.code >= 500 {
				t.Errorf("POST %s with name %q: got %s; want no 5xx", tc.path, name, r)
			}
			if l := leaked(r); l != "" {
				t.Errorf("POST %s with name %q: the answer holds %s", tc.path, name, l)
			}
			if r.code/100 == 2 {
				t.Logf("POST %s with name %q: accepted (%d)", tc.path, name, r.code)
				removeCreated(t, s, tc.token, tc.path, r)
			}
		}
	}
	t.Logf("%d requests; answers by status: %v", n, codes)
}

// removeCreated deletes what a POST to path created, by the id in its
// answer.
func removeCreated(t *testing.T, s *server, token, path string, r reply) {
	t.Helper()
	var o struct {
		ID       string `json:"id"`
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(r.body, &o); err != nil {
		return
	}
	switch {
	case strings.HasPrefix(path, "/apis/") && o.Metadata.Name != "":
		s.do(t, token, "DELETE", path+"/"+url.PathEscape(o.Metadata.Name), nil)
	case path == "/api/v1/logs/collect":
		s.do(t, token, "DELETE", "/api/v1/logs/collect/jobs/"+url.PathEscape(o.ID), nil)
	case path == "/api/v1/logs/tokens":
		s.do(t, token, "DELETE", path+"/"+url.PathEscape(o.ID)+"?all=true", nil)
	case o.ID != "":
		s.do(t, token, "DELETE", path+"/"+url.PathEscape(o.ID), nil)
	}
}
