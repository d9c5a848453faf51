package podlogstream

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"

	"github.com/kubelog/kubelog/test/e2e/testenv"
)

// plsObject is a PodLogStream for pod ns/pod with extra spec fields.
func plsObject(name, ns, pod string, spec map[string]any) *unstructured.Unstructured {
	s := map[string]any{"pod": pod, "namespace": ns}
	for k, v := range spec {
		s[k] = v
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "tilt.dev/v1alpha1", "kind": "PodLogStream",
		"metadata": map[string]any{"name": name}, "spec": s,
	}}
}

// statusWatch follows one object's status through a watch.
type statusWatch struct {
	w    watch.Interface
	dc   dynamic.ResourceInterface
	name string
}

func watchObject(t *testing.T, dc dynamic.ResourceInterface, name string) *statusWatch {
	t.Helper()
	w, err := dc.Watch(t.Context(), metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return &statusWatch{w: w, dc: dc, name: name}
}

// containerStatus is a decoded containerStatuses entry.
type containerStatus struct {
	Name               string
	Active, Terminated bool
	Error              string
}

func (c containerStatus) String() string {
	return fmt.Sprintf("%s(active=%v terminated=%v error=%q)", c.Name, c.Active, c.Terminated, c.Error)
}

// until waits until the object's status satisfies cond, as seen through
// the watch (or, when the status already holds and no event comes, a get)
// and returns how long it took.
func (sw *statusWatch) until(t *testing.T, timeout time.Duration, what string, cond func(map[string]containerStatus) bool) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := time.After(timeout)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := ""
	check := func(u *unstructured.Unstructured) bool {
		list, _, _ := unstructured.NestedSlice(u.Object, "status", "containerStatuses")
		st := map[string]containerStatus{}
		var parts []string
		for _, item := range list {
			m, _ := item.(map[string]any)
			cs := containerStatus{}
			cs.Name, _ = m["name"].(string)
			cs.Active, _ = m["active"].(bool)
			cs.Terminated, _ = m["terminated"].(bool)
			cs.Error, _ = m["error"].(string)
			st[cs.Name] = cs
			parts = append(parts, cs.String())
		}
		last = strings.Join(parts, " ")
		return cond(st)
	}
	for {
		select {
		case ev, ok := <-sw.w.ResultChan():
			if !ok {
				t.Fatalf("%s: watch closed", what)
			}
			if u, _ := ev.Object.(*unstructured.Unstructured); u != nil && ev.Type != watch.Bookmark && check(u) {
				return time.Since(start)
			}
		case <-tick.C:
			if u, err := sw.dc.Get(t.Context(), sw.name, metav1.GetOptions{}); err == nil && check(u) {
				return time.Since(start)
			}
		case <-deadline:
			t.Fatalf("%s: not within %v; last status: %s", what, timeout, last)
		}
	}
}

