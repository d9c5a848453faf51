package collect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/apiclient"
	"github.com/kubelog/kubelog/test/e2e/testenv"
)

// call sends a JSON request to the server with token and decodes the JSON
// answer into out (when not nil); it returns the status and the raw body.
func (p *serveProc) call(t *testing.T, token, method, path string, body any, out any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	resp, b, err := testenv.Request(testenv.HTTP, method, p.URL+"/api/v1/logs"+path, token, rd, "Content-Type", "application/json")
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode, string(b)
}

// must is call that fails the test unless the status is want.
func (p *serveProc) must(t *testing.T, want int, method, path string, body any, out any) string {
	t.Helper()
	code, b := p.call(t, serveToken, method, path, body, out)
	if code != want {
		t.Fatalf("%s %s: got %d %s; want %d", method, path, code, b, want)
	}
	return b
}

// errorID checks an error answer's status and id.
func (p *serveProc) errorID(t *testing.T, method, path string, body any, wantCode int, wantID string) string {
	t.Helper()
	code, b := p.call(t, serveToken, method, path, body, nil)
	var e apiclient.ErrorBody
	_ = json.Unmarshal([]byte(b), &e)
	if code != wantCode || e.ID != wantID {
		t.Fatalf("%s %s: got %d %s; want %d with id %s", method, path, code, b, wantCode, wantID)
	}
	return e.Message
}

