package apps_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/kubelog/kubelog/internal/apiclient"
	"github.com/kubelog/kubelog/test/e2e/testenv"
)

// archivedEntry is the part of an archived line's entry JSON the test checks.
type archivedEntry struct {
	Timestamp time.Time `json:"timestamp"`
	Namespace string    `json:"namespace"`
	Pod       string    `json:"pod"`
	Container string    `json:"container"`
	Message   string    `json:"message"`
}

// fetchArchived downloads a historic_logs link with a plain GET (no kubelog
// token) and returns the entries of the zstd object.
func fetchArchived(t *testing.T, link string) []archivedEntry {
	t.Helper()
	resp, err := testenv.HTTP.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", link, resp.StatusCode, body)
	}
	zr, err := zstd.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var out []archivedEntry
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e archivedEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("archived line %q: %v", sc.Bytes(), err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("decompress %s: %v", link, err)
	}
	return out
}

// historic asks path for its logs and returns historic_logs.
func historic(t *testing.T, path string) []string {
	t.Helper()
	var l apiclient.AppLogs
	getJSON(t, path, &l)
	if l.HistoricLogs == nil {
		t.Fatalf("%s: historic_logs is null; want a list", path)
	}
	return l.HistoricLogs
}

// archivedMessages downloads every link and returns the messages, checking
// that each entry is of the pod and of one of the containers.
func archivedMessages(t *testing.T, links []string, pod string, containers ...string) []string {
	t.Helper()
	var out []string
	for _, l := range links {
		for _, e := range fetchArchived(t, l) {
			if e.Pod != pod || !slices.Contains(containers, e.Container) || e.Timestamp.IsZero() {
				t.Fatalf("archived entry %+v of %s is not of pod %s, containers %q", e, l, pod, containers)
			}
			out = append(out, e.Message)
		}
	}
	slices.Sort(out)
	return out
}

func sorted(ss ...[]string) []string {
	out := slices.Concat(ss...)
	slices.Sort(out)
	return out
}

// TestHistoricLogs is case (i): with an archive policy and a job over the
// revision's range, historic_logs links download the archived lines of the
// range exactly, straight from the bucket; without one, it is empty.
func TestHistoricLogs(t *testing.T) {
	testenv.SkipIfDisabled(t)
	t.Parallel()
	const ns, name = "archived", "hist"
	createDeployment(t, deployment(ns, name, "hist:v1", 1, []string{"app", "sidecar"}, nil))
	p := runningPod(t, ns, selector(name), name+"-")
	app, side := newLogFile(t), newLogFile(t)
	app.write(t, "hist app line", 40)
	side.write(t, "hist sidecar line", 7)
	setLogs(t, p, map[string]testenv.LogFiles{"app": {Current: app.w.Path(), Follow: true}, "sidecar": {Current: side.w.Path(), Follow: true}})
	a := findApp(t, ns, name)
	runPath := logsURL(a.ID, a.ActiveDeploymentID, "app", "RUN")
	depPath := "/v2/apps/" + a.ID + "/deployments/" + a.ActiveDeploymentID + "/logs?type=RUN"
	waitLines(t, runPath, app.lines)
	waitLines(t, logsURL(a.ID, a.ActiveDeploymentID, "sidecar", "RUN"), side.lines)
	if h := historic(t, runPath); len(h) != 0 {
		t.Fatalf("historic_logs without an archive policy: %q; want []", h)
	}

	// A policy archiving the namespace, and a job over the whole revision.
	code, b := send("POST", "/api/v1/logs/archive/policies", adminToken, fmt.Sprintf(`{"name":"hist","selector":%q,"older_than":"1h","schedule":"@daily","enabled":false,
		"destination":{"endpoint":%q,"region":%q,"bucket":"hist","prefix":"kubelog","access_key_id":%q,"secret_access_key":%q,"path_style":true}}`,
		`{namespace="`+ns+`"}`, s3.Endpoint, s3.Region, s3.AccessKey, s3.SecretKey))
	var pol apiclient.Policy
	if err := json.Unmarshal(b, &pol); code/100 != 2 || err != nil || pol.ID == "" {
		t.Fatalf("create policy: %d %s", code, b)
	}
	var dep apiclient.Deployment
	for _, d := range deployments(t, a.ID) {
		if d.ID == a.ActiveDeploymentID {
			dep = d
		}
	}
	rfc := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	code, b = send("POST", "/api/v1/logs/archive/start", adminToken, fmt.Sprintf(`{"policy_id":%q,"start_time":%q,"end_time":%q}`,
		pol.ID, rfc(dep.CreatedAt.Add(-time.Minute)), rfc(time.Now().Add(time.Second))))
	var job apiclient.ArchiveJob
	if err := json.Unmarshal(b, &job); code/100 != 2 || err != nil || job.ID == "" {
		t.Fatalf("start job: %d %s", code, b)
	}
	deadline := time.Now().Add(60 * time.Second)
	for job.Status != "succeeded" {
		if job.Status == "failed" || job.Status == "cancelled" || time.Now().After(deadline) {
			t.Fatalf("archive job %s: %s %s", job.ID, job.Status, job.Error)
		}
		time.Sleep(100 * time.Millisecond)
		getJSON(t, "/api/v1/logs/archive/jobs/"+job.ID, &job)
	}

	// The component's links hold its lines only; the deployment's, both
	// containers'. The links need no token and are used before they expire.
	links := historic(t, runPath)
	if len(links) == 0 {
		t.Fatal("historic_logs is empty after the archive job")
	}
	for _, l := range links {
		u, err := url.Parse(l)
		if err != nil || u.Host != strings.TrimPrefix(s3.Endpoint, "http://") || u.Query().Get("X-Amz-Signature") == "" || !strings.HasSuffix(u.Path, ".ndjson.zst") {
			t.Fatalf("historic link %q is not a pre-signed URL of the bucket's object", l)
		}
	}
	if got, want := archivedMessages(t, links, p.Name, "app"), sorted(app.lines); !slices.Equal(got, want) {
		t.Fatalf("archived RUN lines of component app: got %d %q; want %d %q", len(got), clip(got), len(want), clip(want))
	}
	all := historic(t, depPath)
	if got, want := archivedMessages(t, all, p.Name, "app", "sidecar"), sorted(app.lines, side.lines); !slices.Equal(got, want) {
		t.Fatalf("archived RUN lines of the deployment: got %d %q; want %d %q", len(got), clip(got), len(want), clip(want))
	}
	// A link whose signature was changed is refused by the bucket.
	u, _ := url.Parse(links[0])
	q := u.Query()
	sig := q.Get("X-Amz-Signature")
	q.Set("X-Amz-Signature", strings.Repeat("0", len(sig)))
	u.RawQuery = q.Encode()
	resp, err := testenv.HTTP.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("tampered historic link: %d; want 403", resp.StatusCode)
	}
	t.Logf("historic_logs: %d link(s) for component app (%d lines), %d for the deployment (%d lines), exactly as written",
		len(links), len(app.lines), len(all), len(app.lines)+len(side.lines))
}
