package serve_test

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kubelog/kubelog/test/e2e/testenv"
)

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestTailCLIResumesAcrossServerRestart runs kubelog tail --server against a
// real server, kills the server with -9 and restarts it on the same address
// while lines are pushed, and checks that the CLI printed every matching line
// exactly once, in order.
func TestTailCLIResumesAcrossServerRestart(t *testing.T) {
	dir := t.TempDir()
	addr := freePort(t)
	s := startServer(t, dir, "--listen", addr)
	cmd := exec.Command(kubelogBin, "tail", "--server", s.URL, "--token", adminToken, "-n", "shop",
		"--filter", `level=error or "panic"`, "--service", "checkout", "-o", "raw")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr testenv.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var mu sync.Mutex
	var printed []string
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			mu.Lock()
			printed = append(printed, sc.Text())
			mu.Unlock()
		}
	}()
	// Wait for the session to exist before pushing: it starts from now.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), "session ") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	var want []string
	push := func(s *server, from, to int) {
		for i := from; i < to; i++ {
			app, ns, line := "checkout", "shop", fmt.Sprintf("INFO request %d ok", i)
			switch i % 5 {
			case 0:
				line = fmt.Sprintf("ERROR request %d failed", i)
			case 1:
				line = fmt.Sprintf("panic: request %d", i)
			case 2:
				app = "other"
				line = fmt.Sprintf("ERROR other service %d", i)
			case 3:
				ns = "elsewhere"
				line = fmt.Sprintf("ERROR elsewhere %d", i)
			}
			body := fmt.Sprintf(`{"streams":[{"stream":{"app":%q,"namespace":%q,"pod":"p-1"},"values":[["%d",%q]]}]}`, app, ns, time.Now().UnixNano(), line)
			if code, b, _ := s.do(adminToken, "POST", "/loki/api/v1/push", []byte(body), "Content-Type", "application/json"); code != 204 {
				t.Fatalf("push: %d %s", code, b)
			}
			if app == "checkout" && ns == "shop" && (i%5 == 0 || i%5 == 1) {
				want = append(want, line)
			}
		}
	}
	push(s, 0, 100)
	s.stop(syscall.SIGKILL)
	s = startServer(t, dir, "--listen", addr)
	push(s, 100, 200)
	s.stop(syscall.SIGTERM)
	s = startServer(t, dir, "--listen", addr)
	push(s, 200, 300)
	deadline = time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(printed)
		mu.Unlock()
		if n >= len(want) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(printed, "\n") != strings.Join(want, "\n") {
		t.Fatalf("printed %d lines, want %d:\n%s\n--- stderr:\n%s", len(printed), len(want), strings.Join(printed, "\n"), stderr.String())
	}
}

// TestQueryCLI runs kubelog query against a real server: a log query printed
// raw, and a metric query printed as a table.
func TestQueryCLI(t *testing.T) {
	s := startServer(t, t.TempDir())
	now := time.Now()
	for i := 0; i < 10; i++ {
		body := fmt.Sprintf(`{"streams":[{"stream":{"app":"q"},"values":[["%d","level=error msg=\"boom %d\""]]}]}`, now.Add(time.Duration(i)*time.Millisecond).UnixNano(), i)
		if code, b, _ := s.do(adminToken, "POST", "/loki/api/v1/push", []byte(body), "Content-Type", "application/json"); code != 204 {
			t.Fatalf("push: %d %s", code, b)
		}
	}
	out, err := exec.Command(kubelogBin, "query", "--server", s.URL, "--token", adminToken, "--since", "5m", "--direction", "forward", "-o", "raw",
		`{app="q"} | logfmt | line_format "{{.msg}}"`).CombinedOutput()
	if err != nil || strings.Count(string(out), "boom") != 10 || !strings.HasPrefix(string(out), "boom 0\n") {
		t.Fatalf("log query: %v\n%s", err, out)
	}
	out, err = exec.Command(kubelogBin, "query", "--server", s.URL, "--token", adminToken, "--since", "5m",
		`sum(count_over_time({app="q"}[5m]))`).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SERIES") || !strings.Contains(string(out), "10") {
		t.Fatalf("metric query: %v\n%s", err, out)
	}
	out, _ = exec.Command(kubelogBin, "query", "--server", s.URL, "--token", adminToken, `{app="q"`).CombinedOutput()
	if !strings.Contains(string(out), "parse error") {
		t.Fatalf("bad query: %s", out)
	}
}
