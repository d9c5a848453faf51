package collect

import (
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/kubelog/kubelog/internal/collector"
	"github.com/kubelog/kubelog/test/e2e/testenv"
)

// TestContainerRestart is case (d). kwok neither restarts containers nor sets
// container IDs, so the test plays the kubelet: it points kwok's current log
// at a new file and the previous log at the old one, then updates the pod
// status (restartCount 1, last state terminated). The old instance's last
// lines are read to the end; the restart metadata tells the instances apart.
// In "collector down" the Manager is closed across the restart, so the old
// instance's last lines can only come from the previous log (previous=true),
// from the saved resume point.
func TestContainerRestart(t *testing.T) {
	testenv.SkipIfDisabled(t)
	t.Run("live", func(t *testing.T) { testContainerRestart(t, "crestart-live", false) })
	t.Run("collector down", func(t *testing.T) { testContainerRestart(t, "crestart-down", true) })
}

func testContainerRestart(t *testing.T, ns string, down bool) {
	ctx := testContext(t)
	const pod = "p"
	old := newPod(t, ns, pod, []string{"app"}, testenv.PodOptions{})[0]
	st := newStore(t)
	cps := &collector.MemoryCheckpoints{}
	m := startManager(t, testConfig(), st, cps, ns)
	for i := 0; i < 50; i++ {
		old.write(t, fmt.Sprintf("first instance line %d", i))
	}
	waitCollected(t, st, 30*time.Second, []*container{old})
	if down {
		m.Close()
	}

	next, err := testenv.NewCRIWriter(filepath.Join(t.TempDir(), "app-1.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	if err := cluster.SetLogs(ctx, ns, pod, map[string]testenv.LogFiles{"app": {Current: next.Path(), Previous: old.w.Path(), Follow: true}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		old.write(t, fmt.Sprintf("last words %d", i))
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := cluster.Client().CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.Now()
		cs := &p.Status.ContainerStatuses[0]
		cs.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", StartedAt: cs.State.Running.StartedAt, FinishedAt: now}}
		cs.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}
		cs.RestartCount = 1
		_, err = cluster.Client().CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	cur := &container{ns: ns, pod: pod, name: "app", w: next}
	for i := 0; i < 30; i++ {
		cur.write(t, fmt.Sprintf("second instance line %d", i))
	}
	if down {
		_ = startManager(t, testConfig(), st, cps, ns)
	}
	want := map[string][]string{"0": old.written(), "1": cur.written()}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := map[string][]string{}
		for _, e := range stored(t, st, ns)[old.key()] {
			got[e.restart] = append(got[e.restart], e.line)
		}
		d0, d1 := testenv.DiffMultiset(got["0"], want["0"]), testenv.DiffMultiset(got["1"], want["1"])
		if d0 == "" && d1 == "" && len(got) == 2 {
			t.Logf("restart 0: %d lines, restart 1: %d lines, exactly as written", len(got["0"]), len(got["1"]))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: restart 0: %s; restart 1: %s; other restarts: %d", d0, d1, len(got)-2)
		}
		time.Sleep(200 * time.Millisecond)
	}
	p, err := cluster.Client().CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rc := p.Status.ContainerStatuses[0].RestartCount; rc != 1 {
		t.Fatalf("restart count after the test: got %d; want 1 (kwok changed the status back)", rc)
	}
}

