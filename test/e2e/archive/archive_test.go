package archive_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os/exec"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/minio/minio-go/v7"

	"github.com/kubelog/kubelog/internal/apiclient"
	"github.com/kubelog/kubelog/internal/archive"
	"github.com/kubelog/kubelog/internal/dataset"
)

type rawPage struct {
	Logs       []json.RawMessage `json:"logs"`
	HasMore    bool              `json:"has_more"`
	NextCursor string            `json:"next_cursor"`
	Stats      struct {
		ObjectsFetched    int `json:"archive_objects_fetched"`
		ObjectsConsidered int `json:"archive_objects_considered"`
	} `json:"stats"`
}

// pageAll pages through GET /api/v1/logs?query, returning every entry's raw
// JSON and the stats of the first page.
func (s *server) pageAll(query string) ([]json.RawMessage, rawPage) {
	s.t.Helper()
	var out []json.RawMessage
	var first rawPage
	cursor := ""
	for i := 0; ; i++ {
		q := query
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		var p rawPage
		s.must("GET", "/api/v1/logs?"+q, nil, &p)
		if i == 0 {
			first = p
		}
		out = append(out, p.Logs...)
		if !p.HasMore {
			return out, first
		}
		cursor = p.NextCursor
		if i > 100000 {
			s.t.Fatal("paging does not end")
		}
	}
}

func cursorOf(t *testing.T, raw []byte) string {
	t.Helper()
	var e struct{ Cursor string }
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("%v in %s", err, raw)
	}
	return e.Cursor
}