// waitJob polls a job until its status is one of want.
func (p *serveProc) waitJob(t *testing.T, id string, want ...string) apiclient.CollectJob {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var j apiclient.CollectJob
		p.must(t, 200, "GET", "/collect/jobs/"+id, nil, &j)
		if slices.Contains(want, j.Status) {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s is %s; want %v", id, j.Status, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitLines waits until the server holds exactly what cs wrote, comparing
// multisets, and fails after timeout.
func (p *serveProc) waitLines(t *testing.T, ns string, cs []*container, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := p.logs(t, ns)
		diff := ""
		for _, c := range cs {
			if d := testenv.DiffMultiset(got[c.key()], c.written()); d != "" {
				diff += c.key() + ": " + d + "; "
			}
		}
		if diff == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, diff)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestAPI drives clusters, collection configs, jobs and the live listings
// through the real binary's HTTP API.
func TestAPI(t *testing.T) {
	testenv.SkipIfDisabled(t)
	dataDir := t.TempDir()
	p := startServe(t, dataDir)

	// The --kubeconfig context is cluster "default" with an all-namespaces
	// config; credentials never come back.
	var list apiclient.ClusterList
	p.must(t, 200, "GET", "/clusters/configs", nil, &list)
	if list.Total != 1 || list.Clusters[0].ID != "default" || list.Clusters[0].Name != "default" || list.Clusters[0].Kubeconfig != "<redacted>" {
		t.Fatalf("cluster configs: got %+v; want the default cluster, redacted", list)
	}
	var cfgs apiclient.CollectionList
	p.must(t, 200, "GET", "/config?cluster_id=default", nil, &cfgs)
	if cfgs.Total != 1 || cfgs.Configs[0].Namespace != "*" || !cfgs.Configs[0].Enabled || !cfgs.Configs[0].IncludeInit {
		t.Fatalf("collection configs: got %+v; want one enabled all-namespaces config", cfgs)
	}
	defaultCfg := cfgs.Configs[0].ID
	var health apiclient.Health
	p.must(t, 200, "GET", "/health", nil, &health)
	if health.Components["clusters"].Status != "ok" {
		t.Fatalf("health: got %+v; want the clusters component ok", health)
	}

	t.Run("ClusterConfigs", func(t *testing.T) { testClusterConfigs(t, p) })

	// From here on only explicit configs and jobs collect.
	p.must(t, 200, "POST", "/config/disable/cluster", map[string]any{"cluster_id": "default"}, nil)
	var dc apiclient.CollectionConfig
	p.must(t, 200, "GET", "/config?id="+defaultCfg, nil, &dc)
	if dc.Enabled {
		t.Fatalf("after disable/cluster: got %+v; want disabled", dc)
	}

	t.Run("ConfigToggle", func(t *testing.T) { testConfigToggle(t, p) })
	t.Run("OneTimeJob", func(t *testing.T) { testOneTimeJob(t, p) })
	t.Run("Live", func(t *testing.T) { testLive(t, p) })
	t.Run("ContinuousJobAcrossRestart", func(t *testing.T) { testContinuousJob(t, p, dataDir) })
}

func testClusterConfigs(t *testing.T, p *serveProc) {
	kubeconfig, err := os.ReadFile(cluster.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	kc := string(kubeconfig)

	// Bad input and failed connection checks are 400s that say which.
	p.errorID(t, "POST", "/clusters/configs", map[string]any{"kubeconfig": kc}, 400, "bad_request")
	p.errorID(t, "POST", "/clusters/configs", map[string]any{"name": "Bad Name", "kubeconfig": kc}, 400, "bad_request")
	p.errorID(t, "POST", "/clusters/configs", map[string]any{"name": "x"}, 400, "bad_request")
	p.errorID(t, "POST", "/clusters/configs", map[string]any{"name": "x", "kubeconfig": "{not yaml"}, 400, "invalid_kubeconfig")
	p.errorID(t, "POST", "/clusters/configs", map[string]any{"name": "x", "kubeconfig": kc, "context": "nope"}, 400, "invalid_kubeconfig")
	p.errorID(t, "POST", "/clusters/configs", map[string]any{"name": "x", "kubeconfig": kc, "bogus": 1}, 400, "bad_request")
	badToken := strings.Replace(kc, "token: ", "token: wrong", 1)
	if badToken == kc {
		t.Fatal("the test kubeconfig has no token to spoil")
	}
	msg := p.errorID(t, "POST", "/clusters/configs", map[string]any{"name": "x", "kubeconfig": badToken}, 400, "bad_credentials")
	t.Logf("bad credentials: %s", msg)
	unreachable := strings.Replace(kc, cluster.RESTConfig().Host, "https://127.0.0.1:1", 1)
	msg = p.errorID(t, "POST", "/clusters/configs", map[string]any{"name": "x", "kubeconfig": unreachable}, 400, "endpoint_unreachable")
	t.Logf("unreachable: %s", msg)

	// Create, read, update and delete; the kubeconfig is never shown.
	var c apiclient.Cluster
	body := p.must(t, 201, "POST", "/clusters/configs", map[string]any{"name": "second", "kubeconfig": kc}, &c)
	if c.Kubeconfig != "<redacted>" || c.Name != "second" || c.Tenant != "default" || c.ID == "" || c.CreatedAt == "" || strings.Contains(body, "token") {
		t.Fatalf("created: got %s", body)
	}
	p.errorID(t, "POST", "/clusters/configs", map[string]any{"name": "second", "kubeconfig": kc}, 409, "conflict")
	var got apiclient.Cluster
	p.must(t, 200, "GET", "/clusters/configs?id="+c.ID, nil, &got)
	if got.Kubeconfig != "<redacted>" || got.Name != "second" {
		t.Fatalf("get: got %+v", got)
	}
	p.errorID(t, "PUT", "/clusters/configs/"+c.ID, map[string]any{"kubeconfig": badToken}, 400, "bad_credentials")
	p.must(t, 200, "PUT", "/clusters/configs?id="+c.ID, map[string]any{"name": "renamed"}, &got)
	if got.Name != "renamed" || got.Kubeconfig != "<redacted>" {
		t.Fatalf("update: got %+v", got)
	}
	// Status and metrics show the new cluster connected.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st apiclient.ClusterStatusList
		p.must(t, 200, "GET", "/clusters/status", nil, &st)
		ok := len(st.Clusters) == 2
		for _, s := range st.Clusters {
			ok = ok && s.Reachable && s.ServerVersion != ""
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status: got %+v; want both clusters reachable", st)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var m apiclient.ClusterMetrics
	p.must(t, 200, "GET", "/clusters/"+c.ID+"/metrics", nil, &m)
	if m.Name != "renamed" || !m.Reachable {
		t.Fatalf("metrics: got %v", m)
	}
	var rf apiclient.ClusterRefresh
	p.must(t, 200, "POST", "/clusters/refresh", map[string]any{"cluster_id": c.ID}, &rf)
	if len(rf.Refreshed) != 1 || rf.Refreshed[0] != c.ID {
		t.Fatalf("refresh one: got %+v", rf)
	}
	p.must(t, 200, "POST", "/clusters/refresh", nil, &rf)
	if len(rf.Refreshed) != 2 {
		t.Fatalf("refresh all: got %+v", rf)
	}

	// Another tenant sees none of this tenant's clusters.
	var tok apiclient.Token
	p.must(t, 201, "POST", "/tokens", map[string]any{"tenant": "team-b", "name": "mgr", "scopes": "read,manage"}, &tok)
	code, b := p.call(t, tok.Token, "GET", "/clusters/configs", nil, nil)
	if code != 200 || !strings.Contains(b, `"total":0`) {
		t.Fatalf("other tenant's list: got %d %s", code, b)
	}
	for _, req := range [][2]string{{"GET", "/clusters/configs?id=" + c.ID}, {"DELETE", "/clusters/configs/" + c.ID}, {"GET", "/clusters/" + c.ID + "/metrics"}} {
		if code, b := p.call(t, tok.Token, req[0], req[1], nil, nil); code != 404 {
			t.Fatalf("other tenant %s %s: got %d %s; want 404", req[0], req[1], code, b)
		}
	}
	if code, b := p.call(t, tok.Token, "POST", "/config", map[string]any{"cluster_id": c.ID, "namespace": "x"}, nil); code != 400 {
		t.Fatalf("other tenant's config on this cluster: got %d %s; want 400", code, b)
	}

	p.must(t, 200, "DELETE", "/clusters/configs/"+c.ID, nil, nil)
	p.errorID(t, "GET", "/clusters/configs?id="+c.ID, nil, 404, "not_found")
	p.must(t, 200, "GET", "/clusters/configs", nil, &struct{}{})
}

// testConfigToggle is case (f) through the API: a namespace's config is
// disabled while its containers write, then enabled again, and the stored
// lines are exactly those written.
func testConfigToggle(t *testing.T, p *serveProc) {
	const ns = "api-toggle"
	// Bad configs are 400s naming the field.
	for _, body := range []map[string]any{
		{"cluster_id": "default"},
		{"cluster_id": "default", "namespace": "Bad_NS"},
		{"cluster_id": "default", "namespace": ns, "label_selector": "a in ("},
		{"cluster_id": "nope", "namespace": ns},
		{"cluster_id": "default", "namespace": ns, "only_containers": []string{"A B"}},
	} {
		p.errorID(t, "POST", "/config", body, 400, "bad_request")
	}
	var cfg apiclient.CollectionConfig
	p.must(t, 201, "POST", "/config", map[string]any{"cluster_id": "default", "namespace": ns}, &cfg)
	if !cfg.Enabled || !cfg.IncludeInit || cfg.Namespace != ns {
		t.Fatalf("created config: got %+v; want enabled with include_init by default", cfg)
	}
	cs := newPod(t, ns, "toggle-0", []string{"app", "side"}, testenv.PodOptions{})
	write := func(phase string, n int) {
		for i := range n {
			for _, c := range cs {
				c.write(t, fmt.Sprintf("%s %s line %d", phase, c.name, i))
			}
		}
	}
	write("before", 50)
	p.waitLines(t, ns, cs, 30*time.Second)

	var dis apiclient.Disabled
	p.must(t, 200, "POST", "/config/disable", map[string]any{"cluster_id": "default", "namespace": ns}, &dis)
	if dis.Disabled != 1 {
		t.Fatalf("disable namespace: got %+v; want 1 config disabled", dis)
	}
	time.Sleep(6 * time.Second) // changes apply within 5s
	stored := len(p.logs(t, ns)[cs[0].key()])
	write("while-disabled", 50)
	time.Sleep(2 * time.Second)
	if now := len(p.logs(t, ns)[cs[0].key()]); now != stored {
		t.Fatalf("collection went on while disabled: %d lines, then %d", stored, now)
	}
	var bulk apiclient.BulkUpdated
	p.must(t, 200, "POST", "/config/bulk-update", map[string]any{"ids": []string{cfg.ID}, "enabled": true}, &bulk)
	if bulk.Updated != 1 {
		t.Fatalf("bulk update: got %+v", bulk)
	}
	write("after", 50)
	start := time.Now()
	p.waitLines(t, ns, cs, 30*time.Second)
	t.Logf("re-enabled: every line stored exactly once %v after the last write", time.Since(start).Round(time.Millisecond))
	p.errorID(t, "POST", "/config/bulk-update", map[string]any{"ids": []string{"nope"}, "enabled": true}, 400, "bad_request")
	p.errorID(t, "POST", "/config/bulk-update", map[string]any{"ids": []string{cfg.ID}}, 400, "bad_request")
	var upd apiclient.CollectionConfig
	p.must(t, 200, "PUT", "/config?id="+cfg.ID, map[string]any{"label_selector": "app=none"}, &upd)
	if upd.LabelSelector != "app=none" || upd.Namespace != ns {
		t.Fatalf("update: got %+v", upd)
	}
	p.must(t, 200, "DELETE", "/config/"+cfg.ID, nil, nil)
	p.errorID(t, "DELETE", "/config/"+cfg.ID, nil, 404, "not_found")
}

// testOneTimeJob is case (g) through the API: a one-time job with
// tail_lines stores exactly each container's last lines and finishes.
func testOneTimeJob(t *testing.T, p *serveProc) {
	const ns = "api-once"
	cs := newPod(t, ns, "once-0", []string{"app"}, testenv.PodOptions{})
	for i := range 100 {
		cs[0].write(t, fmt.Sprintf("once line %d", i))
	}
	p.errorID(t, "POST", "/collect", map[string]any{"pods": []string{"once-0"}}, 400, "bad_request")
	p.errorID(t, "POST", "/collect", map[string]any{"namespace": ns, "tail_lines": -1}, 400, "bad_request")
	p.errorID(t, "POST", "/collect", map[string]any{"namespace": ns, "since": "banana"}, 400, "bad_request")
	p.errorID(t, "POST", "/collect", map[string]any{"namespace": ns, "cluster_id": "nope"}, 400, "bad_request")
	var j apiclient.CollectJob
	p.must(t, 201, "POST", "/collect", map[string]any{"cluster_id": "default", "namespace": ns, "pods": []string{"once-0"}, "tail_lines": 10}, &j)
	if j.Type != "once" || (j.Status != "pending" && j.Status != "running") {
		t.Fatalf("created job: got %+v", j)
	}
	j = p.waitJob(t, j.ID, "succeeded", "failed")
	if j.Status != "succeeded" || j.Lines != 10 || len(j.Progress) != 1 || j.Progress[0].Lines != 10 || j.EndedAt == "" {
		t.Fatalf("job: got %+v; want succeeded with 10 lines", j)
	}
	want := cs[0].written()[90:]
	if d := testenv.DiffMultiset(p.logs(t, ns)[cs[0].key()], want); d != "" {
		t.Fatalf("stored after tail_lines=10: %s", d)
	}
	var jobs apiclient.CollectJobList
	p.must(t, 200, "GET", "/collect/jobs", nil, &jobs)
	if jobs.Total < 1 || jobs.Jobs[0].ID != j.ID {
		t.Fatalf("job list: got %+v", jobs)
	}
	p.errorID(t, "DELETE", "/collect/jobs/"+j.ID, nil, 409, "conflict")
	p.errorID(t, "GET", "/collect/jobs/nope", nil, 404, "not_found")

	// A bulk job reads every pod of the namespace.
	var b apiclient.CollectJob
	p.must(t, 201, "POST", "/collect/bulk", map[string]any{"namespace": ns}, &b)
	b = p.waitJob(t, b.ID, "succeeded", "failed")
	if b.Status != "succeeded" || b.Lines != 100 {
		t.Fatalf("bulk job: got %+v; want succeeded with 100 lines", b)
	}
	if d := testenv.DiffMultiset(p.logs(t, ns)[cs[0].key()], cs[0].written()); d != "" {
		t.Fatalf("stored after the bulk job: %s", d)
	}

	// Without a namespace, a bulk job reads every namespace of the cluster
	// (other tests' pods may fail it; this pod must be read whole).
	var all apiclient.CollectJob
	p.must(t, 201, "POST", "/collect/bulk", map[string]any{"cluster_id": "default"}, &all)
	all = p.waitJob(t, all.ID, "succeeded", "failed")
	i := slices.IndexFunc(all.Progress, func(pp apiclient.PodProgress) bool {
		return pp.Pod == "once-0"
	})
	if i < 0 || all.Progress[i].Lines != 100 || all.Progress[i].Status != "succeeded" {
		t.Fatalf("cluster-wide bulk job: got %+v; want once-0 read whole", all)
	}
	t.Logf("cluster-wide bulk job: %s, %d containers, %d lines, errors %q", all.Status, len(all.Progress), all.Lines, all.Errors)
	if d := testenv.DiffMultiset(p.logs(t, ns)[cs[0].key()], cs[0].written()); d != "" {
		t.Fatalf("stored after the cluster-wide bulk job: %s", d)
	}
}

// testLive checks the live listings with cluster_id.
func testLive(t *testing.T, p *serveProc) {
	const ns = "api-live"
	var cfg apiclient.CollectionConfig
	p.must(t, 201, "POST", "/config", map[string]any{"cluster_id": "default", "namespace": ns, "only_containers": []string{"app"}}, &cfg)
	cs := newPod(t, ns, "live-0", []string{"app", "side"}, testenv.PodOptions{})
	cs[0].write(t, "live line")
	p.waitLines(t, ns, cs[:1], 30*time.Second)

	var nss apiclient.NamespaceList
	p.must(t, 200, "GET", "/namespaces?cluster_id=default", nil, &nss)
	i := slices.IndexFunc(nss.Namespaces, func(it apiclient.ListItem) bool { return it.Name == ns })
	if i < 0 || !nss.Namespaces[i].Live || !nss.Namespaces[i].Collected || nss.Namespaces[i].Entries != 1 {
		t.Fatalf("namespaces: got %+v; want %s live, collected, 1 entry", nss, ns)
	}
	if i := slices.IndexFunc(nss.Namespaces, func(it apiclient.ListItem) bool { return it.Name == "kube-system" }); i < 0 || nss.Namespaces[i].Collected {
		t.Fatalf("namespaces: kube-system missing or collected: %+v", nss)
	}
	var pods apiclient.PodList
	p.must(t, 200, "GET", "/pods?cluster_id=default&namespace="+ns, nil, &pods)
	if len(pods.Pods) != 1 || !pods.Pods[0].Live || !pods.Pods[0].Collected || pods.Pods[0].Name != "live-0" {
		t.Fatalf("pods: got %+v", pods)
	}
	var ctrs apiclient.ContainerList
	p.must(t, 200, "GET", "/containers?cluster_id=default&namespace="+ns+"&pod=live-0", nil, &ctrs)
	if len(ctrs.Containers) != 2 {
		t.Fatalf("containers: got %+v", ctrs)
	}
	for _, c := range ctrs.Containers {
		want := c.Name == "app"
		if !c.Live || c.Collected != want || c.State != "running" || (want && c.Entries != 1) {
			t.Fatalf("container %s: got %+v; want live, running, collected=%v", c.Name, c, want)
		}
	}
	// Without cluster_id the listing is the store's, as before.
	var stored apiclient.PodList
	p.must(t, 200, "GET", "/pods?namespace="+ns, nil, &stored)
	if len(stored.Pods) != 1 || stored.Pods[0].Live {
		t.Fatalf("store-only pods: got %+v", stored)
	}
	p.errorID(t, "GET", "/pods?cluster_id=nope", nil, 404, "not_found")
	p.must(t, 200, "DELETE", "/config/"+cfg.ID, nil, nil)
}

// testContinuousJob: a continuous job follows a pod, kubelog is killed with
// -9 and started again, the job resumes, and every line is stored once;
// cancelling it stops collection.
func testContinuousJob(t *testing.T, p *serveProc, dataDir string) {
	const ns = "api-cont"
	cs := newPod(t, ns, "cont-0", []string{"app"}, testenv.PodOptions{})
	p.errorID(t, "POST", "/collect/continuous", map[string]any{"namespace": ns, "tail_lines": 5}, 400, "bad_request")
	var j apiclient.CollectJob
	p.must(t, 201, "POST", "/collect/continuous", map[string]any{"namespace": ns, "pods": []string{"cont-0"}}, &j)
	if j.Status != "running" || j.Type != "continuous" {
		t.Fatalf("continuous job: got %+v", j)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			cs[0].write(t, fmt.Sprintf("continuous line %d", i))
		}
	})
	time.Sleep(1500 * time.Millisecond)
	_ = p.Kill()
	time.Sleep(500 * time.Millisecond)
	p2 := startServe(t, dataDir)
	*p = *p2
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()
	p.waitLines(t, ns, cs, 60*time.Second)
	// The restart registered the --kubeconfig cluster again without a
	// duplicate, and kept its (disabled) all-namespaces config as it was.
	var list apiclient.ClusterList
	p.must(t, 200, "GET", "/clusters/configs", nil, &list)
	var cfgs apiclient.CollectionList
	p.must(t, 200, "GET", "/config?cluster_id=default&namespace=*", nil, &cfgs)
	if list.Total != 1 || len(cfgs.Configs) != 1 || cfgs.Configs[0].Enabled {
		t.Fatalf("after restart: %d clusters, configs %+v; want 1 cluster and its one disabled config", list.Total, cfgs.Configs)
	}
	got := p.waitJob(t, j.ID, "running")
	if got.Lines != int64(len(cs[0].written())) || len(got.Progress) != 1 {
		t.Fatalf("job after restart: got %+v; want %d lines", got, len(cs[0].written()))
	}
	p.must(t, 200, "DELETE", "/collect/jobs/"+j.ID, nil, &got)
	if got.Status != "cancelled" || got.EndedAt == "" {
		t.Fatalf("cancelled job: got %+v", got)
	}
	time.Sleep(6 * time.Second)
	before := len(cs[0].written())
	cs[0].write(t, "after cancel")
	time.Sleep(2 * time.Second)
	if n := len(p.logs(t, ns)[cs[0].key()]); n != before {
		t.Fatalf("after cancel: %d lines stored; want %d", n, before)
	}
}
