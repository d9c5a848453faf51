package archive_test

import (
	"context"
	"encoding/json"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/apiclient"
)

// TestFailedUploadDeletesNothing removes the bucket after the policy is
// created: the upload fails, the job fails, and no local entry is deleted.
// The job is started with kubelog archive start --wait.
func TestFailedUploadDeletesNothing(t *testing.T) {
	s := startServer(t, t.TempDir())
	start := time.Now().UTC().Truncate(time.Hour).Add(-30 * time.Hour)
	const n = 2000
	pushDataset(t, s, n, 1, start)
	bucket := "vanishing"
	pid := s.createPolicy(policyBody("vanishing", bucket, true))
	healthOf := func() (string, string) {
		var h apiclient.Health
		s.must("GET", "/health", nil, &h)
		return h.Status, h.Components["archive"].Status + " " + h.Components["archive"].Message
	}
	if st, arch := healthOf(); st != "ok" || !strings.HasPrefix(arch, "ok") {
		t.Fatalf("/health before: %s, archive %s", st, arch)
	}
	// The policy is disabled: only enabled policies' buckets are probed.
	s.must("PUT", "/api/v1/logs/archive/policies/"+pid, map[string]any{"enabled": true, "schedule": "1000h"}, nil)
	if err := s3c.RemoveBucket(context.Background(), bucket); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		st, arch := healthOf()
		if st == "degraded" && strings.HasPrefix(arch, "degraded") && strings.Contains(arch, bucket) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/health with the bucket gone: %s, archive %s; want degraded", st, arch)
		}
	}
	out, err := exec.Command(kubelogBin, "archive", "start", "--server", s.URL, "--token", adminToken, "--policy", pid, "--wait").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "failed") {
		t.Fatalf("kubelog archive start --wait: %v\n%s", err, out)
	}
	t.Logf("kubelog archive start --wait:\n%s", out)
	var list apiclient.ArchiveJobList
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var busy apiclient.ArchiveJobList
		s.must("GET", "/api/v1/logs/archive/jobs?status=pending,running&policy_id="+pid, nil, &busy)
		if len(busy.Jobs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs still under way: %+v", busy.Jobs)
		}
	}
	s.must("GET", "/api/v1/logs/archive/jobs?policy_id="+pid, nil, &list)
	// Enabled, the policy was also due for the scheduler: every job failed.
	if len(list.Jobs) == 0 {
		t.Fatal("no job")
	}
	for _, j := range list.Jobs {
		if j.Status != "failed" || !strings.Contains(j.Error, "bucket") || j.DeletedEntries != 0 {
			t.Fatalf("jobs: %+v", list.Jobs)
		}
	}
	local, _ := s.pageAll("start_time=" + url.QueryEscape(rfc(start)) + "&limit=5000")
	if len(local) != n {
		t.Fatalf("after a failed upload, %d entries are local; want all %d", len(local), n)
	}
	var info apiclient.StorageInfo
	s.must("GET", "/api/v1/logs/storage/info", nil, &info)
	if len(info.ArchiveDestinations) != 1 || info.ArchiveDestinations[0].Reachability.Reachable || !strings.Contains(info.ArchiveDestinations[0].Reachability.Error, "does not exist") {
		t.Fatalf("/storage/info for a missing bucket: %+v", info.ArchiveDestinations)
	}
}

