package apps_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	"github.com/kubelog/kubelog/internal/apiclient"
	"github.com/kubelog/kubelog/test/e2e/testenv"
)

// rollout is the Deployment of cases (a), (c), (e) and (f): rolled out twice,
// RUN logs written by each revision's pod. Its tests share it.
type rollout struct {
	app        apiclient.App
	deps       []apiclient.Deployment // newest first
	v1, v2     []string
	v2File     *logFile
	rs2        string
	v2Pod      *corev1.Pod
	setupError string
}

var (
	rolloutOnce sync.Once
	shared      rollout
)

// rolledOut sets the shared rollout up once.
func rolledOut(t *testing.T) *rollout {
	t.Helper()
	rolloutOnce.Do(func() {
		ok := false
		defer func() {
			if !ok {
				shared.setupError = "rollout setup failed; see the first test that ran it"
			}
		}()
		const ns, name = "rollout", "web"
		createDeployment(t, deployment(ns, name, "web:v1", 1, []string{"app"}, nil))
		p1 := runningPod(t, ns, selector(name), name+"-")
		f1 := sharedLogFile(t, "web-v1.log")
		f1.write(t, "v1 line", 20)
		setLogs(t, p1, map[string]testenv.LogFiles{"app": {Current: f1.w.Path(), Follow: true}})
		a := findApp(t, ns, name)
		waitLines(t, logsURL(a.ID, a.ActiveDeploymentID, "app", "RUN"), f1.lines)

		ctx := testContext(t)
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			d, err := cluster.Client().AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			d.Spec.Template.Spec.Containers[0].Image = "web:v2"
			_, err = cluster.Client().AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		p2 := runningPod(t, ns, selector(name), name+"-", p1.Name)
		f2 := sharedLogFile(t, "web-v2.log")
		f2.write(t, "v2 line", 15)
		setLogs(t, p2, map[string]testenv.LogFiles{"app": {Current: f2.w.Path(), Follow: true}})
		deadline := time.Now().Add(30 * time.Second)
		for {
			a = findApp(t, ns, name)
			shared.deps = deployments(t, a.ID)
			if len(shared.deps) == 2 && a.ActiveDeploymentID == shared.deps[0].ID {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after 30s: %d deployments %+v, active %s; want 2, the newest active", len(shared.deps), shared.deps, a.ActiveDeploymentID)
			}
			time.Sleep(300 * time.Millisecond)
		}
		shared.app, shared.v1, shared.v2, shared.v2File, shared.v2Pod = a, f1.lines, f2.lines, f2, p2
		for _, r := range p2.OwnerReferences {
			shared.rs2 = r.Name
		}
		ok = true
	})
	if shared.setupError != "" {
		t.Fatal(shared.setupError)
	}
	return &shared
}

// TestRollout is case (a): a Deployment rolled out twice gives two
// deployments with the right revisions, and RUN logs per revision.
func TestRollout(t *testing.T) {
	testenv.SkipIfDisabled(t)
	t.Parallel()
	r := rolledOut(t)
	if r.deps[0].Revision != 2 || r.deps[1].Revision != 1 {
		t.Fatalf("revisions: got %d, %d; want 2, 1", r.deps[0].Revision, r.deps[1].Revision)
	}
	if r.deps[1].Phase != "SUPERSEDED" || !slices.Equal(r.deps[0].Components, []string{"app"}) {
		t.Fatalf("deployments: %+v", r.deps)
	}
	var one apiclient.DeploymentAnswer
	getJSON(t, "/v2/apps/"+r.app.ID+"/deployments/"+r.deps[1].ID, &one)
	if one.Deployment.ID != r.deps[1].ID || one.Deployment.Revision != 1 {
		t.Fatalf("GET deployment: %+v", one.Deployment)
	}
	var app apiclient.AppAnswer
	getJSON(t, "/v2/apps/"+r.app.ID, &app)
	if app.App.Kind != "Deployment" || app.App.Cluster != "default" || app.App.Name != "web" || app.App.CreatedAt.IsZero() {
		t.Fatalf("GET app: %+v", app.App)
	}
	waitLines(t, logsURL(r.app.ID, r.deps[1].ID, "app", "RUN"), r.v1)
	// TestLiveURL may add "live line" lines to revision 2's pod meanwhile.
	waitLinesExcept(t, logsURL(r.app.ID, r.deps[0].ID, "app", "RUN"), r.v2, liveLine)
	// The aggregates: the deployment's, and the app's (its active deployment).
	waitLines(t, "/v2/apps/"+r.app.ID+"/deployments/"+r.deps[1].ID+"/logs?type=RUN", r.v1)
	waitLinesExcept(t, "/v2/apps/"+r.app.ID+"/logs?type=run", r.v2, liveLine)
	t.Logf("revision 1: %d RUN lines, revision 2: %d RUN lines, exactly as written", len(r.v1), len(r.v2))
}