func sameRaw(t *testing.T, what string, got, want []json.RawMessage) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d entries; want %d", what, len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("%s: entry %d:\ngot  %s\nwant %s", what, i, got[i], want[i])
		}
	}
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// TestArchiveExactDeleteAndSearch archives the dataset spread over 24 hours
// with delete_after_archive, checks every object line for line against what
// the API served before, then checks that queries with include_archive=true
// answer as they did before archiving, across the local/archive boundary.
func TestArchiveExactDeleteAndSearch(t *testing.T) {
	s := startServer(t, t.TempDir())
	start := time.Now().UTC().Truncate(time.Hour).Add(-48 * time.Hour)
	const n = 12000
	p := pushDataset(t, s, n, 2, start)
	rng := "start_time=" + url.QueryEscape(rfc(start)) + "&end_time=" + url.QueryEscape(rfc(p.end))

	// Before archiving: every entry, a namespace paged forward and backward,
	// a needle search and LogQL.
	all, _ := s.pageAll(rng + "&direction=forward&limit=5000")
	if len(all) != n {
		t.Fatalf("stored %d entries; want %d", len(all), n)
	}
	byCursor := map[string][]byte{}
	for _, raw := range all {
		byCursor[cursorOf(t, raw)] = raw
	}
	nsFwd, _ := s.pageAll(rng + "&namespace=ns-1&direction=forward&limit=777")
	nsBack, _ := s.pageAll(rng + "&namespace=ns-1&direction=backward&limit=500")
	search := func(withArchive bool) []json.RawMessage {
		var r rawPage
		s.must("POST", "/api/v1/logs/search", map[string]any{"query": dataset.Needle, "start_time": rfc(start), "end_time": rfc(p.end), "limit": 100, "include_archive": withArchive}, &r)
		return r.Logs
	}
	needles := search(false)
	if len(needles) != dataset.NeedleCount {
		t.Fatalf("needle search found %d; want %d", len(needles), dataset.NeedleCount)
	}
	logql := func(withArchive bool) (json.RawMessage, json.RawMessage) {
		var r struct {
			Logs   json.RawMessage `json:"logs"`
			Series json.RawMessage `json:"series"`
		}
		s.must("POST", "/api/v1/logs/search/logql", map[string]any{"query": `{namespace="ns-0"} |= "` + dataset.Needle + `"`, "start_time": rfc(start), "end_time": rfc(p.end), "limit": 1000, "include_archive": withArchive}, &r)
		var m struct {
			Series json.RawMessage `json:"series"`
		}
		s.must("POST", "/api/v1/logs/search/logql", map[string]any{"query": `sum by (namespace) (count_over_time({cluster="bench"} [1h]))`, "start_time": rfc(start), "end_time": rfc(p.end), "step": "1h", "include_archive": withArchive}, &m)
		return r.Logs, m.Series
	}
	lqLogs, lqSeries := logql(false)

	// Archive everything, deleting local data after verification.
	bucket := "exact"
	pid := s.createPolicy(policyBody("exact", bucket, true))
	j := s.startJob(pid)
	j = s.waitJob(j.ID, 3*time.Minute)
	if j.Status != "succeeded" {
		t.Fatalf("job %s: %s %s", j.ID, j.Status, j.Error)
	}
	t.Logf("job: %d objects, %d lines, %d raw bytes, %d compressed (ratio %.2f), %d deleted", j.Progress.Objects, j.Progress.Lines, j.Progress.RawBytes,
		j.Progress.CompressedBytes, float64(j.Progress.RawBytes)/float64(j.Progress.CompressedBytes), j.DeletedEntries)
	if j.Progress.Lines != n || j.Progress.Percent != 100 || j.DeletedEntries != n {
		t.Fatalf("job progress %+v, deleted %d; want %d lines, 100%%, %d deleted", j.Progress, j.DeletedEntries, n, n)
	}

	// (a) Every object, decompressed, is exactly the entries the API served.
	objs := bucketObjects(t, bucket)
	if int64(len(objs)) != j.Progress.Objects {
		t.Fatalf("bucket holds %d objects; the job reports %d", len(objs), j.Progress.Objects)
	}
	seen := map[string]bool{}
	dec, _ := zstd.NewReader(nil)
	defer dec.Close()
	for _, o := range objs {
		k, err := archive.ParseObjectKey(o.Key)
		if err != nil {
			t.Fatal(err)
		}
		if k.Prefix != "kubelog" || k.Tenant != "default" || k.Cluster != "bench" || k.Compression != "zstd" {
			t.Fatalf("key %s: %+v", o.Key, k)
		}
		info, err := s3c.StatObject(context.Background(), bucket, o.Key, minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		body, err := dec.DecodeAll(getObject(t, bucket, o.Key), nil)
		if err != nil {
			t.Fatalf("%s: %v", o.Key, err)
		}
		lines := bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n"))
		if got := info.UserMetadata["Lines"]; got != fmt.Sprint(len(lines)) {
			t.Fatalf("%s: metadata Lines %q; the object has %d", o.Key, got, len(lines))
		}
		if info.UserMetadata["First-Ts"] == "" || info.UserMetadata["Last-Ts"] == "" || !strings.Contains(info.UserMetadata["Labels"], `"namespace":"`+k.Namespace+`"`) {
			t.Fatalf("%s: metadata %v", o.Key, info.UserMetadata)
		}
		var prev time.Time
		for i, line := range lines {
			c := cursorOf(t, line)
			want, ok := byCursor[c]
			if !ok || !bytes.Equal(line, want) {
				t.Fatalf("%s line %d:\ngot  %s\nwant %s", o.Key, i, line, want)
			}
			if seen[c] {
				t.Fatalf("%s: entry %s is in two objects", o.Key, c)
			}
			seen[c] = true
			var e struct {
				Timestamp time.Time
				Pod       string
			}
			_ = json.Unmarshal(line, &e)
			if e.Timestamp.Before(prev) || e.Timestamp.Truncate(time.Hour).UnixNano() != k.Hour || e.Pod != k.Pod {
				t.Fatalf("%s line %d: %s is out of order or outside the key's hour or pod", o.Key, i, line)
			}
			if (i == 0 && e.Timestamp.UnixNano() != k.FirstTs) || (i == len(lines)-1 && e.Timestamp.UnixNano() != k.LastTs) {
				t.Fatalf("%s: first/last timestamps do not match the key", o.Key)
			}
			prev = e.Timestamp
		}
	}
	if len(seen) != n {
		t.Fatalf("the objects hold %d distinct entries; want %d", len(seen), n)
	}
	var man struct {
		JobID   string `json:"job_id"`
		Objects []struct {
			Key string `json:"key"`
		} `json:"objects"`
	}
	if err := json.Unmarshal(getObject(t, bucket, j.ManifestKey), &man); err != nil || man.JobID != j.ID || len(man.Objects) != len(objs) {
		t.Fatalf("manifest %s: %v, job %s, %d objects; want %d", j.ManifestKey, err, man.JobID, len(man.Objects), len(objs))
	}

	// (c) The local copy is gone.
	if local, _ := s.pageAll(rng + "&limit=100"); len(local) != 0 {
		t.Fatalf("after delete_after_archive, %d entries are still local", len(local))
	}

	// (d) include_archive=true answers as before.
	got, _ := s.pageAll(rng + "&direction=forward&limit=5000&include_archive=true")
	sameRaw(t, "all entries", got, all)
	got, _ = s.pageAll(rng + "&namespace=ns-1&direction=forward&limit=777&include_archive=true")
	sameRaw(t, "ns-1 forward", got, nsFwd)
	got, _ = s.pageAll(rng + "&namespace=ns-1&direction=backward&limit=500&include_archive=true")
	sameRaw(t, "ns-1 backward", got, nsBack)
	sameRaw(t, "needle search", search(true), needles)
	l2, s2 := logql(true)
	if !bytes.Equal(l2, lqLogs) || !bytes.Equal(s2, lqSeries) {
		t.Fatalf("LogQL with include_archive differs:\n%s\n%s\nbefore:\n%s\n%s", l2, s2, lqLogs, lqSeries)
	}

	// Only objects overlapping the query are downloaded.
	hourStart := start.Add(5 * time.Hour)
	hourRange := "start_time=" + url.QueryEscape(rfc(hourStart)) + "&end_time=" + url.QueryEscape(rfc(hourStart.Add(time.Hour)))
	var meta apiclient.ObjectList
	s.must("GET", "/api/v1/logs/s3/metadata?namespace=ns-0&limit=1000&"+hourRange, nil, &meta)
	var pg rawPage
	s.must("GET", "/api/v1/logs?namespace=ns-0&limit=5000&include_archive=true&"+hourRange, nil, &pg)
	if len(meta.Objects) == 0 || pg.Stats.ObjectsFetched != len(meta.Objects) || len(meta.Objects) >= len(objs)/4 {
		t.Fatalf("a one-hour ns-0 query fetched %d objects; %d overlap it, out of %d", pg.Stats.ObjectsFetched, len(meta.Objects), len(objs))
	}
	t.Logf("one-hour query of ns-0: %d of %d objects fetched", pg.Stats.ObjectsFetched, len(objs))

	// Fresh local entries after the archived ones: paging crosses the boundary.
	fresh := time.Now().Add(-10 * time.Minute)
	var vals [][]string
	for i := 0; i < 100; i++ {
		vals = append(vals, []string{fmt.Sprint(fresh.Add(time.Duration(i) * time.Second).UnixNano()), fmt.Sprintf("fresh line %d", i)})
	}
	code, b := s.do("POST", "/loki/api/v1/push", map[string]any{"streams": []any{map[string]any{
		"stream": map[string]string{"cluster": "bench", "namespace": "ns-1", "pod": "app-1-0", "container": "c0"}, "values": vals}}}, "Content-Type", "application/json")
	if code != 204 {
		t.Fatalf("push: %d %s", code, b)
	}
	wide := "start_time=" + url.QueryEscape(rfc(start)) + "&namespace=ns-1"
	localFresh, _ := s.pageAll(wide + "&direction=forward&limit=5000")
	if len(localFresh) != 100 {
		t.Fatalf("fresh entries: %d; want 100", len(localFresh))
	}
	got, _ = s.pageAll(wide + "&direction=forward&limit=37&include_archive=true")
	sameRaw(t, "forward across the boundary", got, append(append([]json.RawMessage{}, nsFwd...), localFresh...))
	got, _ = s.pageAll(wide + "&direction=backward&limit=41&include_archive=true")
	var wantBack []json.RawMessage
	for i := len(localFresh) - 1; i >= 0; i-- {
		wantBack = append(wantBack, localFresh[i])
	}
	sameRaw(t, "backward across the boundary", got, append(wantBack, nsBack...))

	// S3 browsing.
	var listed []archive.Object
	cursor := ""
	for {
		var page apiclient.ObjectList
		s.must("GET", "/api/v1/logs/s3/metadata?limit=7&cursor="+url.QueryEscape(cursor), nil, &page)
		listed = append(listed, page.Objects...)
		if !page.HasMore {
			break
		}
		cursor = page.NextCursor
	}
	if len(listed) != len(objs) {
		t.Fatalf("/s3/metadata listed %d objects; the bucket has %d", len(listed), len(objs))
	}
	key := listed[3].Key
	var content struct {
		Logs       []json.RawMessage `json:"logs"`
		HasMore    bool              `json:"has_more"`
		NextCursor string            `json:"next_cursor"`
	}
	s.must("GET", "/api/v1/logs/s3/content?limit=10&key="+url.QueryEscape(key), nil, &content)
	raw := getObject(t, bucket, key)
	body, _ := dec.DecodeAll(raw, nil)
	lines := bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n"))
	if len(content.Logs) != min(10, len(lines)) || !bytes.Equal(content.Logs[0], lines[0]) {
		t.Fatalf("/s3/content first page: %d logs, first %s; want %s", len(content.Logs), content.Logs[0], lines[0])
	}
	if len(lines) > 10 {
		var second struct {
			Logs []json.RawMessage `json:"logs"`
		}
		s.must("GET", "/api/v1/logs/s3/content?limit=10&key="+url.QueryEscape(key)+"&cursor="+content.NextCursor, nil, &second)
		if !bytes.Equal(second.Logs[0], lines[10]) {
			t.Fatalf("/s3/content second page starts with %s; want %s", second.Logs[0], lines[10])
		}
	}
	if code, b := s.do("GET", "/api/v1/logs/s3/content?format=raw&key="+url.QueryEscape(key), nil); code != 200 || !bytes.Equal(b, body) {
		t.Fatalf("/s3/content format=raw: %d, %d bytes; want the %d decompressed bytes", code, len(b), len(body))
	}
	if code, b := s.do("GET", "/api/v1/logs/s3/content?key="+url.QueryEscape(key), nil, "X-Scope-OrgID", "other"); code != 404 {
		t.Fatalf("another tenant's key: %d %s; want 404", code, b)
	}
	var needleObj struct {
		Logs []json.RawMessage `json:"logs"`
	}
	s.must("GET", "/api/v1/logs/s3/content?search="+dataset.Needle+"&key="+url.QueryEscape(key), nil, &needleObj)
	for _, l := range needleObj.Logs {
		if !bytes.Contains(l, []byte(dataset.Needle)) {
			t.Fatalf("search returned %s", l)
		}
	}
	var stats apiclient.ArchiveStats
	s.must("GET", "/api/v1/logs/s3/stats", nil, &stats)
	if stats.Total.Objects != int64(len(objs)) || stats.Total.Lines != n || stats.ByPolicy[pid].Lines != n ||
		stats.ByNamespace["ns-0"].Lines+stats.ByNamespace["ns-1"].Lines != n || stats.Total.CompressionRatio < 2 {
		t.Fatalf("/s3/stats: %+v", stats)
	}
	var info apiclient.StorageInfo
	s.must("GET", "/api/v1/logs/storage/info", nil, &info)
	if len(info.ArchiveDestinations) != 1 || !info.ArchiveDestinations[0].Reachability.Reachable || info.ArchiveDestinations[0].Usage.Lines != n {
		t.Fatalf("/storage/info archive: %+v", info.ArchiveDestinations)
	}

	// The CLI lists and prints objects.
	out, err := exec.Command(kubelogBin, "archive", "ls", "--server", s.URL, "--token", adminToken, "-n", "ns-1").CombinedOutput()
	if err != nil || bytes.Count(out, []byte("\n")) != 1+len(objs)/2 || !bytes.Contains(out, []byte("/ns-1/")) {
		t.Fatalf("kubelog archive ls: %v\n%s", err, out)
	}
	out, err = exec.Command(kubelogBin, "archive", "cat", "--server", s.URL, "--token", adminToken, key).Output()
	if err != nil || !bytes.Equal(out, body) {
		t.Fatalf("kubelog archive cat: %v, %d bytes; want %d", err, len(out), len(body))
	}
	code, prom := s.do("GET", "/metrics", nil)
	for _, want := range []string{
		fmt.Sprintf(`kubelog_archive_objects_written_total{tenant="default"} %d`, len(objs)),
		fmt.Sprintf(`kubelog_archive_lines_written_total{tenant="default"} %d`, n),
		fmt.Sprintf(`kubelog_archive_local_entries_deleted_total{tenant="default"} %d`, n),
		`kubelog_archive_jobs_total{status="succeeded",tenant="default"} 1`,
	} {
		if code != 200 || !bytes.Contains(prom, []byte(want)) {
			t.Fatalf("/metrics lacks %s", want)
		}
	}
	t.Logf("%d objects, e.g. %s in %s", len(objs), path.Base(key), path.Dir(key))
}
