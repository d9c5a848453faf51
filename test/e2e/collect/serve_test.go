package collect

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/apiclient"
	"github.com/kubelog/kubelog/test/e2e/testenv"
)

const serveToken = "e2e-collect-bootstrap-token-0123456789"

// serveProc is kubelog serve collecting from the test cluster.
type serveProc struct {
	*testenv.Kubelog
}

func startServe(t *testing.T, dataDir string) *serveProc {
	t.Helper()
	k, err := testenv.StartKubelog(kubelogBin, dataDir, nil, "--bootstrap-token", serveToken, "--kubeconfig", cluster.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Kill() })
	return &serveProc{Kubelog: k}
}

// logs pages through the server's retrieval API and returns the lines by
// ns/pod/container.
func (p *serveProc) logs(t *testing.T, ns string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	cursor := ""
	for {
		u := p.URL + "/api/v1/logs?direction=forward&limit=5000&namespace=" + ns
		if cursor != "" {
			u += "&cursor=" + cursor
		}
		_, b, err := testenv.Request(testenv.HTTP, "GET", u, serveToken, nil)
		if err != nil {
			t.Fatal(err)
		}
		var page apiclient.LogsPage
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
	_ = p.Kill()
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
					t.Fatalf("%s: stored %d lines, wrote %d:%s", c.key(), len(have), len(want), testenv.DiffMultiset(have, want))
				}
			}
		}
		if done {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := p.Stop(syscall.SIGTERM); err != nil {
		t.Fatalf("kubelog serve after SIGTERM: %v", err)
	}
}