// TestDeployEvents is case (c): DEPLOY shows the rollout's Events.
func TestDeployEvents(t *testing.T) {
	testenv.SkipIfDisabled(t)
	t.Parallel()
	r := rolledOut(t)
	want := []string{
		"Normal ScalingReplicaSet Deployment/web: Scaled up replica set " + r.rs2,
		"Normal SuccessfulCreate ReplicaSet/" + r.rs2 + ": Created pod: " + r.v2Pod.Name,
		"Normal Scheduled Pod/" + r.v2Pod.Name + ": Successfully assigned rollout/" + r.v2Pod.Name + " to node-0",
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := download(t, logsURL(r.app.ID, r.deps[0].ID, "app", "DEPLOY"))
		missing := ""
		for _, w := range want {
			if len(linesWith(got, w)) == 0 {
				missing = w
			}
		}
		if missing == "" {
			// Revision 1's pod events belong to revision 1 only.
			old := download(t, logsURL(r.app.ID, r.deps[1].ID, "app", "DEPLOY"))
			if len(linesWith(old, r.v2Pod.Name)) != 0 {
				t.Fatalf("revision 1's DEPLOY logs mention revision 2's pod: %q", old)
			}
			t.Logf("DEPLOY of revision 2: %d lines, e.g. %q", len(got), got[0])
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("DEPLOY after 30s lacks %q: %q", missing, got)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestSignedURL is case (e): the url downloads the exact lines without a
// token; tampered and expired links are refused. It also checks the API's
// refusals: no token, a missing or UNSPECIFIED type, another tenant's app.
func TestSignedURL(t *testing.T) {
	testenv.SkipIfDisabled(t)
	t.Parallel()
	r := rolledOut(t)
	var l apiclient.AppLogs
	start := time.Now()
	getJSON(t, logsURL(r.app.ID, r.deps[1].ID, "app", "RUN"), &l)
	asked := time.Since(start)
	if l.LiveURL != "" || l.HistoricLogs == nil || len(l.HistoricLogs) != 0 {
		t.Fatalf("logs answer: %+v; want no live_url and historic_logs []", l)
	}
	start = time.Now()
	code, b := get(t, "", l.URL)
	if code != http.StatusOK || strings.Join(messages(t, b), "\n") != strings.Join(r.v1, "\n") {
		t.Fatalf("url: %d %q; want 200 and the %d lines", code, b, len(r.v1))
	}
	t.Logf("logs request %v, url download %v", asked.Round(time.Microsecond), time.Since(start).Round(time.Microsecond))
	if !strings.HasPrefix(string(b), "app ") {
		t.Fatalf("url lines do not start with the component: %q", b[:min(40, len(b))])
	}
	// Tampered: the payload's component changed, or the signature.
	tampered := []string{strings.Replace(l.URL, "token=", "token=x", 1), l.URL[:len(l.URL)-2] + "AA"}
	for _, u := range tampered {
		if code, b := get(t, "", u); code != http.StatusUnauthorized || !strings.Contains(string(b), `"id":"unauthorized"`) {
			t.Fatalf("tampered url: %d %s; want 401 unauthorized", code, b)
		}
	}
	checkRefusals(t, r)
	time.Sleep(linkTTL + time.Second)
	if code, b := get(t, "", l.URL); code != http.StatusUnauthorized || !strings.Contains(string(b), "expired") {
		t.Fatalf("expired url: %d %s; want 401 saying expired", code, b)
	}
}

func checkRefusals(t *testing.T, r *rollout) {
	t.Helper()
	path := "/v2/apps/" + r.app.ID + "/deployments/" + r.deps[0].ID + "/components/app/logs"
	f := func(token, p string, code int, id, say string) {
		t.Helper()
		got, b := get(t, token, p)
		var e apiclient.ErrorBody
		_ = json.Unmarshal(b, &e)
		if got != code || e.ID != id || !strings.Contains(e.Message, say) {
			t.Fatalf("GET %s: %d %s; want %d %s saying %q", p, got, b, code, id, say)
		}
	}
	f("", path+"?type=RUN", 401, "unauthorized", "token")
	f(adminToken, path, 400, "bad_request", "BUILD, DEPLOY, RUN, RUN_RESTARTED")
	f(adminToken, path+"?type=UNSPECIFIED", 400, "bad_request", "BUILD, DEPLOY, RUN, RUN_RESTARTED")
	f(adminToken, path+"?type=RUN&pod_connection_timeout=soon", 400, "bad_request", "pod_connection_timeout")
	f(adminToken, "/v2/apps/"+r.app.ID+"/deployments/"+r.deps[0].ID+"/components/nope/logs?type=RUN", 404, "not_found", "component")
	f(adminToken, "/v2/apps/no-such-app", 404, "not_found", "no-such-app")
	// Another tenant's token does not see the app.
	other := newToken(t, "other", "apps-e2e", "read")
	f(other, path+"?type=RUN", 404, "not_found", r.app.ID)
	f(other, "/v2/apps/"+r.app.ID, 404, "not_found", r.app.ID)
}

// liveLine starts the lines TestLiveURL writes.
const liveLine = "live line"

// TestLiveURL is case (f): a live_url WebSocket receives the lines written
// after it opened, as {"data":"<line>"} messages.
func TestLiveURL(t *testing.T) {
	testenv.SkipIfDisabled(t)
	t.Parallel()
	r := rolledOut(t)
	ctx := testContext(t)
	var l apiclient.AppLogs
	getJSON(t, logsURL(r.app.ID, r.deps[0].ID, "app", "RUN", "follow=true"), &l)
	if l.LiveURL == "" {
		t.Fatalf("follow=true gave no live_url: %+v", l)
	}
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(l.LiveURL, "http"), &websocket.DialOptions{HTTPClient: testenv.HTTP})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(websocket.StatusNormalClosure, "")
	// The same link as Server-Sent Events.
	sreq, _ := http.NewRequestWithContext(ctx, "GET", l.LiveURL, nil)
	sreq.Header.Set("Accept", "text/event-stream")
	sresp, err := testenv.HTTP.Do(sreq)
	if err != nil {
		t.Fatal(err)
	}
	defer sresp.Body.Close()
	if sresp.StatusCode != http.StatusOK || sresp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("SSE: %d %s", sresp.StatusCode, sresp.Header.Get("Content-Type"))
	}
	sse := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(sresp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var m apiclient.LiveLine
				if json.Unmarshal([]byte(d), &m) == nil {
					sse <- m.Data
				}
			}
		}
		close(sse)
	}()
	// Give the server a moment to subscribe before writing.
	time.Sleep(500 * time.Millisecond)
	before := len(r.v2File.lines)
	r.v2File.write(t, liveLine, 10)
	want := r.v2File.lines[before:]
	var got []string
	for len(got) < len(want) {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, b, err := c.Read(rctx)
		cancel()
		if err != nil {
			t.Fatalf("after %d of %d lines: %v", len(got), len(want), err)
		}
		var m apiclient.LiveLine
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("message %q: %v", b, err)
		}
		got = append(got, messages(t, []byte(m.Data))...)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("live lines: got %q; want %q", got, want)
	}
	var viaSSE []string
	for len(viaSSE) < len(want) {
		select {
		case d, ok := <-sse:
			if !ok {
				t.Fatalf("SSE ended after %d lines", len(viaSSE))
			}
			viaSSE = append(viaSSE, messages(t, []byte(d))...)
		case <-time.After(30 * time.Second):
			t.Fatalf("SSE: %d of %d lines after 30s", len(viaSSE), len(want))
		}
	}
	if strings.Join(viaSSE, "\n") != strings.Join(want, "\n") {
		t.Fatalf("SSE lines: got %q; want %q", viaSSE, want)
	}
	// -f prints the lines written after it started.
	follow := exec.CommandContext(ctx, kubelogBin, "apps", "logs", r.app.ID, "-f", "--component", "app")
	follow.Env = append(os.Environ(), "KUBELOG_SERVER="+serverURL, "KUBELOG_TOKEN="+adminToken)
	stdout, err := follow.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = follow.Process.Kill(); _ = follow.Wait() }()
	time.Sleep(2 * time.Second) // to connect
	before = len(r.v2File.lines)
	r.v2File.write(t, liveLine+" cli", 5)
	lf := r.v2File.lines[before:]
	cliLines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			cliLines <- sc.Text()
		}
	}()
	for _, w := range lf {
		select {
		case l := <-cliLines:
			if m := messages(t, []byte(l)); len(m) != 1 || m[0] != w {
				t.Fatalf("apps logs -f: got %q; want %q", l, w)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("apps logs -f: no line %q after 30s", w)
		}
	}
	t.Logf("live_url delivered the %d lines written after it opened", len(got))
}

