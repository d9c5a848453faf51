// Package collect tests the Kubernetes collector against a real kube-apiserver
// and kwok, storing into a real store, and compares the exact multiset of
// stored lines with what the simulated containers wrote.
package collect

import (
	"bufio"
	"context"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/collector"
	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/store"
	"github.com/kubelog/kubelog/test/e2e/testenv"
)

var (
	// cluster is the cluster every test of the package shares; nil when
	// KUBELOG_E2E=0.
	cluster *testenv.Cluster
	// kubelogBin is the kubelog binary under test.
	kubelogBin string
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	if testenv.Disabled() {
		return m.Run() // every test skips
	}
	dir, err := os.MkdirTemp("", "kubelog-e2e-collect-")
	if err != nil {
		log.Print(err)
		return 1
	}
	defer os.RemoveAll(dir)
	if kubelogBin, err = testenv.BuildKubelog(dir); err != nil {
		log.Print(err)
		return 1
	}
	// Generous: on a cold machine this includes building the binaries.
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	cluster, err = testenv.StartCluster(ctx, filepath.Join(dir, "cluster"), testenv.ClusterOptions{Node: "node-0"})
	if err != nil {
		log.Print(err)
		return 1
	}
	defer cluster.Stop()
	return m.Run()
}

const tenant = "default"

// testContext returns a context that ends with the test or after three minutes.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newStore opens a store in a temporary directory, closed with the test.
func newStore(t *testing.T) *store.Store {
	t.Helper()
	cfg := store.DefaultConfig(t.TempDir())
	cfg.Fsync = store.FsyncNever
	st, err := store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// testConfig is the collector configuration of the tests: short timers so that
// the cases run fast.
func testConfig() collector.Config {
	cfg := collector.DefaultConfig()
	cfg.DeletionGrace = 5 * time.Second
	cfg.BackoffMax = 2 * time.Second
	cfg.SelectionDelay = 500 * time.Millisecond
	return cfg
}

// startManager starts a Manager collecting the given namespaces of the test
// cluster into st; it is closed with the test unless closed before.
func startManager(t *testing.T, cfg collector.Config, st collector.Sink, cps collector.Checkpoints, namespaces ...string) *collector.Manager {
	t.Helper()
	m, err := collector.NewManager(cfg, st, cps)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if err := m.AddCluster(t.Context(), collector.Cluster{ID: "c1", Name: "test", Tenant: tenant, RESTConfig: cluster.RESTConfig()}, selections(namespaces...)); err != nil {
		t.Fatal(err)
	}
	return m
}

// selections returns one enabled selection per namespace.
func selections(namespaces ...string) []collector.Selection {
	var sels []collector.Selection
	for _, ns := range namespaces {
		sels = append(sels, collector.Selection{ID: ns, Namespace: ns, IncludeInit: true, Enabled: true})
	}
	return sels
}

// container is a simulated container: its CRI log file and the lines written.
type container struct {
	ns, pod, name string
	w             *testenv.CRIWriter

	mu sync.Mutex
	// lines are the lines written, in order (guarded by mu).
	lines []string
}

// key names the container as stored entries do.
func (c *container) key() string { return c.ns + "/" + c.pod + "/" + c.name }

// write writes lines in one CRI write, so they share a timestamp.
func (c *container) write(t *testing.T, lines ...string) {
	t.Helper()
	if err := c.w.Line(lines...); err != nil {
		t.Error(err)
		return
	}
	c.mu.Lock()
	c.lines = append(c.lines, lines...)
	c.mu.Unlock()
}

// written returns the lines written so far.
func (c *container) written() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.lines)
}

