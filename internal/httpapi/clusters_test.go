package httpapi

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/clusters"
	"github.com/kubelog/kubelog/internal/collector"
	"github.com/kubelog/kubelog/internal/secrets"
)

const unreachableKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:1
contexts:
- name: ctx
  context:
    cluster: c
    user: u
current-context: ctx
users:
- name: u
  user:
    token: secret-token
`

func TestClusterRoutesWithoutService(t *testing.T) {
	e := newEnv(t, noLimits())
	if code, body, _ := e.do("admin", "GET", "/api/v1/logs/clusters/configs", nil); code != 503 || !strings.Contains(string(body), `"unavailable"`) {
		t.Fatalf("without a clusters service: got %d %s; want 503", code, body)
	}
	if code, _, _ := e.do("a-read", "POST", "/api/v1/logs/config", map[string]any{"namespace": "x"}); code != 403 {
		t.Fatalf("read token managing configs: got %d; want 403", code)
	}
}

// testKeys returns a keyring for sealing test secrets.
func testKeys(t *testing.T) *secrets.Keyring {
	t.Helper()
	k, err := secrets.NewKeyring(make([]byte, secrets.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// withClusters wires a clusters service with an unreachable cluster
// "default" in tenant default, and returns its collector.
func withClusters(t *testing.T, e *env) *collector.Manager {
	t.Helper()
	m, err := collector.NewManager(collector.DefaultConfig(), e.st, &collector.MemoryCheckpoints{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	cfg := clusters.DefaultConfig()
	cfg.Keys = testKeys(t)
	svc := clusters.New(cfg, e.db, m, e.st)
	t.Cleanup(svc.Close)
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(unreachableKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := svc.EnsureDefault(t.Context(), path, ""); err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.api.clusters = svc
	return m
}

func TestClusterRoutesBadInput(t *testing.T) {
	e := newEnv(t, noLimits())
	withClusters(t, e)
	f := func(method, path string, body any, wantCode int, wantInMessage string) {
		t.Helper()
		code, b, _ := e.do("admin", method, "/api/v1/logs"+path, body)
		if code != wantCode || !strings.Contains(string(b), wantInMessage) {
			t.Errorf("%s %s %v: got %d %s; want %d mentioning %q", method, path, body, code, b, wantCode, wantInMessage)
		}
	}
	f("GET", "/clusters/configs", nil, 200, `"kubeconfig":"<redacted>"`)
	f("GET", "/clusters/configs?id=default", nil, 200, `"name":"default"`)
	f("POST", "/clusters/configs", map[string]any{"name": "x"}, 400, "kubeconfig")
	f("POST", "/clusters/configs", map[string]any{"name": "x", "kubeconfig": unreachableKubeconfig}, 400, "endpoint_refused_by_policy")
	f("POST", "/clusters/configs", map[string]any{"name": 5}, 400, "name")
	f("PUT", "/clusters/configs", map[string]any{"name": "x"}, 400, "id")
	f("DELETE", "/clusters/configs?id=nope", nil, 404, "not_found")
	f("POST", "/clusters/refresh", map[string]any{"cluster_id": "nope"}, 404, "not_found")
	f("GET", "/clusters/nope/metrics", nil, 404, "not_found")
	f("POST", "/config", map[string]any{"namespace": "Bad"}, 400, "namespace")
	f("POST", "/config", map[string]any{"namespace": "ns", "label_selector": "a in ("}, 400, "label_selector")
	f("POST", "/config", map[string]any{"namespace": "ns", "only_containers": "app"}, 400, "only_containers")
	f("PUT", "/config/nope", map[string]any{"enabled": false}, 404, "not_found")
	f("POST", "/config/bulk-update", map[string]any{"enabled": true}, 400, "ids")
	f("POST", "/config/bulk-update", map[string]any{"ids": []string{"x"}}, 400, "enabled")
	f("POST", "/config/disable", map[string]any{"cluster_id": "default"}, 400, "namespace")
	f("POST", "/config/disable/cluster", map[string]any{}, 400, "cluster_id")
	f("POST", "/config/disable/cluster", map[string]any{"cluster_id": "nope"}, 400, "cluster_id")
	f("POST", "/collect", map[string]any{}, 400, "namespace")
	f("POST", "/collect", map[string]any{"namespace": "ns", "since": "1h", "since_time": "2026-01-01T00:00:00Z"}, 400, "since")
	f("POST", "/collect", map[string]any{"namespace": "ns", "since_time": "yesterday"}, 400, "since_time")
	f("POST", "/collect", map[string]any{"namespace": "ns", "tail_lines": -3}, 400, "tail_lines")
	f("POST", "/collect/continuous", map[string]any{"namespace": "ns", "previous": true}, 400, "tail_lines")
	f("POST", "/collect/bulk", map[string]any{"pods": []string{"p"}}, 400, "pods")
	f("GET", "/collect/jobs?status=done", nil, 400, "status")
	f("GET", "/collect/jobs?limit=0", nil, 400, "limit")
	f("GET", "/collect/jobs/nope", nil, 404, "not_found")
	f("DELETE", "/collect/jobs/nope", nil, 404, "not_found")
	f("GET", "/pods?cluster_id=nope", nil, 404, "not_found")

	for _, path := range []string{"/clusters/configs", "/clusters/configs?id=default", "/clusters/status", "/clusters/default/metrics"} {
		if _, b, _ := e.do("admin", "GET", "/api/v1/logs"+path, nil); strings.Contains(string(b), "secret-token") {
			t.Fatalf("GET %s shows the credentials: %s", path, b)
		}
	}

	// Another tenant's manager sees none of it.
	code, b, _ := e.do("b-manage", "GET", "/api/v1/logs/clusters/configs", nil)
	if code != 200 || !strings.Contains(string(b), `"total":0`) {
		t.Fatalf("team-b's clusters: got %d %s; want none", code, b)
	}
	if code, _, _ := e.do("b-manage", "GET", "/api/v1/logs/config?cluster_id=default", nil); code != 200 {
		t.Fatalf("team-b's configs: got %d", code)
	}
	code, b, _ = e.do("b-manage", "POST", "/api/v1/logs/collect", map[string]any{"namespace": "ns"})
	if code != 400 || !strings.Contains(string(b), "cluster_id") {
		t.Fatalf("team-b's job without a default cluster: got %d %s; want 400 naming cluster_id", code, b)
	}
}

func TestHealthDegradedWhileClusterUnreachable(t *testing.T) {
	e := newEnv(t, noLimits())
	withClusters(t, e)
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, b, _ := e.do("", "GET", "/health", nil)
		if code == 200 && strings.Contains(string(b), `"status":"degraded"`) && strings.Contains(string(b), "1 of 1 clusters unreachable") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/health: got %d %s; want degraded by the unreachable cluster", code, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