// restart plays the kubelet restarting container app of pod p: kwok serves
// next as the current log and prev as the previous one, and the status says
// restartCount n.
func restart(t *testing.T, p *corev1.Pod, next, prev *logFile, n int32) {
	t.Helper()
	ctx := testContext(t)
	setLogs(t, p, map[string]testenv.LogFiles{"app": {Current: next.w.Path(), Previous: prev.w.Path(), Follow: true}})
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := cluster.Client().CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.Now()
		cs := &cur.Status.ContainerStatuses[0]
		started := now
		if cs.State.Running != nil {
			started = cs.State.Running.StartedAt
		}
		cs.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", StartedAt: started, FinishedAt: now}}
		cs.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}
		cs.RestartCount = n
		_, err = cluster.Client().CoreV1().Pods(p.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRunRestarted is case (b): after two restarts, RUN_RESTARTED returns
// both earlier instances' lines exactly (the first one no longer reachable
// with previous=true), and RUN the current instance's.
func TestRunRestarted(t *testing.T) {
	testenv.SkipIfDisabled(t)
	t.Parallel()
	const ns, name = "restarts", "crashy"
	createDeployment(t, deployment(ns, name, "crashy:v1", 1, []string{"app"}, nil))
	p := runningPod(t, ns, selector(name), name+"-")
	f0 := newLogFile(t)
	f0.write(t, "instance 0 line", 25)
	setLogs(t, p, map[string]testenv.LogFiles{"app": {Current: f0.w.Path(), Follow: true}})
	a := findApp(t, ns, name)
	run := logsURL(a.ID, a.ActiveDeploymentID, "app", "RUN")
	restarted := logsURL(a.ID, a.ActiveDeploymentID, "app", "RUN_RESTARTED")
	waitLines(t, run, f0.lines)

	f1 := newLogFile(t)
	restart(t, p, f1, f0, 1)
	f0.write(t, "instance 0 last words", 5)
	f1.write(t, "instance 1 line", 10)
	waitLines(t, restarted, f0.lines)
	waitLines(t, run, f1.lines)

	f2 := newLogFile(t)
	restart(t, p, f2, f1, 2)
	f2.write(t, "instance 2 line", 7)
	waitLines(t, restarted, append(slices.Clone(f0.lines), f1.lines...))
	waitLines(t, run, f2.lines)
	t.Logf("RUN_RESTARTED: %d lines of instances 0 and 1; RUN: %d lines of instance 2", len(f0.lines)+len(f1.lines), len(f2.lines))
}

// TestBuild is case (d): init containers' lines and those of pods labelled
// kubelog.io/build-for=<name> are BUILD logs, and not RUN logs.
func TestBuild(t *testing.T) {
	testenv.SkipIfDisabled(t)
	t.Parallel()
	const ns, name = "builds", "built"
	ctx := testContext(t)
	createDeployment(t, deployment(ns, name, "built:v1", 1, []string{"app"}, []string{"migrate"}))
	bp, err := cluster.CreatePod(ctx, ns, "built-image-build", []testenv.ContainerSpec{{Name: "kaniko"}},
		testenv.PodOptions{Labels: map[string]string{"kubelog.io/build-for": name}})
	if err != nil {
		t.Fatal(err)
	}
	build := newLogFile(t)
	build.write(t, "build step", 6)
	setLogs(t, bp, map[string]testenv.LogFiles{"kaniko": {Current: build.w.Path(), Follow: true}})

	p := runningPod(t, ns, selector(name), name+"-")
	initLog, appLog := newLogFile(t), newLogFile(t)
	initLog.write(t, "migration", 8)
	appLog.write(t, "serving", 4)
	setLogs(t, p, map[string]testenv.LogFiles{
		"migrate": {Current: initLog.w.Path()},
		"app":     {Current: appLog.w.Path(), Follow: true},
	})
	a := findApp(t, ns, name)
	deadline := time.Now().Add(30 * time.Second)
	want := append(slices.Clone(build.lines), initLog.lines...)
	slices.Sort(want)
	for {
		got := download(t, "/v2/apps/"+a.ID+"/deployments/"+a.ActiveDeploymentID+"/logs?type=BUILD")
		slices.Sort(got)
		if slices.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("BUILD after 30s: got %q; want %q", got, want)
		}
		time.Sleep(300 * time.Millisecond)
	}
	waitLines(t, logsURL(a.ID, a.ActiveDeploymentID, "app", "RUN"), appLog.lines)
	t.Logf("BUILD: %d init container lines and %d build pod lines", len(initLog.lines), len(build.lines))
}

