package collect

import (
	"bufio"
	"encoding/json"
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

	"github.com/kubelog/kubelog/test/e2e/testenv"
)

const serveToken = "e2e-collect-bootstrap-token-0123456789"

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func kubelogBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kubelog-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "kubelog")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/kubelog/kubelog/cmd/kubelog").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build kubelog: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

var servingRE = regexp.MustCompile(`msg="kubelog serving" addr=(\S+)`)

// serveProc is kubelog serve collecting from the test cluster.
type serveProc struct {
	cmd *exec.Cmd
	url string
}

func startServe(t *testing.T, dataDir string) *serveProc {
	t.Helper()
	cmd := exec.Command(kubelogBinary(t), "serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir,
		"--bootstrap-token", serveToken, "--kubeconfig", cluster.Kubeconfig())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		return &serveProc{cmd: cmd, url: "http://" + a}
	case <-time.After(30 * time.Second):
		t.Fatal("kubelog serve did not start")
		return nil
	}
}

// logs pages through the server's retrieval API and returns the lines by
// ns/pod/container.
func (p *serveProc) logs(t *testing.T, ns string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	cursor := ""
	for {
		u := p.url + "/api/v1/logs?direction=forward&limit=5000&namespace=" + ns
		if cursor != "" {
			u += "&cursor=" + cursor
		}
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Authorization", "Bearer "+serveToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var page struct {
			Logs []struct {
				Namespace, Pod, Container, Message string
			} `json:"logs"`
			HasMore    bool   `json:"has_more"`
			NextCursor string `json:"next_cursor"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatalf("logs: %v: %s", err, b)
		}
		for _, l := range page.Logs {
			k := l.Namespace + "/" + l.Pod + "/" + l.Container
			out[k] = append(out[k], l.Message)
		}
		if !page.HasMore {
			return out
		}
		cursor = page.NextCursor
	}
}

// TestServeCollectsAcrossKill9 is the main job end to end: kubelog serve
// with the cluster's kubeconfig collects every namespace; it is killed with
// -9 and restarted while containers write, and every line arrives exactly
// once.
func TestServeCollectsAcrossKill9(t *testing.T) {
	testenv.SkipIfDisabled(t)
	const ns = "main-job"
	cs := newPod(t, ns, "web-0", []string{"app", "sidecar", "worker"}, testenv.PodOptions{Labels: map[string]string{"app.kubernetes.io/name": "web"}})
	dataDir := t.TempDir()
	p := startServe(t, dataDir)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
				c.write(t, fmt.Sprintf("%s line %d level=info", c.name, i))
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
	time.Sleep(500 * time.Millisecond)
	p = startServe(t, dataDir)
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := p.logs(t, ns)
		done := true
		for _, c := range cs {
			want := c.written()
			have := append([]string(nil), got[c.key()]...)
			sort.Strings(want)
			sort.Strings(have)
			if strings.Join(want, "\n") != strings.Join(have, "\n") {
				done = false
				if time.Now().After(deadline) {
					t.Fatalf("%s: stored %d lines, wrote %d:%s", c.key(), len(have), len(want), diffMultiset(have, want))
				}
			}
		}
		if done {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("kubelog serve after SIGTERM: %v", err)
	}
}
