// Package serve_test runs the real kubelog binary: kubelog serve on a free
// port, pushes real loghub lines through Loki's wire formats, and checks
// what the API answers, across graceful stops and kill -9.
package serve_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/klauspost/compress/snappy"

	"github.com/kubelog/kubelog/internal/apiclient"
	"github.com/kubelog/kubelog/internal/ingest"
	"github.com/kubelog/kubelog/test/e2e/testenv"
)

var kubelogBin string

const adminToken = "e2e-bootstrap-admin-token-0123456789"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kubelog-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if kubelogBin, err = testenv.BuildKubelog(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running kubelog serve process.
type server struct {
	*testenv.Kubelog
	t *testing.T
}

// startServer runs kubelog serve on a free port with dataDir.
func startServer(t *testing.T, dataDir string, extra ...string) *server {
	t.Helper()
	k, err := testenv.StartKubelog(kubelogBin, dataDir, nil, append([]string{"--bootstrap-token", adminToken, "--kubeconfig", "none"}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Kill() })
	return &server{Kubelog: k, t: t}
}

// stop sends sig and waits for the process to exit, returning its exit code.
func (s *server) stop(sig syscall.Signal) int {
	s.t.Helper()
	var exit *exec.ExitError
	if err := s.Stop(sig); err != nil && !errors.As(err, &exit) {
		s.t.Fatalf("%v:\n%s", err, s.Log())
	}
	return s.Cmd.ProcessState.ExitCode()
}

func (s *server) do(token, method, path string, body []byte, hdr ...string) (int, []byte, http.Header) {
	s.t.Helper()
	resp, b, err := testenv.Request(testenv.HTTP, method, s.URL+path, token, bytes.NewReader(body), hdr...)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

// allLogs pages through GET /api/v1/logs?query and returns the messages.
func (s *server) allLogs(token, query string) []string {
	s.t.Helper()
	var out []string
	cursor := ""
	for i := 0; ; i++ {
		q := query
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		code, b, _ := s.do(token, "GET", "/api/v1/logs?"+q, nil)
		if code != 200 {
			s.t.Fatalf("GET /api/v1/logs?%s: %d %s", q, code, b)
		}
		var p apiclient.LogsPage
		if err := json.Unmarshal(b, &p); err != nil {
			s.t.Fatal(err)
		}
		for _, l := range p.Logs {
			out = append(out, l.Message)
		}
		if !p.HasMore {
			return out
		}
		cursor = p.NextCursor
		if i > 10000 {
			s.t.Fatal("paging does not end")
		}
	}
}

// corpus is the loghub files, read from ../shared beside the repository.
type corpusFile struct {
	name  string
	lines []string
}

func loadCorpus(t *testing.T) []corpusFile {
	t.Helper()
	files, _ := filepath.Glob("../../../../shared/data/loghub/*_2k.log")
	if len(files) == 0 {
		t.Skip("loghub corpus not found beside the repository (../shared/data/loghub)")
	}
	sort.Strings(files)
	var out []corpusFile
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
			lines = append(lines, strings.TrimRight(l, "\r"))
		}
		out = append(out, corpusFile{name: strings.ToLower(strings.TrimSuffix(filepath.Base(f), "_2k.log")), lines: lines})
	}
	return out
}

// pushFile pushes a corpus file as one stream, in batches, alternating
// Loki's JSON and snappy protobuf (built with Loki's own push types).
func pushFile(t *testing.T, s *server, token string, f corpusFile, base time.Time, proto bool) {
	t.Helper()
	labels := map[string]string{"cluster": "e2e", "namespace": f.name, "pod": f.name + "-0", "container": "app"}
	for off := 0; off < len(f.lines); off += 500 {
		end := min(off+500, len(f.lines))
		var body []byte
		ctype := "application/json"
		if proto {
			ctype = "application/x-protobuf"
			ps := push.Stream{Labels: fmt.Sprintf(`{cluster="e2e", container="app", namespace=%q, pod=%q}`, f.name, f.name+"-0")}
			for i := off; i < end; i++ {
				ps.Entries = append(ps.Entries, push.Entry{Timestamp: base.Add(time.Duration(i) * time.Millisecond), Line: f.lines[i]})
			}
			raw, err := (&push.PushRequest{Streams: []push.Stream{ps}}).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			body = snappy.Encode(nil, raw)
		} else {
			var vals [][]string
			for i := off; i < end; i++ {
				vals = append(vals, []string{fmt.Sprint(base.Add(time.Duration(i) * time.Millisecond).UnixNano()), f.lines[i]})
			}
			body, _ = json.Marshal(map[string]any{"streams": []any{map[string]any{"stream": labels, "values": vals}}})
		}
		code, b, _ := s.do(token, "POST", "/loki/api/v1/push", body, "Content-Type", ctype)
		if code != 204 {
			t.Fatalf("push %s: %d %s", f.name, code, b)
		}
	}
}

