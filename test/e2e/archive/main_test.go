// Package archive_test runs the real kubelog binary against a real MinIO:
// policies, jobs (with kill -9 in the middle), the objects they write, S3
// browsing, deletion after verification, and queries that read the archive.
package archive_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/kubelog/kubelog/internal/apiclient"
	"github.com/kubelog/kubelog/internal/dataset"
	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/test/e2e/testenv"
)

var (
	kubelogBin string
	s3         *testenv.S3
	s3c        *minio.Client
)

const adminToken = "e2e-archive-admin-token-0123456789"

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "kubelog-e2e-archive-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if kubelogBin, err = testenv.BuildKubelog(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if s3, err = testenv.StartS3(ctx, filepath.Join(dir, "s3")); err != nil {
		fmt.Fprintln(os.Stderr, "start S3:", err)
		return 1
	}
	defer s3.Stop()
	if s3c, err = minio.New(s3.Host, &minio.Options{Creds: credentials.NewStaticV4(s3.AccessKey, s3.SecretKey, ""), Region: s3.Region}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// server is a running kubelog serve process.
type server struct {
	*testenv.Kubelog
	t *testing.T
}

func startServer(t *testing.T, dataDir string, extra ...string) *server {
	t.Helper()
	k, err := testenv.StartKubelog(kubelogBin, dataDir, nil, append([]string{"--bootstrap-token", adminToken,
		"--kubeconfig", "none", "--no-rate-limits", "--archive-tick", "1s"}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Kill() })
	return &server{Kubelog: k, t: t}
}

// stop stops the server gracefully.
func (s *server) stop() {
	s.t.Helper()
	var exit *exec.ExitError
	if err := s.Stop(syscall.SIGTERM); err != nil && !errors.As(err, &exit) {
		s.t.Fatal(err)
	}
}

func (s *server) do(method, path string, body any, hdr ...string) (int, []byte) {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	resp, b, err := testenv.Request(testenv.HTTP, method, s.URL+path, adminToken, rd, hdr...)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// must calls do and decodes a 2xx answer into out.
func (s *server) must(method, path string, body, out any) {
	s.t.Helper()
	code, b := s.do(method, path, body)
	if code/100 != 2 {
		s.t.Fatalf("%s %s: %d %s", method, path, code, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// pushed is what a test pushed, per stream in time order.
type pushed struct {
	lines      int
	rawBytes   int64
	start, end time.Time
}

// pushDataset pushes the standard dataset's lines (n of them, over streams
// streams) spread over 24 hours starting at start, through Loki's JSON push.
func pushDataset(t *testing.T, s *server, n, namespaces int, start time.Time) pushed {
	t.Helper()
	cfg := dataset.DefaultConfig("../../../../shared/data/loghub")
	if _, err := os.Stat(cfg.CorpusDir); err != nil {
		t.Skip("loghub corpus not found beside the repository (../shared/data/loghub)")
	}
	cfg.Lines, cfg.Namespaces, cfg.PodsPerNamespace, cfg.ContainersPerPod = n, namespaces, 2, 2
	cfg.Start, cfg.Span = start.UnixNano(), int64(24*time.Hour)
	return pushConfig(t, s, cfg)
}

// pushConfig pushes a dataset through Loki's JSON push.
func pushConfig(t *testing.T, s *server, cfg dataset.Config) pushed {
	t.Helper()
	start := time.Unix(0, cfg.Start).UTC()
	g, err := dataset.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := pushed{start: start, end: start.Add(time.Duration(cfg.Span))}
	var batch []logmodel.Entry
	for {
		batch = g.Next(batch, 2000)
		if len(batch) == 0 {
			return p
		}
		streams := map[string]map[string]any{}
		for _, e := range batch {
			k := e.Labels.String()
			st := streams[k]
			if st == nil {
				st = map[string]any{"stream": e.Labels.Map(), "values": [][]string{}}
				streams[k] = st
			}
			st["values"] = append(st["values"].([][]string), []string{fmt.Sprint(e.Timestamp), string(e.Line)})
			p.lines++
			p.rawBytes += int64(len(e.Line))
		}
		var body []any
		for _, st := range streams {
			body = append(body, st)
		}
		code, b := s.do("POST", "/loki/api/v1/push", map[string]any{"streams": body}, "Content-Type", "application/json")
		if code != 204 {
			t.Fatalf("push: %d %s", code, b)
		}
	}
}

// policyBody is a policy writing to bucket of the test MinIO.
func policyBody(name, bucket string, deleteAfter bool) map[string]any {
	return map[string]any{
		"name": name, "selector": `{cluster=~".+"}`, "older_than": "1h", "schedule": "@daily", "enabled": false,
		"delete_after_archive": deleteAfter,
		"destination": map[string]any{"endpoint": s3.Endpoint, "region": s3.Region, "bucket": bucket, "prefix": "kubelog",
			"access_key_id": s3.AccessKey, "secret_access_key": s3.SecretKey, "path_style": true},
	}
}

// api is a client of s acting with the admin token.
func (s *server) api() *apiclient.Client { return testenv.API(s.URL, adminToken) }

func (s *server) createPolicy(body map[string]any) string {
	s.t.Helper()
	var p apiclient.Policy
	if err := s.api().Do(context.Background(), "POST", "/api/v1/logs/archive/policies", body, &p); err != nil {
		s.t.Fatal(err)
	}
	return p.ID
}

// startJob starts a job of the policy; extra are "start_time" and
// "end_time" with their values.
func (s *server) startJob(policyID string, extra ...string) apiclient.ArchiveJob {
	s.t.Helper()
	req := apiclient.ArchiveStart{PolicyID: policyID}
	for i := 0; i+1 < len(extra); i += 2 {
		switch extra[i] {
		case "start_time":
			req.StartTime = extra[i+1]
		case "end_time":
			req.EndTime = extra[i+1]
		default:
			s.t.Fatalf("BUG: startJob takes start_time and end_time, not %s", extra[i])
		}
	}
	j, err := s.api().StartArchive(context.Background(), req)
	if err != nil {
		s.t.Fatal(err)
	}
	return *j
}

func (s *server) waitJob(id string, timeout time.Duration) apiclient.ArchiveJob {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		j, err := s.api().ArchiveJob(context.Background(), id)
		if err != nil {
			s.t.Fatal(err)
		}
		if j.Status != "pending" && j.Status != "running" {
			return *j
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("job %s still %s after %s: %+v", id, j.Status, timeout, j.Progress)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// bucketObjects lists the data objects (not manifests) of a bucket.
func bucketObjects(t *testing.T, bucket string) []minio.ObjectInfo {
	t.Helper()
	var out []minio.ObjectInfo
	for o := range s3c.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		if !strings.Contains(o.Key, "/_manifests/") {
			out = append(out, o)
		}
	}
	return out
}

func getObject(t *testing.T, bucket, key string) []byte {
	t.Helper()
	obj, err := s3c.GetObject(context.Background(), bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// gunzipLines decompresses a gzip object into its lines.
func gunzipLines(t *testing.T, b []byte) [][]byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n"))
}