// TestCollect is the main case: a PodLogStream streams its pod's selected
// containers into the store exactly; updating it changes what is streamed;
// a restart, a termination and a missing pod show in its status; deleting it
// stops the streaming.
func TestCollect(t *testing.T) {
	testenv.SkipIfDisabled(t)
	ctx := t.Context()
	const ns, pod = "pls-collect", "app-0"
	cs := newPod(t, ns, pod, "a", "b", "c")
	for _, n := range []string{"a", "b", "c"} {
		cs[n].write(t, n+" before the stream %d", 100)
	}
	dc := srv.dynamicClient(t, adminToken)
	sw := watchObject(t, dc, "collect")
	if _, err := dc.Create(ctx, plsObject("collect", ns, pod, map[string]any{"ignoreContainers": []any{"c"}}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	took := sw.until(t, 10*time.Second, "a and b active", func(st map[string]containerStatus) bool {
		_, hasC := st["c"]
		return st["a"].Active && st["b"].Active && !hasC && len(st) == 2
	})
	t.Logf("create to status a, b active seen through watch: %v", took.Round(time.Millisecond))
	for _, n := range []string{"a", "b", "c"} {
		cs[n].write(t, n+" while streaming %d", 200)
	}
	waitStored(t, srv, ns, pod, map[string][]string{"a": cs["a"].written(), "b": cs["b"].written()})
	t.Logf("a and b: %d lines each stored exactly; c ignored", len(cs["a"].written()))

	// The same lines through LogQL.
	lq := srv.logqlLines(t, fmt.Sprintf(`{namespace=%q, pod=%q}`, ns, pod))
	for _, n := range []string{"a", "b"} {
		if d := testenv.DiffMultiset(lq[n], cs[n].written()); d != "" {
			t.Fatalf("LogQL lines of %s: %s", n, d)
		}
	}
	if len(lq["c"]) != 0 {
		t.Fatalf("LogQL: %d lines of the ignored container c", len(lq["c"]))
	}

	// Updating the spec changes what is streamed: c is no longer ignored,
	// and all of its log is read.
	start := time.Now()
	if _, err := dc.Patch(ctx, "collect", types.MergePatchType, []byte(`{"spec":{"ignoreContainers":null}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	sw.until(t, 10*time.Second, "c active", func(st map[string]containerStatus) bool { return st["c"].Active })
	waitStored(t, srv, ns, pod, map[string][]string{"a": cs["a"].written(), "b": cs["b"].written(), "c": cs["c"].written()})
	t.Logf("after the update, c's %d lines stored exactly within %v", len(cs["c"].written()), time.Since(start).Round(time.Millisecond))

	// Restart container a: the kubelet's part is played by the test (kwok
	// restarts nothing): the current log moves to a new file, the old one
	// becomes the previous log, and the status says restartCount 1.
	next, err := testenv.NewCRIWriter(filepath.Join(t.TempDir(), "a-1.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	err = cluster.SetLogs(ctx, ns, pod, map[string]testenv.LogFiles{
		"a": {Current: next.Path(), Previous: cs["a"].w.Path(), Follow: true},
		"b": {Current: cs["b"].w.Path(), Follow: true},
		"c": {Current: cs["c"].w.Path(), Follow: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	cs["a"].write(t, "a last words %d", 20)
	updatePodStatus(ctx, t, ns, pod, func(p *corev1.Pod) {
		st := findStatus(p, "a")
		now := metav1.Now()
		st.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", StartedAt: st.State.Running.StartedAt, FinishedAt: now}}
		st.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}
		st.RestartCount = 1
	})
	a1 := &container{name: "a", w: next}
	a1.write(t, "a second instance %d", 50)
	sw.until(t, 10*time.Second, "a active again after its restart", func(st map[string]containerStatus) bool { return st["a"].Active })
	waitStored(t, srv, ns, pod, map[string][]string{"a": append(cs["a"].written(), a1.written()...), "b": cs["b"].written(), "c": cs["c"].written()})
	t.Logf("restart of a: %d lines of instance 0 and %d of instance 1 stored exactly", len(cs["a"].written()), len(a1.written()))

	// Container b terminates: once its log is read to the end, it is
	// terminated and no longer active.
	cs["b"].write(t, "b final line %d", 10)
	start = time.Now()
	updatePodStatus(ctx, t, ns, pod, func(p *corev1.Pod) {
		st := findStatus(p, "b")
		st.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: st.State.Running.StartedAt, FinishedAt: metav1.Now()}}
		st.Ready = false
	})
	sw.until(t, 20*time.Second, "b terminated", func(st map[string]containerStatus) bool {
		return st["b"].Terminated && !st["b"].Active && st["b"].Error == "" && st["a"].Active
	})
	t.Logf("b terminated in status %v after its container status changed", time.Since(start).Round(time.Millisecond))
	waitStored(t, srv, ns, pod, map[string][]string{"a": append(cs["a"].written(), a1.written()...), "b": cs["b"].written(), "c": cs["c"].written()})

	// Pointed at a missing pod, the status says why nothing streams.
	start = time.Now()
	if _, err := dc.Patch(ctx, "collect", types.MergePatchType, []byte(`{"spec":{"pod":"ghost"}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	sw.until(t, 10*time.Second, "missing pod error", func(st map[string]containerStatus) bool {
		return strings.Contains(st["*"].Error, "pod pls-collect/ghost") && strings.Contains(st["*"].Error, "not found")
	})
	t.Logf("missing pod reported through watch %v after the patch was sent", time.Since(start).Round(time.Millisecond))
	// Nothing of app-0 is streamed any more.
	stopped := map[string][]string{"a": append(cs["a"].written(), a1.written()...), "b": cs["b"].written(), "c": cs["c"].written()}
	a1.write(t, "a after the stream moved away %d", 20)
	time.Sleep(3 * time.Second)
	waitStored(t, srv, ns, pod, stopped)
	if err := dc.Delete(ctx, "collect", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestDeleteStopsStreaming deletes an object while its container writes:
// nothing written after the deletion is stored.
func TestDeleteStopsStreaming(t *testing.T) {
	testenv.SkipIfDisabled(t)
	ctx := t.Context()
	const ns, pod = "pls-delete", "app-1"
	cs := newPod(t, ns, pod, "x")
	dc := srv.dynamicClient(t, adminToken)
	if _, err := dc.Create(ctx, plsObject("delete-me", ns, pod, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cs["x"].write(t, "x streamed %d", 100)
	waitStored(t, srv, ns, pod, map[string][]string{"x": cs["x"].written()})
	before := cs["x"].written()
	if err := dc.Delete(ctx, "delete-me", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // the collector stops the stream within its selection delay
	cs["x"].write(t, "x after the deletion %d", 100)
	time.Sleep(3 * time.Second)
	got := srv.logs(t, ns, pod)["x"]
	if d := testenv.DiffMultiset(got, before); d != "" {
		t.Fatalf("after the deletion: %s", d)
	}
	t.Logf("deleted: %d lines stored before, none of the 100 written after", len(before))
}

// TestSinceTime streams only the lines from spec.sinceTime on.
func TestSinceTime(t *testing.T) {
	testenv.SkipIfDisabled(t)
	ctx := t.Context()
	const ns, pod = "pls-since", "app-2"
	cs := newPod(t, ns, pod, "s")
	cs["s"].write(t, "s old %d", 50)
	time.Sleep(1100 * time.Millisecond)
	since := time.Now().UTC().Truncate(time.Second)
	old := len(cs["s"].written())
	cs["s"].write(t, "s new %d", 50)
	dc := srv.dynamicClient(t, adminToken)
	if _, err := dc.Create(ctx, plsObject("since", ns, pod, map[string]any{"sinceTime": since.Format(time.RFC3339)}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = dc.Delete(ctx, "since", metav1.DeleteOptions{}) }()
	waitStored(t, srv, ns, pod, map[string][]string{"s": cs["s"].written()[old:]})
}

// updatePodStatus changes a pod's status, retrying on conflicts.
func updatePodStatus(ctx context.Context, t *testing.T, ns, name string, change func(*corev1.Pod)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := cluster.Client().CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		change(p)
		_, err = cluster.Client().CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// findStatus returns the status of a pod's named container.
func findStatus(p *corev1.Pod, name string) *corev1.ContainerStatus {
	i := slices.IndexFunc(p.Status.ContainerStatuses, func(s corev1.ContainerStatus) bool { return s.Name == name })
	return &p.Status.ContainerStatuses[i]
}
