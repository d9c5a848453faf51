package collect

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubelog/kubelog/test/e2e/testenv"
)

// tailProc is a running kubelog tail in cluster mode.
type tailProc struct {
	cmd *exec.Cmd

	mu sync.Mutex
	// lines and notices are stdout's and stderr's lines (guarded by mu).
	lines, notices []string
}

func startTail(t *testing.T, args ...string) *tailProc {
	t.Helper()
	cmd := exec.Command(kubelogBin, append([]string{"tail", "--kubeconfig", cluster.Kubeconfig()}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &tailProc{cmd: cmd}
	var wg sync.WaitGroup
	for _, s := range []struct {
		sc  *bufio.Scanner
		dst *[]string
	}{{bufio.NewScanner(stdout), &p.lines}, {bufio.NewScanner(stderr), &p.notices}} {
		wg.Go(func() {
			for s.sc.Scan() {
				p.mu.Lock()
				*s.dst = append(*s.dst, s.sc.Text())
				p.mu.Unlock()
			}
		})
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); wg.Wait() })
	return p
}

func (p *tailProc) output() (lines, notices []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.lines), slices.Clone(p.notices)
}

// waitFor waits until cond holds for the output.
func (p *tailProc) waitFor(t *testing.T, what string, cond func(lines, notices []string) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		lines, notices := p.output()
		if cond(lines, notices) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: stdout %q, stderr %q", what, lines, notices)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestTailFromCluster runs kubelog tail without --server against the test
// cluster: it follows matching pods as they appear and disappear, filters
// containers and lines, and honours --tail.
func TestTailFromCluster(t *testing.T) {
	testenv.SkipIfDisabled(t)
	const ns = "cli-tail"
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	first := newPod(t, ns, "web-1", []string{"app", "sidecar"}, testenv.PodOptions{})
	for i := range 5 {
		first[0].write(t, fmt.Sprintf("early %d", i))
	}
	first[1].write(t, "sidecar early")

	p := startTail(t, "^web-", "-n", ns, "-E", "side.*", "--tail", "2", "-o", "json", "--exclude", "noise")
	type line struct{ Timestamp, Namespace, Pod, Container, Message string }
	parse := func(lines []string) []line {
		var out []line
		for _, l := range lines {
			var x line
			if err := json.Unmarshal([]byte(l), &x); err != nil {
				t.Fatalf("not JSON: %q", l)
			}
			out = append(out, x)
		}
		return out
	}
	messages := func(lines []string) []string {
		var out []string
		for _, l := range parse(lines) {
			out = append(out, l.Pod+"/"+l.Container+": "+l.Message)
		}
		return out
	}
	p.waitFor(t, "the last two early lines", func(lines, _ []string) bool { return len(lines) >= 2 })
	first[0].write(t, "live one")
	first[0].write(t, "noise to drop")
	first[1].write(t, "sidecar live")
	// A pod created after the tail started is followed too.
	second := newPod(t, ns, "web-2", []string{"app"}, testenv.PodOptions{})
	second[0].write(t, "second pod line")
	// A pod not matching POD_REGEX is not.
	other := newPod(t, ns, "db-1", []string{"app"}, testenv.PodOptions{})
	other[0].write(t, "db line")
	want := []string{"web-1/app: early 3", "web-1/app: early 4", "web-1/app: live one", "web-2/app: second pod line"}
	p.waitFor(t, "the live lines", func(lines, _ []string) bool { return len(lines) >= len(want) })
	time.Sleep(time.Second)
	lines, notices := p.output()
	got := messages(lines)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("tail printed %q; want %q", got, want)
	}
	for _, l := range parse(lines) {
		if _, err := time.Parse(time.RFC3339Nano, l.Timestamp); err != nil || l.Namespace != ns {
			t.Fatalf("line %+v: bad timestamp or namespace", l)
		}
	}
	if !slices.Contains(notices, "+ "+ns+"/web-2 › app") {
		t.Fatalf("notices %q: want web-2's start", notices)
	}

	// A deleted pod's tail ends.
	if err := cluster.Client().CoreV1().Pods(ns).Delete(ctx, "web-2", metav1DeleteNow()); err != nil {
		t.Fatal(err)
	}
	p.waitFor(t, "web-2's tail to end", func(_, notices []string) bool { return slices.Contains(notices, "- "+ns+"/web-2 › app") })

	// The default output names pod and container; --timestamps prefixes the
	// time; --include keeps matching lines only.
	q := startTail(t, "web-1", "-n", ns, "-c", "^app$", "--since", "1h", "--timestamps", "--include", "live")
	q.waitFor(t, "the default output", func(lines, _ []string) bool { return len(lines) >= 1 })
	time.Sleep(500 * time.Millisecond)
	out, _ := q.output()
	if len(out) != 1 || !strings.HasSuffix(out[0], " web-1 app live one") || !strings.HasPrefix(out[0], "20") || strings.Contains(out[0], "\x1b[") {
		t.Fatalf("default output %q; want one timestamped uncoloured 'web-1 app live one'", out)
	}
}

func metav1DeleteNow() metav1.DeleteOptions {
	zero := int64(0)
	return metav1.DeleteOptions{GracePeriodSeconds: &zero}
}