// TestPodDeleted is case (e): every line written before a pod's deletion is
// stored.
func TestPodDeleted(t *testing.T) {
	testenv.SkipIfDisabled(t)
	ctx := testContext(t)
	const ns = "deleted"
	cs := newPod(t, ns, "p", []string{"a", "b"}, testenv.PodOptions{})
	st := newStore(t)
	m := startManager(t, testConfig(), st, &collector.MemoryCheckpoints{}, ns)
	for i := 0; i < 500; i++ {
		for _, c := range cs {
			c.write(t, fmt.Sprintf("%s line %d", c.name, i))
		}
		if i == 99 {
			// The streams are open before the pod goes: a pod deleted
			// before its logs were ever opened cannot be read, on a busy
			// machine where opening waits for client-side rate limits.
			waitCollected(t, st, time.Minute, cs)
		}
		if i%100 == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	zero := int64(0)
	if err := cluster.Client().CoreV1().Pods(ns).Delete(ctx, "p", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	waitCollected(t, st, 30*time.Second, cs)
	checkExact(t, st, cs)
	if err := m.RemoveCluster("c1"); err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveCluster("c1"); !errors.Is(err, collector.ErrUnknownCluster) {
		t.Fatalf("remove a removed cluster: got %v; want ErrUnknownCluster", err)
	}
	if s := m.Status(); len(s) != 0 {
		t.Fatalf("status after RemoveCluster: got %+v; want none", s)
	}
}

// TestSelectionToggle is case (f): a selection disabled and enabled again.
// The semantics: disabling stops the streams and keeps their resume points;
// enabling resumes from there, so the lines written while disabled are
// collected then, without duplicates. A pod annotated kubelog.io/exclude is
// never collected.
func TestSelectionToggle(t *testing.T) {
	testenv.SkipIfDisabled(t)
	const ns = "toggle"
	cs := newPod(t, ns, "p", []string{"a", "b"}, testenv.PodOptions{})
	excluded := newPod(t, ns, "excluded", []string{"a"}, testenv.PodOptions{Annotations: map[string]string{collector.ExcludeAnnotation: "true"}})
	st := newStore(t)
	m := startManager(t, testConfig(), st, &collector.MemoryCheckpoints{}, ns)
	write := func(phase string, n int) {
		for i := 0; i < n; i++ {
			for _, c := range append(cs, excluded...) {
				c.write(t, fmt.Sprintf("%s %s %d", c.name, phase, i))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	write("enabled", 100)
	waitCollected(t, st, 30*time.Second, cs)
	sels := selections(ns)
	sels[0].Enabled = false
	if err := m.UpdateSelections("c1", sels); err != nil {
		t.Fatal(err)
	}
	// Within the promised 5s, nothing more is collected.
	time.Sleep(2 * time.Second)
	before := len(stored(t, st, ns)[cs[0].key()])
	write("disabled", 100)
	time.Sleep(time.Second)
	if after := len(stored(t, st, ns)[cs[0].key()]); after != before {
		t.Fatalf("lines stored while disabled: got %d more; want none", after-before)
	}
	if err := m.UpdateSelections("c1", selections(ns)); err != nil {
		t.Fatal(err)
	}
	write("re-enabled", 100)
	waitCollected(t, st, 30*time.Second, cs)
	m.Close()
	checkExact(t, st, cs)
	if n := len(stored(t, st, ns)[excluded[0].key()]); n != 0 {
		t.Fatalf("lines stored of the excluded pod: got %d; want 0", n)
	}
}

// TestManyContainers is case (h): 300 containers at once (30 pods of 10).
func TestManyContainers(t *testing.T) {
	testenv.SkipIfDisabled(t)
	hub := loghub(t)
	ctx := testContext(t)
	const ns = "many"
	names := []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"}
	var cs []*container
	for p := 0; p < 30; p++ {
		cs = append(cs, newPod(t, ns, fmt.Sprintf("pod-%d", p), names, testenv.PodOptions{NoWait: true})...)
	}
	st := newStore(t)
	var before syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &before); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	m := startManager(t, testConfig(), st, &collector.MemoryCheckpoints{}, ns)
	writeAll(ctx, t, cs, hub, 100)
	waitCollected(t, st, 90*time.Second, cs)
	elapsed := time.Since(start)
	var after syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &after); err != nil {
		t.Fatal(err)
	}
	cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) * time.Nanosecond
	s := m.Status()[0]
	t.Logf("300 containers: %d lines in %v; test process CPU %v (collector, store and writers); status %+v",
		s.LinesCollected, elapsed.Round(time.Millisecond), cpu.Round(time.Millisecond), s)
	m.Close()
	checkExact(t, st, cs)
}

// TestStreamLimit checks that containers beyond Config.MaxStreams wait for a
// slot instead of failing, and that streams take turns at the end of each
// stream lifetime, every line still stored once.
func TestStreamLimit(t *testing.T) {
	testenv.SkipIfDisabled(t)
	const ns = "limit"
	cs := newPod(t, ns, "p", []string{"a", "b", "c", "d", "e", "f"}, testenv.PodOptions{})
	st := newStore(t)
	cfg := testConfig()
	cfg.MaxStreams = 2
	cfg.MaxStreamLifetime = time.Second
	m := startManager(t, cfg, st, &collector.MemoryCheckpoints{}, ns)
	for i := 0; i < 200; i++ {
		for _, c := range cs {
			c.write(t, fmt.Sprintf("%s %d", c.name, i))
		}
		if i%20 == 0 {
			if s := m.Status()[0]; s.StreamsActive > 2 {
				t.Fatalf("streams active: got %d; want at most 2", s.StreamsActive)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitCollected(t, st, 30*time.Second, cs)
	m.Close()
	checkExact(t, st, cs)
}