// TestPolicies checks validation (400s naming the culprit), write-only
// secrets, updates, deletion and the scheduler.
func TestPolicies(t *testing.T) {
	s := startServer(t, t.TempDir())
	bad := func(name string, edit func(p map[string]any), want ...string) {
		t.Helper()
		p := policyBody("bad-"+name, "good-bucket", false)
		edit(p)
		code, b := s.do("POST", "/api/v1/logs/archive/policies", p)
		if code != 400 {
			t.Fatalf("%s: %d %s; want 400", name, code, b)
		}
		var e apiclient.ErrorBody
		_ = json.Unmarshal(b, &e)
		for _, w := range want {
			if !strings.Contains(e.Message, w) {
				t.Fatalf("%s: message %q does not say %q", name, e.Message, w)
			}
		}
	}
	dest := func(p map[string]any) map[string]any { return p["destination"].(map[string]any) }
	bad("bucket-name", func(p map[string]any) { dest(p)["bucket"] = "Bad_Bucket!" }, "destination.bucket", "not a valid bucket name")
	bad("unreachable", func(p map[string]any) { dest(p)["endpoint"] = "127.0.0.1:1" }, "destination.endpoint", "unreachable")
	bad("credentials", func(p map[string]any) { dest(p)["secret_access_key"] = "wrong-secret" }, "credentials")
	bad("access-key", func(p map[string]any) { dest(p)["access_key_id"] = "nobody" }, "credentials")
	bad("duration", func(p map[string]any) { p["older_than"] = "7 days" }, "older_than")
	bad("schedule", func(p map[string]any) { p["schedule"] = "sometimes" }, "schedule")
	bad("compression", func(p map[string]any) { p["compression"] = "lz4" }, "compression")
	bad("selector", func(p map[string]any) { p["selector"] = `{namespace="x"` }, "selector")
	bad("pipeline", func(p map[string]any) { p["selector"] = `{namespace="x"} |= "y"` }, "selector")
	bad("no-secret", func(p map[string]any) { delete(dest(p), "secret_access_key") }, "destination.secret_access_key")
	bad("unknown-field", func(p map[string]any) { p["colour"] = "blue" }, "colour")
	if code, b := s.do("POST", "/api/v1/logs/archive/policies", map[string]any{"name": "x", "tenant": "other"}); code != 403 {
		t.Fatalf("a body naming another tenant: %d %s; want 403", code, b)
	}

	// A good policy: the bucket is created, the secret never comes back. It
	// is enabled only once the data is in: a policy that never ran is due at
	// the scheduler's next tick, and a job started before the push would
	// take the hour's run with nothing to archive.
	p := policyBody("sched", "created-by-kubelog", false)
	p["schedule"] = "@hourly"
	p["enabled"] = false
	code, b := s.do("POST", "/api/v1/logs/archive/policies", p)
	if code != 201 || strings.Contains(string(b), s3.SecretKey) || !strings.Contains(string(b), `"secret_access_key":"<redacted>"`) {
		t.Fatalf("create: %d %s", code, b)
	}
	var created apiclient.Policy
	_ = json.Unmarshal(b, &created)
	if created.Compression != "zstd" {
		t.Fatalf("default compression %q; want zstd", created.Compression)
	}
	if ok, err := s3c.BucketExists(context.Background(), "created-by-kubelog"); err != nil || !ok {
		t.Fatalf("the bucket was not created: %v", err)
	}
	code, b = s.do("GET", "/api/v1/logs/archive/policies", nil)
	if code != 200 || strings.Contains(string(b), s3.SecretKey) || !strings.Contains(string(b), created.ID) {
		t.Fatalf("list: %d %s", code, b)
	}
	// Updating without the secret keeps it (the bucket is checked again).
	code, b = s.do("PUT", "/api/v1/logs/archive/policies?id="+created.ID, map[string]any{"older_than": "2h", "destination": map[string]any{"secret_access_key": "<redacted>"}})
	if code != 200 || !strings.Contains(string(b), `"older_than":"2h"`) {
		t.Fatalf("update: %d %s", code, b)
	}
	code, b = s.do("PUT", "/api/v1/logs/archive/policies/"+created.ID, map[string]any{"destination": map[string]any{"secret_access_key": "wrong"}})
	if code != 400 || !strings.Contains(string(b), "credentials") {
		t.Fatalf("update with a wrong secret: %d %s; want 400", code, b)
	}
	if code, b := s.do("GET", "/api/v1/logs/archive/policies/"+created.ID, nil, "X-Scope-OrgID", "other"); code != 404 {
		t.Fatalf("another tenant's policy: %d %s; want 404", code, b)
	}
	for _, c := range []struct{ path, want string }{
		{"/api/v1/logs/archive/jobs?status=done", "status"},
		{"/api/v1/logs/s3/metadata?cursor=zzz", "cursor"},
		{"/api/v1/logs/s3/content", "key"},
		{"/api/v1/logs/s3/content?key=not/a/key", "key"},
		{"/api/v1/logs?include_archive=maybe", "include_archive"},
	} {
		code, b := s.do("GET", c.path, nil)
		if code != 400 || !strings.Contains(string(b), c.want) {
			t.Fatalf("GET %s: %d %s; want 400 naming %s", c.path, code, b, c.want)
		}
	}
	if code, b := s.do("POST", "/api/v1/logs/archive/start", map[string]any{"policy_id": created.ID, "start_time": "yesterday"}); code != 400 || !strings.Contains(string(b), "start_time") {
		t.Fatalf("start with a bad start_time: %d %s", code, b)
	}
	if code, b := s.do("POST", "/api/v1/logs/archive/start", map[string]any{"policy_id": "ap_missing"}); code != 404 {
		t.Fatalf("start an unknown policy: %d %s; want 404", code, b)
	}

	// The scheduler runs the enabled @hourly policy on its own.
	start := time.Now().UTC().Truncate(time.Hour).Add(-30 * time.Hour)
	pushDataset(t, s, 1000, 1, start)
	if code, b := s.do("PUT", "/api/v1/logs/archive/policies/"+created.ID, map[string]any{"enabled": true}); code != 200 || !strings.Contains(string(b), `"enabled":true`) {
		t.Fatalf("enable: %d %s", code, b)
	}
	var list apiclient.ArchiveJobList
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		s.must("GET", "/api/v1/logs/archive/jobs?status=succeeded&policy_id="+created.ID, nil, &list)
		if len(list.Jobs) > 0 && list.Jobs[0].Progress.Lines == 1000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no scheduled job archived the data: %+v", list.Jobs)
		}
	}
	if code, _ := s.do("DELETE", "/api/v1/logs/archive/policies?id="+created.ID, nil); code != 200 {
		t.Fatalf("delete: %d", code)
	}
	if code, _ := s.do("GET", "/api/v1/logs/archive/policies/"+created.ID, nil); code != 404 {
		t.Fatalf("deleted policy: %d; want 404", code)
	}
}