// TestPodConnectionTimeout is case (g): with no instance, the request waits
// pod_connection_timeout and answers 404 saying what it waited for; a pod
// that appears while it waits makes it succeed.
func TestPodConnectionTimeout(t *testing.T) {
	testenv.SkipIfDisabled(t)
	t.Parallel()
	const ns, name = "waits", "late"
	ctx := testContext(t)
	createDeployment(t, deployment(ns, name, "late:v1", 0, []string{"app"}, nil))
	a := findApp(t, ns, name)
	path := logsURL(a.ID, a.ActiveDeploymentID, "app", "RUN", "pod_connection_timeout=2s")
	start := time.Now()
	code, b := get(t, adminToken, path)
	took := time.Since(start)
	if code != http.StatusNotFound || !strings.Contains(string(b), "waited 2s for an instance of component app") || took < 2*time.Second {
		t.Fatalf("no pod: %d %s after %v; want 404 after 2s saying what it waited for", code, b, took)
	}
	type answer struct {
		code int
		body []byte
		took time.Duration
	}
	done := make(chan answer, 1)
	start = time.Now()
	go func() {
		req, _ := http.NewRequest("GET", serverURL+logsURL(a.ID, a.ActiveDeploymentID, "app", "RUN", "pod_connection_timeout=90s"), nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := testenv.HTTP.Do(req)
		if err != nil {
			done <- answer{code: -1, body: []byte(err.Error())}
			return
		}
		defer resp.Body.Close()
		var l apiclient.AppLogs
		_ = json.NewDecoder(resp.Body).Decode(&l)
		done <- answer{code: resp.StatusCode, body: []byte(l.URL), took: time.Since(start)}
	}()
	time.Sleep(2 * time.Second)
	scale := []byte(`{"spec":{"replicas":1}}`)
	if _, err := cluster.Client().AppsV1().Deployments(ns).Patch(ctx, name, types.MergePatchType, scale, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case ans := <-done:
		if ans.code != http.StatusOK || len(ans.body) == 0 || ans.took < 2*time.Second {
			t.Fatalf("pod appearing: %d %s after %v; want 200 with a url after the pod appeared", ans.code, ans.body, ans.took)
		}
		t.Logf("answered 200 %v after the request, once the pod started", ans.took.Round(time.Millisecond))
	case <-time.After(90 * time.Second):
		t.Fatal("no answer after 90s")
	}
}

// TestExpiredEvents is case (h): with kube-apiserver's --event-ttl=1m,
// DEPLOY still returns Events after they expired from the cluster.
func TestExpiredEvents(t *testing.T) {
	testenv.SkipIfDisabled(t)
	t.Parallel()
	const ns, name = "expiry", "brief"
	ctx := testContext(t)
	createDeployment(t, deployment(ns, name, "brief:v1", 1, []string{"app"}, nil))
	p := runningPod(t, ns, selector(name), name+"-")
	a := findApp(t, ns, name)
	path := logsURL(a.ID, a.ActiveDeploymentID, "app", "DEPLOY")
	want := "Normal Scheduled Pod/" + p.Name + ": Successfully assigned"
	deadline := time.Now().Add(30 * time.Second)
	for len(linesWith(download(t, path), want)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("DEPLOY lacks %q after 30s", want)
		}
		time.Sleep(300 * time.Millisecond)
	}
	start := time.Now()
	for {
		l, err := cluster.Client().CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + p.Name})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) == 0 {
			break
		}
		if time.Since(start) > 150*time.Second {
			t.Fatalf("the pod's %d events are still in the cluster after 150s", len(l.Items))
		}
		time.Sleep(2 * time.Second)
	}
	t.Logf("the pod's events expired from the cluster %v after they were seen", time.Since(start).Round(time.Second))
	got := download(t, path)
	if len(linesWith(got, want)) != 1 {
		t.Fatalf("DEPLOY after expiry: %q; want one line with %q", got, want)
	}
}