func TestPushAndQueryLoghub(t *testing.T) {
	corpus := loadCorpus(t)
	s := startServer(t, t.TempDir())
	base := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	total := 0
	for i, f := range corpus {
		pushFile(t, s, adminToken, f, base, i%2 == 1)
		total += len(f.lines)
	}
	// Each namespace returns exactly its file, in order.
	for _, f := range corpus {
		got := s.allLogs(adminToken, "namespace="+f.name+"&direction=forward&limit=5000")
		if strings.Join(got, "\n") != strings.Join(f.lines, "\n") {
			t.Fatalf("namespace %s: got %d lines, want the file's %d exactly", f.name, len(got), len(f.lines))
		}
	}
	// Filters against a local evaluation of the same lines.
	count := func(pred func(line string) bool) int {
		n := 0
		for _, f := range corpus {
			for _, l := range f.lines {
				if pred(l) {
					n++
				}
			}
		}
		return n
	}
	check := func(query string, want int) {
		t.Helper()
		if got := len(s.allLogs(adminToken, query)); got != want {
			t.Fatalf("%s: %d lines; want %d", query, got, want)
		}
	}
	check("limit=5000", total)
	check("limit=777&direction=forward", total)
	check("level=error&limit=5000", count(func(l string) bool { return ingest.DetectLevel([]byte(l)) == "error" }))
	check("level=warn,fatal&limit=5000", count(func(l string) bool {
		lv := ingest.DetectLevel([]byte(l))
		return lv == "warn" || lv == "fatal"
	}))
	check("search=failed&limit=5000", count(func(l string) bool { return strings.Contains(strings.ToLower(l), "failed") }))
	re := regexp.MustCompile(`(?i)fail(ed|ure)`)
	check("regex=(%3Fi)fail(ed|ure)&limit=5000", count(re.MatchString))
	check("namespace=hdfs,openssh&search=session&limit=5000",
		len(filterLines(corpus, []string{"hdfs", "openssh"}, func(l string) bool { return strings.Contains(strings.ToLower(l), "session") })))

	// Search expressions.
	code, b, _ := s.do(adminToken, "POST", "/api/v1/logs/search", []byte(`{"query":"namespace:openssh \"Failed password\"","limit":5000}`))
	var p apiclient.LogsPage
	_ = json.Unmarshal(b, &p)
	want := len(filterLines(corpus, []string{"openssh"}, func(l string) bool { return strings.Contains(strings.ToLower(l), "failed password") }))
	if code != 200 || len(p.Logs) != want || want == 0 {
		t.Fatalf("search: %d, %d lines; want %d", code, len(p.Logs), want)
	}

	// Listings and stats.
	code, b, _ = s.do(adminToken, "GET", "/api/v1/logs/namespaces", nil)
	var ns apiclient.NamespaceList
	_ = json.Unmarshal(b, &ns)
	if code != 200 || len(ns.Namespaces) != len(corpus) || ns.Namespaces[0].Entries != 2000 {
		t.Fatalf("namespaces: %d %s", code, b)
	}
	code, b, _ = s.do(adminToken, "GET", "/api/v1/logs/stats", nil)
	var st apiclient.Stats
	_ = json.Unmarshal(b, &st)
	if code != 200 || int(st.TotalLines) != total || int(st.ByLevel["error"]) != count(func(l string) bool { return ingest.DetectLevel([]byte(l)) == "error" }) {
		t.Fatalf("stats: %d %s", code, b)
	}
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, s.Log())
	}
}

func filterLines(corpus []corpusFile, names []string, pred func(string) bool) []string {
	var out []string
	for _, f := range corpus {
		for _, n := range names {
			if f.name == n {
				for _, l := range f.lines {
					if pred(l) {
						out = append(out, l)
					}
				}
			}
		}
	}
	return out
}

// pushLoop pushes uniquely numbered lines from several goroutines until
// stopped, and returns the lines of every push that got a 204.
func pushLoop(s *server, prefix string, stop <-chan struct{}) func() []string {
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for b := 0; ; b++ {
				select {
				case <-stop:
					return
				default:
				}
				var vals [][]string
				var lines []string
				now := time.Now()
				for i := 0; i < 100; i++ {
					l := fmt.Sprintf("%s worker %d batch %d line %d", prefix, w, b, i)
					lines = append(lines, l)
					vals = append(vals, []string{fmt.Sprint(now.Add(time.Duration(i)).UnixNano()), l})
				}
				body, _ := json.Marshal(map[string]any{"streams": []any{map[string]any{"stream": map[string]string{"namespace": "load", "pod": fmt.Sprint("w", w)}, "values": vals}}})
				req, _ := http.NewRequest("POST", s.URL+"/loki/api/v1/push", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+adminToken)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 204 {
					mu.Lock()
					acked = append(acked, lines...)
					mu.Unlock()
				}
			}
		}(w)
	}
	return func() []string {
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return acked
	}
}

