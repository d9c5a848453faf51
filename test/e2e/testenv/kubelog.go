package testenv

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// BuildKubelog builds the kubelog binary into dir and returns its path.
func BuildKubelog(dir string) (string, error) {
	bin := filepath.Join(dir, "kubelog")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/kubelog/kubelog/cmd/kubelog").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build kubelog: %v\n%s", err, out)
	}
	return bin, nil
}

// Kubelog is a running `kubelog serve` process.
type Kubelog struct {
	// Cmd is the process.
	Cmd *exec.Cmd
	// URL is where it serves: http://host:port, or https:// with
	// --tls-cert-file.
	URL string
	// DataDir is its --data-dir.
	DataDir string

	stderr SyncBuffer
	done   chan struct{}
	err    error // of Cmd.Wait, set before done closes
}

// SyncBuffer is a bytes.Buffer that a process writes while a test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var servingRE = regexp.MustCompile(`msg="kubelog serving" addr=(\S+)`)

// StartKubelog runs `bin serve --listen 127.0.0.1:0 --data-dir dataDir` with
// the extra args (a later --listen wins) and waits up to a minute for the
// address it logs. Unless args set --egress-allow, tenants' endpoints may be
// on loopback, where the tests' clusters and S3 servers listen. Its stderr is kept (Log) and also copied to logTo when
// logTo is not nil. On error the process is gone.
func StartKubelog(bin, dataDir string, logTo io.Writer, args ...string) (*Kubelog, error) {
	k := &Kubelog{DataDir: dataDir, done: make(chan struct{})}
	base := []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir}
	if !slices.ContainsFunc(args, func(a string) bool {
		return strings.HasPrefix(a, "--egress-allow") && !strings.HasPrefix(a, "--egress-allow-private")
	}) {
		base = append(base, "--egress-allow", "127.0.0.0/8")
	}
	k.Cmd = exec.Command(bin, append(base, args...)...)
	k.Cmd.Stderr = &k.stderr
	if logTo != nil {
		k.Cmd.Stderr = io.MultiWriter(&k.stderr, logTo)
	}
	if err := k.Cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		k.err = k.Cmd.Wait()
		close(k.done)
	}()
	scheme := "http://"
	if slices.Contains(args, "--tls-cert-file") {
		scheme = "https://"
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if m := servingRE.FindStringSubmatch(k.stderr.String()); m != nil {
			k.URL = scheme + m[1]
			return k, nil
		}
		select {
		case <-k.done:
			return nil, fmt.Errorf("kubelog serve exited: %v\n%s", k.err, k.Log())
		case <-time.After(20 * time.Millisecond):
		}
	}
	_ = k.Kill()
	return nil, fmt.Errorf("kubelog serve did not start within a minute:\n%s", k.Log())
}

// Log returns what the process has written to stderr.
func (k *Kubelog) Log() string { return k.stderr.String() }

// Stop sends sig and waits up to a minute for the process to exit; then it
// kills it. It returns the error of the process's exit (nil on exit code 0).
func (k *Kubelog) Stop(sig os.Signal) error {
	_ = k.Cmd.Process.Signal(sig)
	select {
	case <-k.done:
		return k.err
	case <-time.After(time.Minute):
		_ = k.Kill()
		return fmt.Errorf("kubelog did not exit within a minute after %v", sig)
	}
}

// Kill kills the process with SIGKILL and waits for it.
func (k *Kubelog) Kill() error {
	_ = k.Cmd.Process.Signal(syscall.SIGKILL)
	<-k.done
	return k.err
}

// Request sends method url with body and the header pairs hdr (name, value,
// ...), with token as bearer token unless empty, through client, and returns
// the answer with its body read.
func Request(client *http.Client, method, url, token string, body io.Reader, hdr ...string) (*http.Response, []byte, error) {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return nil, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// DiffMultiset describes how the multisets got and want differ, or returns
// "".
func DiffMultiset(got, want []string) string {
	count := make(map[string]int)
	for _, s := range want {
		count[s]++
	}
	for _, s := range got {
		count[s]--
	}
	var extra, missing []string
	for s, n := range count {
		for ; n > 0; n-- {
			missing = append(missing, s)
		}
		for ; n < 0; n++ {
			extra = append(extra, s)
		}
	}
	if len(extra) == 0 && len(missing) == 0 {
		return ""
	}
	clip := func(ss []string) []string {
		slices.Sort(ss)
		for i, s := range ss {
			if len(s) > 80 {
				ss[i] = s[:80] + "..."
			}
		}
		return ss[:min(len(ss), 3)]
	}
	return fmt.Sprintf("%d duplicated or unexpected (e.g. %q), %d missing (e.g. %q)", len(extra), clip(extra), len(missing), clip(missing))
}