// TestRateLimit: /v2/apps answers 429 too_many_requests over the tenant's
// standard limit, with Retry-After.
func TestRateLimit(t *testing.T) {
	testenv.SkipIfDisabled(t)
	t.Parallel()
	if code, b := send("PUT", "/api/v1/logs/tenants/limited/limits", adminToken, `{"requests_per_minute":{"standard":2}}`); code != http.StatusOK {
		t.Fatalf("set limits: %d %s", code, b)
	}
	tok := newToken(t, "limited", "apps-rate", "read")
	for i := 0; i < 2; i++ {
		if code, b := get(t, tok, "/v2/apps"); code != http.StatusOK || !strings.Contains(string(b), `"apps":[]`) {
			t.Fatalf("request %d: %d %s; want 200 and no apps", i+1, code, b)
		}
	}
	req, _ := http.NewRequest("GET", serverURL+"/v2/apps", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := testenv.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e apiclient.ErrorBody
	_ = json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode != http.StatusTooManyRequests || e.ID != "too_many_requests" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third request: %d %+v; want 429 too_many_requests with Retry-After", resp.StatusCode, e)
	}
}

// TestCLI runs kubelog apps list and kubelog apps logs against the server
// (TestLiveURL runs apps logs -f).
func TestCLI(t *testing.T) {
	testenv.SkipIfDisabled(t)
	t.Parallel()
	r := rolledOut(t)
	ctx := testContext(t)
	cli := func(args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, kubelogBin, args...)
		cmd.Env = append(os.Environ(), "KUBELOG_SERVER="+serverURL, "KUBELOG_TOKEN="+adminToken)
		return cmd
	}
	out, err := cli("apps", "list").CombinedOutput()
	if err != nil || !strings.Contains(string(out), r.app.ID) || !strings.Contains(string(out), "rollout") {
		t.Fatalf("apps list: %v\n%s", err, out)
	}
	out, err = cli("apps", "logs", "rollout/web", "--deployment", r.deps[1].ID, "--component", "app", "--type", "run").CombinedOutput()
	if err != nil || strings.Join(messages(t, out), "\n") != strings.Join(r.v1, "\n") {
		t.Fatalf("apps logs: %v\n%s", err, out)
	}
	if out, err := cli("apps", "logs", "web", "--type", "unspecified").CombinedOutput(); err == nil || !strings.Contains(string(out), "--type must be") {
		t.Fatalf("apps logs --type unspecified: %v\n%s", err, out)
	}
}

