package archive_test

import (
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/apiclient"
	"github.com/kubelog/kubelog/internal/dataset"
)

// benchLines is the dataset size of TestArchiveThroughput: small in CI, set
// KUBELOG_ARCHIVE_BENCH_LINES for the figures (e.g. 1000000), and
// KUBELOG_ARCHIVE_BENCH_CPUPROFILE to profile the server.
func benchLines(t *testing.T) int {
	if s := os.Getenv("KUBELOG_ARCHIVE_BENCH_LINES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < dataset.NeedleCount {
			t.Fatalf("KUBELOG_ARCHIVE_BENCH_LINES=%q", s)
		}
		return n
	}
	return 20000
}

// TestArchiveThroughput measures an archive job on the standard dataset
// (400 streams, one hour) to the local MinIO, and then a needle search over
// one day of archived data, with local data deleted. It logs the figures.
func TestArchiveThroughput(t *testing.T) {
	n := benchLines(t)
	var extra []string
	if prof := os.Getenv("KUBELOG_ARCHIVE_BENCH_CPUPROFILE"); prof != "" {
		extra = append(extra, "--cpuprofile", prof)
	}
	s := startServer(t, t.TempDir(), extra...)
	cfg := dataset.DefaultConfig("../../../../shared/data/loghub")
	if _, err := os.Stat(cfg.CorpusDir); err != nil {
		t.Skip("loghub corpus not found")
	}
	cfg.Lines = n
	cfg.Start = time.Now().UTC().Truncate(time.Hour).Add(-72 * time.Hour).UnixNano()
	p := pushConfig(t, s, cfg)
	pid := s.createPolicy(policyBody("throughput", "throughput", false))
	cpu0, mcpu0 := cpuSeconds(t, s.Cmd.Process.Pid), cpuSeconds(t, minioPid(t))
	j := s.startJob(pid)
	var done apiclient.ArchiveJob
	s.waitJob(j.ID, 10*time.Minute)
	s.must("GET", "/api/v1/logs/archive/jobs/"+j.ID, nil, &done)
	if done.Status != "succeeded" || done.Progress.Lines != int64(n) {
		t.Fatalf("job: %+v", done)
	}
	took := done.FinishedAt.Sub(*done.StartedAt).Seconds()
	cpu, mcpu := cpuSeconds(t, s.Cmd.Process.Pid)-cpu0, cpuSeconds(t, minioPid(t))-mcpu0
	t.Logf("CPU during the job: kubelog %.2fs (%.1f MB/s of log lines per kubelog CPU second), MinIO %.2fs; with both: %.1f MB/s per CPU second",
		cpu, float64(p.rawBytes)/cpu/1e6, mcpu, float64(p.rawBytes)/(cpu+mcpu)/1e6)
	t.Logf("archive of %d lines (%d streams, 1h): %d objects in %.2fs: %.1f MB/s of log lines (%d bytes), %.1f MB/s of NDJSON (%d bytes), %.0f lines/s; %d bytes compressed: ratio %.2f to the lines, %.2f to the NDJSON",
		n, cfg.Streams(), done.Progress.Objects, took, float64(p.rawBytes)/took/1e6, p.rawBytes, float64(done.Progress.RawBytes)/took/1e6, done.Progress.RawBytes,
		float64(n)/took, done.Progress.CompressedBytes, float64(p.rawBytes)/float64(done.Progress.CompressedBytes), float64(done.Progress.RawBytes)/float64(done.Progress.CompressedBytes))

	// One day of archived data, deleted locally: a needle search.
	day := dataset.DefaultConfig(cfg.CorpusDir)
	day.Lines, day.Namespaces, day.Start, day.Span = n, 8, time.Now().UTC().Truncate(time.Hour).Add(-48*time.Hour).UnixNano(), int64(24*time.Hour)
	day.Seed = 7
	dp := pushConfig(t, s, day)
	dpid := s.createPolicy(policyBody("day", "day", true))
	dj := s.waitJob(s.startJob(dpid, "start_time", rfc(dp.start), "end_time", rfc(dp.end)).ID, 10*time.Minute)
	if dj.Status != "succeeded" || dj.DeletedEntries != int64(n) {
		t.Fatalf("day job: %+v", dj)
	}
	body := map[string]any{"query": dataset.Needle, "start_time": rfc(dp.start), "end_time": rfc(dp.end), "limit": 100, "include_archive": true}
	var best time.Duration
	var r apiclient.LogsPage
	for i := 0; i < 3; i++ {
		began := time.Now()
		s.must("POST", "/api/v1/logs/search", body, &r)
		if d := time.Since(began); i == 0 || d < best {
			best = d
		}
	}
	if len(r.Logs) != dataset.NeedleCount {
		t.Fatalf("needle search over the archived day: %d hits; want %d", len(r.Logs), dataset.NeedleCount)
	}
	t.Logf("needle search over one archived day (%d lines, %d objects fetched, %d bytes): best of 3 %s", n, r.Stats.ObjectsFetched, r.Stats.BytesFetched, best)
	var pg rawPage
	s.must("GET", "/api/v1/logs?limit=100&include_archive=true&search="+dataset.Needle+"&namespace=ns-3&start_time="+url.QueryEscape(rfc(dp.start))+"&end_time="+url.QueryEscape(rfc(dp.end)), nil, &pg)
	t.Logf("needle in one namespace: %d hits, %d objects fetched", len(pg.Logs), pg.Stats.ObjectsFetched)
	s.stop()
}

// cpuSeconds reads a process's user and system CPU time from /proc.
func cpuSeconds(t *testing.T, pid int) float64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100
}

// minioPid finds the test MinIO's process by its listen address.
func minioPid(t *testing.T) int {
	t.Helper()
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		cmd, _ := os.ReadFile("/proc/" + d.Name() + "/cmdline")
		if strings.Contains(string(cmd), "--address="+s3.Host) {
			return pid
		}
	}
	t.Skip("the MinIO process is not visible in /proc")
	return 0
}
