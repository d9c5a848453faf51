package archive_test

import (
	"bytes"
	"context"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/kubelog/kubelog/internal/apiclient"
)

// TestArchiveResumesAfterKill9 kills the server in the middle of a job and
// restarts it: the job resumes and the bucket ends with every entry exactly
// once, one object per stream and hour. A second job over the same range
// is cancelled.
func TestArchiveResumesAfterKill9(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	start := time.Now().UTC().Truncate(time.Hour).Add(-48 * time.Hour)
	const n = 24000
	pushDataset(t, s, n, 4, start)
	bucket := "resume"
	body := policyBody("resume", bucket, false)
	body["compression"] = "gzip"
	pid := s.createPolicy(body)
	j := s.startJob(pid)
	var killedAt int64
	for deadline := time.Now().Add(time.Minute); ; {
		var cur apiclient.ArchiveJob
		s.must("GET", "/api/v1/logs/archive/jobs/"+j.ID, nil, &cur)
		if cur.Status != "running" && cur.Status != "pending" {
			t.Fatalf("the job ended (%s, %d objects) before it could be killed", cur.Status, cur.Progress.Objects)
		}
		if cur.Progress.Objects >= 20 {
			_ = s.Kill()
			killedAt = cur.Progress.Objects
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the job made no progress")
		}
		time.Sleep(5 * time.Millisecond)
	}
	before := len(bucketObjects(t, bucket))
	t.Logf("killed with %d objects reported, %d in the bucket", killedAt, before)

	s = startServer(t, dir)
	j = s.waitJob(j.ID, 3*time.Minute)
	if j.Status != "succeeded" || j.Progress.Lines != n {
		t.Fatalf("resumed job: %s %q, %d lines; want succeeded with %d", j.Status, j.Error, j.Progress.Lines, n)
	}
	objs := bucketObjects(t, bucket)
	if before >= len(objs) {
		t.Fatalf("the bucket had %d objects at the kill and %d at the end: the kill was not mid-job", before, len(objs))
	}
	streamHours := map[string]string{}
	seen := map[string]bool{}
	for _, o := range objs {
		if !strings.HasSuffix(o.Key, ".ndjson.gz") {
			t.Fatalf("%s: not gzip", o.Key)
		}
		dirKey := path.Dir(o.Key)
		if other, dup := streamHours[dirKey]; dup {
			t.Fatalf("two objects for one stream and hour: %s and %s", other, o.Key)
		}
		streamHours[dirKey] = o.Key
		obj, err := s3c.GetObject(context.Background(), bucket, o.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		raw := new(bytes.Buffer)
		if _, err := raw.ReadFrom(obj); err != nil {
			t.Fatal(err)
		}
		obj.Close()
		lines := gunzipLines(t, raw.Bytes())
		for _, l := range lines {
			c := cursorOf(t, l)
			if seen[c] {
				t.Fatalf("entry %s archived twice", c)
			}
			seen[c] = true
		}
	}
	if len(seen) != n {
		t.Fatalf("the bucket holds %d distinct entries; want %d", len(seen), n)
	}
	var meta apiclient.ObjectList
	s.must("GET", "/api/v1/logs/s3/metadata?limit=1000", nil, &meta)
	if len(meta.Objects) != len(objs) || meta.HasMore {
		t.Fatalf("the index lists %d objects; the bucket has %d", len(meta.Objects), len(objs))
	}

	// A second job over the same range, cancelled at once.
	j2 := s.startJob(pid, "start_time", start.Format(time.RFC3339), "end_time", start.Add(24*time.Hour).Format(time.RFC3339))
	var cancelled apiclient.ArchiveJob
	s.must("DELETE", "/api/v1/logs/archive/jobs/"+j2.ID, nil, &cancelled)
	if cancelled.Status != "cancelled" {
		t.Fatalf("cancelled job: %s", cancelled.Status)
	}
	var list apiclient.ArchiveJobList
	s.must("GET", "/api/v1/logs/archive/jobs?status=cancelled&policy_id="+pid, nil, &list)
	if len(list.Jobs) != 1 || list.Jobs[0].ID != j2.ID {
		t.Fatalf("cancelled jobs: %+v", list.Jobs)
	}
	if got := len(bucketObjects(t, bucket)); got != len(objs) {
		t.Fatalf("after the re-run the bucket has %d objects; want %d (same keys)", got, len(objs))
	}
}