func checkAcked(t *testing.T, s *server, prefix string, acked []string) {
	t.Helper()
	got := s.allLogs(adminToken, "namespace=load&limit=5000&search="+strings.ReplaceAll(prefix, " ", "+")+"+worker")
	seen := map[string]int{}
	for _, l := range got {
		seen[l]++
	}
	for l, n := range seen {
		if n != 1 {
			t.Fatalf("%q stored %d times", l, n)
		}
	}
	for _, l := range acked {
		if seen[l] != 1 {
			t.Fatalf("acknowledged line %q lost (%d acked, %d stored)", l, len(acked), len(got))
		}
	}
	t.Logf("%d lines acknowledged, %d stored", len(acked), len(got))
}

func TestGracefulShutdownKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	stop := make(chan struct{})
	wait := pushLoop(s, "graceful", stop)
	time.Sleep(700 * time.Millisecond)
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, s.Log())
	}
	close(stop)
	acked := wait()
	if !strings.Contains(s.Log(), "stopped") {
		t.Fatalf("no clean stop in the log:\n%s", s.Log())
	}
	s2 := startServer(t, dir)
	checkAcked(t, s2, "graceful", acked)
}

func TestKill9DuringPushesLosesNothingAcknowledged(t *testing.T) {
	dir := t.TempDir()
	for round := 0; round < 2; round++ {
		s := startServer(t, dir)
		stop := make(chan struct{})
		wait := pushLoop(s, fmt.Sprint("round ", round), stop)
		time.Sleep(time.Duration(500+300*round) * time.Millisecond)
		s.stop(syscall.SIGKILL)
		close(stop)
		acked := wait()
		s2 := startServer(t, dir)
		checkAcked(t, s2, fmt.Sprint("round ", round), acked)
		s2.stop(syscall.SIGTERM)
	}
}

func TestRateLimitsForReal(t *testing.T) {
	s := startServer(t, t.TempDir())
	code, b, _ := s.do(adminToken, "PUT", "/api/v1/logs/tenants/slow/limits", []byte(`{"requests_per_minute":{"standard":3,"heavy":1}}`))
	if code != 200 {
		t.Fatalf("put limits: %d %s", code, b)
	}
	code, b, _ = s.do(adminToken, "POST", "/api/v1/logs/tokens", []byte(`{"tenant":"slow","name":"reader","scopes":"read"}`))
	if code != 201 {
		t.Fatalf("create token: %d %s", code, b)
	}
	var tok apiclient.Token
	_ = json.Unmarshal(b, &tok)
	for i := 0; i < 3; i++ {
		if code, b, _ := s.do(tok.Token, "GET", "/api/v1/logs", nil); code != 200 {
			t.Fatalf("request %d: %d %s", i, code, b)
		}
	}
	code, b, h := s.do(tok.Token, "GET", "/api/v1/logs", nil)
	if code != 429 || h.Get("Retry-After") == "" || h.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("4th request: %d %s %v", code, b, h)
	}
	if code, _, _ := s.do(tok.Token, "POST", "/api/v1/logs/search", []byte(`{"query":"x"}`)); code != 200 {
		t.Fatalf("first heavy request: %d", code)
	}
	if code, _, _ := s.do(tok.Token, "POST", "/api/v1/logs/search", []byte(`{"query":"x"}`)); code != 429 {
		t.Fatalf("second heavy request: %d; want 429", code)
	}
}

func TestTokenCLIWhileServing(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	out, err := exec.Command(kubelogBin, "token", "create", "--data-dir", dir, "--tenant", "cli", "--scopes", "read,write", "--name", "from-cli").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "klg_") {
		t.Fatalf("token create printed %q; want the token alone", out)
	}
	token := lines[0]
	body := fmt.Sprintf(`{"streams":[{"stream":{"app":"cli"},"values":[["%d","from the cli tenant"]]}]}`, time.Now().UnixNano())
	if code, b, _ := s.do(token, "POST", "/loki/api/v1/push", []byte(body), "Content-Type", "application/json"); code != 204 {
		t.Fatalf("push: %d %s", code, b)
	}
	if got := s.allLogs(token, ""); len(got) != 1 || got[0] != "from the cli tenant" {
		t.Fatalf("cli tenant sees %v", got)
	}
	if got := s.allLogs(adminToken, ""); len(got) != 0 {
		t.Fatalf("default tenant sees %v", got)
	}
	list, err := exec.Command(kubelogBin, "token", "list", "--data-dir", dir, "--json").Output()
	if err != nil || !strings.Contains(string(list), "from-cli") || strings.Contains(string(list), token) {
		t.Fatalf("token list: %v %s", err, list)
	}
}

func TestFirstStartCreatesAdminToken(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(kubelogBin, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(stderr)
	var token string
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "klg_") {
			token = sc.Text()
		}
		if strings.Contains(sc.Text(), "kubelog serving") {
			break
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "admin-token"))
	if err != nil || strings.TrimSpace(string(b)) != token || token == "" {
		t.Fatalf("admin-token file %q (%v); printed %q", b, err, token)
	}
	fi, _ := os.Stat(filepath.Join(dir, "admin-token"))
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin-token mode %v; want 0600", fi.Mode().Perm())
	}
}
