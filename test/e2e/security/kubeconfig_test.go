package security_test

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/apiclient"
)

// kubeconfigDoc returns a kubeconfig (as JSON, which is YAML) with one
// cluster "c", one user "u" and a current context using both.
func kubeconfigDoc(cluster, user map[string]any) string {
	b, err := json.Marshal(map[string]any{
		"apiVersion": "v1", "kind": "Config",
		"clusters":        []any{map[string]any{"name": "c", "cluster": cluster}},
		"users":           []any{map[string]any{"name": "u", "user": user}},
		"contexts":        []any{map[string]any{"name": "x", "context": map[string]any{"cluster": "c", "user": "u"}}},
		"current-context": "x",
	})
	if err != nil {
		panic("BUG: " + err.Error())
	}
	return string(b)
}

// realClusterEntry is the test cluster's entry: its server and CA.
func realClusterEntry() map[string]any {
	return map[string]any{"server": cluster.RESTConfig().Host,
		"certificate-authority-data": base64.StdEncoding.EncodeToString(cluster.RESTConfig().CAData)}
}

// TestKubeconfigPlugins is attack 1: a kubeconfig whose user runs a program
// (an exec credential plugin, an auth-provider with a command) is refused
// before anything of it is used, on create and on update, however the
// plugin is smuggled in; the program never runs.
func TestKubeconfigPlugins(t *testing.T) {
	w := shared(t)
	s := w.srv
	marker := filepath.Join(t.TempDir(), "marker")
	script := "id > " + marker
	issuer := newTLSTrap(t) // an OIDC issuer a refresh would call
	exec := map[string]any{"apiVersion": "client.authentication.k8s.io/v1", "command": "/bin/sh",
		"args": []string{"-c", script}, "interactiveMode": "Never"}
	for _, tc := range []struct {
		name, field string
		doc         string
	}{
		{"exec", "users[0].user.exec", kubeconfigDoc(realClusterEntry(), map[string]any{"exec": exec})},
		{"exec-with-token", "users[0].user.exec", kubeconfigDoc(realClusterEntry(), map[string]any{"token": "x", "exec": exec})},
		{"auth-provider-command", "users[0].user.auth-provider", kubeconfigDoc(realClusterEntry(), map[string]any{"auth-provider": map[string]any{
			"name": "gcp", "config": map[string]any{"cmd-path": "/bin/sh", "cmd-args": "-c '" + script + "'"}}})},
		{"auth-provider-oidc", "users[0].user.auth-provider", kubeconfigDoc(realClusterEntry(), map[string]any{"auth-provider": map[string]any{
			"name": "oidc", "config": map[string]any{"idp-issuer-url": issuer.URL, "client-id": "x", "refresh-token": "x", "id-token": "x"}}})},
		// client-go decodes JSON field names case-insensitively.
		{"exec-capitalised", "users[0].user.Exec", kubeconfigDoc(realClusterEntry(), map[string]any{"Exec": exec})},
		// A user no context names is refused all the same.
		{"exec-in-unused-user", "users[1].user.exec", func() string {
			var m map[string]any
			_ = json.Unmarshal([]byte(kubeconfigDoc(realClusterEntry(), map[string]any{"token": cluster.RESTConfig().BearerToken})), &m)
			m["users"] = append(m["users"].([]any), map[string]any{"name": "spare", "user": map[string]any{"exec": exec}})
			b, _ := json.Marshal(m)
			return string(b)
		}()},
		// A YAML merge key pulling the plugin in from an anchor elsewhere.
		{"exec-through-merge-key", "", `apiVersion: v1
kind: Config
preferences: &plugin
  exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh, args: ["-c", "` + script + `"]}
clusters: [{name: c, cluster: {server: "` + cluster.RESTConfig().Host + `", insecure-skip-tls-verify: true}}]
users:
- name: u
  user:
    <<: *plugin
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`},
		// Two "user" keys: a decoder keeping the last one would see exec.
		{"exec-in-duplicate-key", "", `{"apiVersion":"v1","kind":"Config",
"clusters":[{"name":"c","cluster":{"server":"` + cluster.RESTConfig().Host + `","insecure-skip-tls-verify":true}}],
"users":[{"name":"u","user":{"token":"x"},"user":{"exec":{"apiVersion":"client.authentication.k8s.io/v1","command":"/bin/sh","args":["-c","` + script + `"]}}}],
"contexts":[{"name":"x","context":{"cluster":"c","user":"u"}}],"current-context":"x"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(t, w.evil, "POST", "/api/v1/logs/clusters/configs", map[string]string{"name": "plugin", "kubeconfig": tc.doc})
			wantError(t, "create", r, 400, "invalid_kubeconfig")
			if tc.field != "" && !strings.Contains(r.msg, tc.field) {
				t.Errorf("create: message %q does not name %s", r.msg, tc.field)
			}
			r = s.do(t, w.evil, "PUT", "/api/v1/logs/clusters/configs/"+w.evilCluster, map[string]string{"kubeconfig": tc.doc})
			wantError(t, "update of evil's cluster", r, 400, "invalid_kubeconfig")
			if tc.field != "" && !strings.Contains(r.msg, tc.field) {
				t.Errorf("update: message %q does not name %s", r.msg, tc.field)
			}
		})
	}
	// Nothing ran, now or later (a retry in the background, a collector).
	noFileAppears(t, marker, 2*time.Second)
	issuer.untouched(t)
	var list apiclient.ClusterList
	s.must(t, w.evil, 200, "GET", "/api/v1/logs/clusters/configs", nil, &list)
	if len(list.Clusters) != 1 || list.Clusters[0].ID != w.evilCluster || list.Clusters[0].Name != "evil-c" {
		t.Errorf("evil's clusters after the refusals: got %+v; want only evil-c, unchanged", list.Clusters)
	}
}

// TestKubeconfigFiles is attack 2: a kubeconfig naming files on the server
// (the server's own admin token as tokenFile, a CA, a client certificate or
// key) is refused naming the field, before the file is read or the server
// connected to; whether a path exists, is readable or is a valid CA does
// not change the answer.
func TestKubeconfigFiles(t *testing.T) {
	w := shared(t)
	s := w.srv
	trap := newTLSTrap(t)
	trapCluster := func(extra map[string]any) map[string]any {
		c := map[string]any{"server": trap.URL}
		if len(extra) == 0 {
			c["insecure-skip-tls-verify"] = true
		}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	adminTokenFile := filepath.Join(s.DataDir, "admin-token")
	if b, err := os.ReadFile(adminTokenFile); err != nil || strings.TrimSpace(string(b)) != s.admin {
		t.Fatalf("the shared server's admin token is not in %s (%v)", adminTokenFile, err)
	}
	create := func(t *testing.T, doc string) reply {
		t.Helper()
		return s.do(t, w.evil, "POST", "/api/v1/logs/clusters/configs", map[string]string{"name": "files", "kubeconfig": doc})
	}

	// Each field naming a file gets the same answer for a file that cannot
	// be read by others, one that does not exist and one that is readable
	// and fits (the cluster's own CA, the API server's certificate and key).
	ca, crt, key := filepath.Join(cluster.Dir(), "ca.crt"), filepath.Join(cluster.Dir(), "apiserver.crt"), filepath.Join(cluster.Dir(), "apiserver.key")
	for _, tc := range []struct {
		field    string
		readable string
		doc      func(path string) string
	}{
		{"clusters[0].cluster.certificate-authority", ca, func(p string) string {
			return kubeconfigDoc(trapCluster(map[string]any{"certificate-authority": p}), map[string]any{"token": "x"})
		}},
		{"users[0].user.client-certificate", crt, func(p string) string {
			return kubeconfigDoc(trapCluster(nil), map[string]any{"client-certificate": p, "client-key-data": base64.StdEncoding.EncodeToString(mustRead(t, key))})
		}},
		{"users[0].user.client-key", key, func(p string) string {
			return kubeconfigDoc(trapCluster(nil), map[string]any{"client-certificate-data": base64.StdEncoding.EncodeToString(mustRead(t, crt)), "client-key": p})
		}},
		{"users[0].user.tokenFile", adminTokenFile, func(p string) string {
			return kubeconfigDoc(trapCluster(nil), map[string]any{"tokenFile": p})
		}},
	} {
		name := tc.field[strings.LastIndexByte(tc.field, '.')+1:]
		t.Run(name, func(t *testing.T) {
			var first reply
			for i, path := range []string{"/etc/shadow", "/nonexistent/kubelog-e2e/file", tc.readable} {
				r := create(t, tc.doc(path))
				wantError(t, tc.field+" = "+path, r, 400, "invalid_kubeconfig")
				if !strings.Contains(r.msg, tc.field) {
					t.Errorf("%s = %s: message %q does not name the field", tc.field, path, r.msg)
				}
				if r.has(s.admin) {
					t.Errorf("%s = %s: the answer holds the admin token", tc.field, path)
				}
				if strings.Contains(r.msg, path) {
					t.Errorf("%s = %s: the message repeats the path: %q", tc.field, path, r.msg)
				}
				if i == 0 {
					first = r
				} else if r.code != first.code || r.id != first.id || r.msg != first.msg {
					t.Errorf("%s: the answers differ by path, which tells the path's existence or kind:\n  /etc/shadow: %d %s %q\n  %s: %d %s %q",
						tc.field, first.code, first.id, first.msg, path, r.code, r.id, r.msg)
				}
			}
		})
	}

	t.Run("proxy-url", func(t *testing.T) {
		r := create(t, kubeconfigDoc(map[string]any{"server": cluster.RESTConfig().Host, "insecure-skip-tls-verify": true, "proxy-url": trap.URL},
			map[string]any{"token": cluster.RESTConfig().BearerToken}))
		wantError(t, "proxy-url", r, 400, "invalid_kubeconfig")
		if !strings.Contains(r.msg, "clusters[0].cluster.proxy-url") {
			t.Errorf("message %q does not name clusters[0].cluster.proxy-url", r.msg)
		}
	})

	time.Sleep(500 * time.Millisecond) // a connection would have been made by now
	trap.untouched(t, s.admin, cluster.RESTConfig().BearerToken)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