// TestServerRestart: after kubelog restarts on the same data dir, the
// Events it lists again are not stored twice, and a link signed before the
// restart still verifies (the key is kept in the data dir).
func TestServerRestart(t *testing.T) {
	testenv.SkipIfDisabled(t)
	t.Parallel()
	const ns, name = "restartserver", "steady"
	dataDir := t.TempDir()
	k, err := startKubelog(dataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = k.Kill() }()
	base := k.URL
	getAt := func(base, path string, v any) []byte {
		t.Helper()
		resp, b, err := testenv.Request(testenv.HTTP, "GET", base+path, adminToken, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		if v != nil {
			if err := json.Unmarshal(b, v); err != nil {
				t.Fatal(err)
			}
		}
		return b
	}
	createDeployment(t, deployment(ns, name, "steady:v1", 1, []string{"app"}, nil))
	p := runningPod(t, ns, selector(name), name+"-")
	a := findApp(t, ns, name)
	path := logsURL(a.ID, a.ActiveDeploymentID, "app", "DEPLOY")
	deployLines := func(base string) []string {
		var l apiclient.AppLogs
		getAt(base, path, &l)
		return messages(t, getAt(base, strings.TrimPrefix(l.URL, base), nil))
	}
	want := "Normal Scheduled Pod/" + p.Name
	var before []string
	deadline := time.Now().Add(30 * time.Second)
	for before = deployLines(base); len(linesWith(before, want)) == 0; before = deployLines(base) {
		if time.Now().After(deadline) {
			t.Fatalf("DEPLOY lacks %q after 30s: %q", want, before)
		}
		time.Sleep(300 * time.Millisecond)
	}
	// Let the rollout's other Events arrive too.
	time.Sleep(2 * time.Second)
	before = deployLines(base)
	var signed apiclient.AppLogs
	getAt(base, path, &signed)
	_ = k.Stop(syscall.SIGTERM)
	k2, err := startKubelog(dataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = k2.Kill() }()
	base2 := k2.URL
	if code, b := get(t, "", base2+strings.TrimPrefix(signed.URL, base)); code != http.StatusOK || len(linesWith(messages(t, b), want)) != 1 {
		t.Fatalf("a link signed before the restart: %d %s; want 200 with the events", code, b)
	}
	// The new Event informer has listed every Event again by now.
	time.Sleep(3 * time.Second)
	after := deployLines(base2)
	slices.Sort(before)
	slices.Sort(after)
	if !slices.Equal(before, after) {
		t.Fatalf("DEPLOY lines before the restart %q; after %q", before, after)
	}
	t.Logf("%d DEPLOY lines, each once, across a restart", len(after))
}