// newPod creates pod ns/name with the named containers, each logging to a new
// CRI file, and waits until kwok serves them.
func newPod(t *testing.T, ns, name string, names []string, opts testenv.PodOptions) []*container {
	t.Helper()
	if opts.NodeName == "" {
		opts.NodeName = "node-0"
	}
	ws, err := cluster.CreateLoggingPod(testContext(t), t.TempDir(), ns, name, names, opts)
	if err != nil {
		t.Fatal(err)
	}
	cs := make([]*container, len(ws))
	for i, w := range ws {
		t.Cleanup(func() { w.Close() })
		cs[i] = &container{ns: ns, pod: name, name: names[i], w: w}
	}
	return cs
}

// storedEntry is what the test checks of a stored entry.
type storedEntry struct {
	line, restart string
}

// stored returns the stored entries of the namespaces, by ns/pod/container.
func stored(t *testing.T, st *store.Store, namespaces ...string) map[string][]storedEntry {
	t.Helper()
	var mu sync.Mutex
	out := make(map[string][]storedEntry)
	for _, ns := range namespaces {
		q := store.Query{Tenant: tenant, Matchers: []logmodel.Matcher{{Type: logmodel.MatchEqual, Name: "namespace", Value: ns}}}
		_, err := st.Scan(t.Context(), q, func(_ int, s *store.Stream, e *store.EntryView) error {
			k := s.Labels.Get("namespace") + "/" + s.Labels.Get("pod") + "/" + s.Labels.Get("container")
			mu.Lock()
			out[k] = append(out[k], storedEntry{line: string(e.Line), restart: e.Metadata.Get("restart")})
			mu.Unlock()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// storedLines returns the stored lines of a container.
func storedLines(all map[string][]storedEntry, key string) []string {
	var lines []string
	for _, e := range all[key] {
		lines = append(lines, e.line)
	}
	return lines
}

// waitCollected waits until the store holds as many lines as each container
// wrote (or timeout).
func waitCollected(t *testing.T, st *store.Store, timeout time.Duration, cs []*container) {
	t.Helper()
	nss := namespaces(cs)
	deadline := time.Now().Add(timeout)
	for {
		all := stored(t, st, nss...)
		missing := 0
		for _, c := range cs {
			if n := len(c.written()) - len(all[c.key()]); n > 0 {
				missing += n
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Logf("after %v: %d lines not stored yet", timeout, missing)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkExact compares the multiset of each container's stored lines with the
// lines it wrote.
func checkExact(t *testing.T, st *store.Store, cs []*container) {
	t.Helper()
	all := stored(t, st, namespaces(cs)...)
	total := 0
	for _, c := range cs {
		want := c.written()
		got := storedLines(all, c.key())
		total += len(got)
		if d := testenv.DiffMultiset(got, want); d != "" {
			t.Errorf("%s: stored %d lines, wrote %d: %s", c.key(), len(got), len(want), d)
		}
	}
	t.Logf("%d containers, %d lines stored, exactly as written", len(cs), total)
}

// namespaces returns the namespaces of cs.
func namespaces(cs []*container) []string {
	var nss []string
	for _, c := range cs {
		if !slices.Contains(nss, c.ns) {
			nss = append(nss, c.ns)
		}
	}
	return nss
}

// loghub returns the lines of the loghub sample files, skipping the test when
// they are missing.
func loghub(t *testing.T) [][]string {
	t.Helper()
	files, _ := filepath.Glob("../../../../shared/data/loghub/*_2k.log")
	if len(files) == 0 {
		t.Skip("loghub samples not found under ../../../../shared/data/loghub")
	}
	var out [][]string
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		s := bufio.NewScanner(fh)
		s.Buffer(nil, 1<<20)
		for s.Scan() {
			lines = append(lines, strings.TrimRight(s.Text(), "\r"))
		}
		fh.Close()
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		out = append(out, lines)
	}
	return out
}

// writeAtRate writes lines to c in chunks of up to chunk lines (sharing a
// timestamp) every interval until all are written or ctx ends.
func writeAtRate(ctx context.Context, t *testing.T, c *container, lines []string, chunk int, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for len(lines) > 0 {
		n := min(chunk, len(lines))
		c.write(t, lines[:n]...)
		lines = lines[n:]
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
