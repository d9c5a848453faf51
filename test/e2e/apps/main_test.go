// Package apps_test runs the real kubelog binary against a real control plane
// with controllers (Deployments roll out, the scheduler binds pods to kwok
// nodes, controllers record Events) and checks the /v2/apps API: revisions,
// RUN, RUN_RESTARTED, DEPLOY and BUILD logs, signed links and live links.
package apps_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	"github.com/kubelog/kubelog/internal/apiclient"
	"github.com/kubelog/kubelog/test/e2e/testenv"
)

const adminToken = "e2e-apps-bootstrap-token-0123456789"

// linkTTL is the server's --apps-link-ttl: short, so that test (e) sees a
// link expire; every other test uses its links at once.
const linkTTL = 8 * time.Second

var (
	cluster *testenv.Cluster
	// serverURL is the kubelog serve process every test shares.
	serverURL string
	// sharedDir holds files that outlive one test.
	sharedDir string
	// kubelogBin is the kubelog binary under test.
	kubelogBin string
	// s3 is the MinIO that test (i) archives to.
	s3 *testenv.S3
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	if testenv.Disabled() {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "kubelog-e2e-apps-")
	if err != nil {
		log.Print(err)
		return 1
	}
	defer os.RemoveAll(dir)
	sharedDir = filepath.Join(dir, "shared")
	if err := os.Mkdir(sharedDir, 0o755); err != nil {
		log.Print(err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	if kubelogBin, err = testenv.BuildKubelog(dir); err != nil {
		log.Print(err)
		return 1
	}
	cluster, err = testenv.StartCluster(ctx, filepath.Join(dir, "cluster"), testenv.ClusterOptions{Controllers: true, EventTTL: time.Minute, Node: "node-0"})
	if err != nil {
		log.Print(err)
		return 1
	}
	defer cluster.Stop()
	if s3, err = testenv.StartS3(ctx, filepath.Join(dir, "s3")); err != nil {
		log.Print("start S3: ", err)
		return 1
	}
	defer s3.Stop()
	logFile, err := os.Create(filepath.Join(dir, "kubelog.log"))
	if err != nil {
		log.Print(err)
		return 1
	}
	defer logFile.Close()
	k, err := startKubelog(filepath.Join(dir, "data"), logFile)
	if err != nil {
		log.Print(err)
		return 1
	}
	defer func() { _ = k.Kill() }()
	serverURL = k.URL
	// The tests poll with the admin token: lift tenant default's request
	// limit (TestRateLimit checks the limit with a tenant of its own).
	if code, b := send("PUT", "/api/v1/logs/tenants/default/limits", adminToken, `{"requests_per_minute":{"standard":100000}}`); code != http.StatusOK {
		log.Printf("raise limits: %d %s", code, b)
		return 1
	}
	code := m.Run()
	if code != 0 {
		if b, err := os.ReadFile(logFile.Name()); err == nil {
			os.Stderr.Write(b[max(0, len(b)-20000):])
		}
	}
	return code
}

// startKubelog runs kubelog serve on a free port with dataDir, collecting
// from the test cluster, its log going to logTo. The caller must stop it.
func startKubelog(dataDir string, logTo io.Writer) (*testenv.Kubelog, error) {
	return testenv.StartKubelog(kubelogBin, dataDir, logTo, "--bootstrap-token", adminToken, "--kubeconfig", cluster.Kubeconfig(),
		"--apps-link-ttl", linkTTL.String(), "--fsync", "never")
}

// testContext returns a context that ends with the test or after three minutes.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// get sends GET path (absolute URLs as they are) with token and returns the
// status and body.
func get(t *testing.T, token, path string) (int, []byte) {
	t.Helper()
	u := path
	if strings.HasPrefix(path, "/") {
		u = serverURL + path
	}
	resp, b, err := testenv.Request(testenv.HTTP, "GET", u, token, nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// send sends a request with a JSON body outside of a test.
func send(method, path, token, body string) (int, []byte) {
	resp, b, err := testenv.Request(testenv.HTTP, method, serverURL+path, token, strings.NewReader(body))
	if err != nil {
		return 0, []byte(err.Error())
	}
	return resp.StatusCode, b
}

// newToken creates a token of tenant with scopes and returns its secret.
func newToken(t *testing.T, tenant, name, scopes string) string {
	t.Helper()
	tok, err := admin().CreateToken(t.Context(), apiclient.TokenRequest{Tenant: tenant, Name: name, Scopes: scopes})
	if err != nil || tok.Token == "" {
		t.Fatalf("create token of tenant %s: %v", tenant, err)
	}
	return tok.Token
}

// getJSON GETs path with the admin token, expects 200 and decodes into v.
func getJSON(t *testing.T, path string, v any) {
	t.Helper()
	code, b := get(t, adminToken, path)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, b)
	}
}

// admin is a client of the shared server acting with the admin token.
func admin() *apiclient.Client { return testenv.API(serverURL, adminToken) }

// findApp waits until GET /v2/apps lists the app ns/name.
func findApp(t *testing.T, ns, name string) apiclient.App {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		l, err := admin().Apps(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range l.Apps {
			if a.Namespace == ns && a.Name == name && a.ActiveDeploymentID != "" {
				return a
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("app %s/%s not listed after 30s", ns, name)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// deployments returns the app's deployments.
func deployments(t *testing.T, appID string) []apiclient.Deployment {
	t.Helper()
	l, err := admin().Deployments(t.Context(), appID)
	if err != nil {
		t.Fatal(err)
	}
	return l.Deployments
}

// logsURL returns the component logs endpoint.
func logsURL(appID, depID, component, typ string, extra ...string) string {
	u := "/v2/apps/" + appID + "/deployments/" + depID + "/components/" + component + "/logs?type=" + typ
	for _, e := range extra {
		u += "&" + e
	}
	return u
}

// download asks for the logs and downloads the signed url, returning the
// messages of the lines (component and timestamp checked and stripped).
func download(t *testing.T, path string) []string {
	t.Helper()
	var l apiclient.AppLogs
	getJSON(t, path, &l)
	code, b := get(t, "", l.URL)
	if code != http.StatusOK {
		t.Fatalf("GET url: %d %s", code, b)
	}
	return messages(t, b)
}

var lineRE = regexp.MustCompile(`^(\S+) (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (.*)$`)

// messages splits downloaded text into the messages of its lines.
func messages(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if l == "" {
			continue
		}
		m := lineRE.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %q is not <component> <timestamp> <message>", l)
		}
		out = append(out, m[3])
	}
	return out
}

// waitLines downloads path until it returns want exactly, or fails after
// 30s.
func waitLines(t *testing.T, path string, want []string) {
	t.Helper()
	waitLinesExcept(t, path, want, "")
}

// waitLinesExcept is waitLines ignoring the lines that contain exclude
// (written by another test meanwhile), unless it is "".
func waitLinesExcept(t *testing.T, path string, want []string, exclude string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := download(t, path)
		if exclude != "" {
			got = slices.DeleteFunc(got, func(l string) bool { return strings.Contains(l, exclude) })
		}
		if strings.Join(got, "\n") == strings.Join(want, "\n") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s after 30s: got %d lines %q; want %d lines %q", path, len(got), clip(got), len(want), clip(want))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func clip(ss []string) []string {
	if len(ss) > 6 {
		return append(append([]string{}, ss[:3]...), append([]string{"..."}, ss[len(ss)-3:]...)...)
	}
	return ss
}

// deployment is a Deployment of one replica with the given containers.
func deployment(ns, name, image string, replicas int32, containers, inits []string) *appsv1.Deployment {
	sel := map[string]string{"app": name}
	var cs, ics []corev1.Container
	for _, c := range containers {
		cs = append(cs, corev1.Container{Name: c, Image: image})
	}
	for _, c := range inits {
		ics = append(ics, corev1.Container{Name: c, Image: image})
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: sel},
				Spec:       corev1.PodSpec{Containers: cs, InitContainers: ics},
			},
		},
	}
}

// createDeployment creates the namespace (if needed) and the Deployment.
func createDeployment(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	ctx := testContext(t)
	_, err := cluster.Client().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: d.Namespace}}, metav1.CreateOptions{})
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	if _, err := cluster.Client().AppsV1().Deployments(d.Namespace).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// runningPod waits for a running pod of ns matching selector whose name
// starts with prefix and is not in skip.
func runningPod(t *testing.T, ns, selector, prefix string, skip ...string) *corev1.Pod {
	t.Helper()
	ctx := testContext(t)
	deadline := time.Now().Add(60 * time.Second)
	for {
		l, err := cluster.Client().CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			t.Fatal(err)
		}
		for i := range l.Items {
			p := &l.Items[i]
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil && strings.HasPrefix(p.Name, prefix) && !contains(skip, p.Name) {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no running pod %s in %s after 60s", selector, ns)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// logFile is a container's CRI log file and the lines written to it.
type logFile struct {
	w     *testenv.CRIWriter
	lines []string
}

func newLogFile(t *testing.T) *logFile {
	t.Helper()
	w, err := testenv.NewCRIWriter(filepath.Join(t.TempDir(), "c.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return &logFile{w: w}
}

// sharedLogFile is a log file that outlives the test creating it.
func sharedLogFile(t *testing.T, name string) *logFile {
	t.Helper()
	w, err := testenv.NewCRIWriter(filepath.Join(sharedDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return &logFile{w: w}
}

// write writes n numbered lines with prefix, one record each.
func (f *logFile) write(t *testing.T, prefix string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		l := fmt.Sprintf("%s %d", prefix, i)
		if err := f.w.Line(l); err != nil {
			t.Fatal(err)
		}
		f.lines = append(f.lines, l)
	}
}

// setLogs maps the pod's containers to files.
func setLogs(t *testing.T, p *corev1.Pod, files map[string]testenv.LogFiles) {
	t.Helper()
	if err := cluster.SetLogs(testContext(t), p.Namespace, p.Name, files); err != nil {
		t.Fatal(err)
	}
}

func selector(name string) string { return labels.Set{"app": name}.String() }

// appLinesWith filters lines containing s.
func linesWith(ls []string, s string) []string {
	var out []string
	for _, l := range ls {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}
