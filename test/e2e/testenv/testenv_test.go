package testenv

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// cluster is the one cluster the tests of this package share; nil when
// KUBELOG_E2E=0.
var cluster *Cluster

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if Disabled() {
		return m.Run() // every test skips
	}
	dir, err := os.MkdirTemp("", "kubelog-testenv-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// Generous: on a cold machine this includes building the binaries.
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	cluster, err = StartCluster(ctx, filepath.Join(dir, "cluster"), ClusterOptions{})
	if err != nil {
		log.Print(err)
		return 1
	}
	defer cluster.Stop()
	return m.Run()
}

// testCluster returns the shared cluster, skipping t when KUBELOG_E2E=0.
func testCluster(t *testing.T) *Cluster {
	t.Helper()
	SkipIfDisabled(t)
	return cluster
}

// testContext returns a context that ends with the test or after a minute.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// followLogs streams a container's log with follow and returns its lines on a
// channel, closed when the stream ends; the stream ends with the test.
func followLogs(t *testing.T, c *Cluster, ns, pod, container string) <-chan string {
	t.Helper()
	ctx := testContext(t)
	stream, err := c.Client().CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container, Follow: true}).Stream(ctx)
	if err != nil {
		t.Fatalf("follow logs of %s/%s %s: %v", ns, pod, container, err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		defer stream.Close()
		s := bufio.NewScanner(stream)
		for s.Scan() {
			select {
			case lines <- s.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	return lines
}

// expectLines reads len(want) lines from lines and compares them with want.
func expectLines(t *testing.T, what string, lines <-chan string, want ...string) {
	t.Helper()
	for i, w := range want {
		select {
		case got, ok := <-lines:
			if !ok {
				t.Fatalf("%s: stream ended after %d lines; want %q next", what, i, w)
			}
			if got != w {
				t.Fatalf("%s: line %d: got %q; want %q", what, i, got, w)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: no line %d after 30s; want %q", what, i, w)
		}
	}
}

// readLogs returns a container's whole log without following.
func readLogs(t *testing.T, c *Cluster, ns, pod string, opts *corev1.PodLogOptions) string {
	t.Helper()
	b, err := c.Client().CoreV1().Pods(ns).GetLogs(pod, opts).DoRaw(testContext(t))
	if err != nil {
		t.Fatalf("logs of %s/%s %s: %v: %s", ns, pod, opts.Container, err, b)
	}
	return string(b)
}

func TestPodLogs(t *testing.T) {
	c := testCluster(t)
	ctx := testContext(t)
	if _, err := c.CreateNode(ctx, "node-logs"); err != nil {
		t.Fatal(err)
	}
	const ns, pod = "logs", "two-containers"
	if _, err := c.CreatePod(ctx, ns, pod, []ContainerSpec{{Name: "app"}, {Name: "sidecar"}}, PodOptions{NodeName: "node-logs"}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	app, err := NewCRIWriter(filepath.Join(dir, "app.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	sidecar, err := NewCRIWriter(filepath.Join(dir, "sidecar.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer sidecar.Close()
	previous, err := NewCRIWriter(filepath.Join(dir, "app.previous.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer previous.Close()
	if err := previous.Line("before the restart"); err != nil {
		t.Fatal(err)
	}
	if err := app.Line("app 1", "app 2"); err != nil {
		t.Fatal(err)
	}
	if err := sidecar.Write(Record{Stream: Stderr, Text: "sidecar 1"}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetLogs(ctx, ns, pod, map[string]LogFiles{
		"app":     {Current: app.Path(), Previous: previous.Path(), Follow: true},
		"sidecar": {Current: sidecar.Path(), Follow: true},
	}); err != nil {
		t.Fatal(err)
	}

	appLines := followLogs(t, c, ns, pod, "app")
	sidecarLines := followLogs(t, c, ns, pod, "sidecar")
	expectLines(t, "app", appLines, "app 1", "app 2")
	expectLines(t, "sidecar", sidecarLines, "sidecar 1")

	// Lines written while following arrive; partial records join into one line.
	if err := app.Write(Record{Text: "app 3 ", Partial: true}, Record{Text: "continued"}); err != nil {
		t.Fatal(err)
	}
	if err := sidecar.Line("sidecar 2"); err != nil {
		t.Fatal(err)
	}
	expectLines(t, "app", appLines, "app 3 continued")
	expectLines(t, "sidecar", sidecarLines, "sidecar 2")

	if got, want := readLogs(t, c, ns, pod, &corev1.PodLogOptions{Container: "app", Previous: true}), "before the restart\n"; got != want {
		t.Fatalf("previous app log: got %q; want %q", got, want)
	}
	got := readLogs(t, c, ns, pod, &corev1.PodLogOptions{Container: "sidecar", Timestamps: true})
	if lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n"); len(lines) != 2 || !strings.HasSuffix(lines[0], " sidecar 1") {
		t.Fatalf("sidecar log with timestamps: got %q; want 2 lines, the first ending in \" sidecar 1\"", got)
	}
}

func TestRestartAPIServer(t *testing.T) {
	c := testCluster(t)
	ctx := testContext(t)
	if _, err := c.CreateNode(ctx, "node-restart"); err != nil {
		t.Fatal(err)
	}
	const ns = "restart"
	if _, err := c.CreatePod(ctx, ns, "before", []ContainerSpec{{Name: "app"}}, PodOptions{NodeName: "node-restart"}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.RestartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("kube-apiserver restarted in %v", time.Since(start).Round(time.Millisecond))

	// Stored objects survive, and kwok still plays nodes and serves logs.
	if _, err := c.Client().CoreV1().Pods(ns).Get(ctx, "before", metav1.GetOptions{}); err != nil {
		t.Fatalf("pod created before the restart: %v", err)
	}
	if _, err := c.CreatePod(ctx, ns, "after", []ContainerSpec{{Name: "app"}}, PodOptions{NodeName: "node-restart"}); err != nil {
		t.Fatal(err)
	}
	w, err := NewCRIWriter(filepath.Join(t.TempDir(), "after.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Line("after the restart"); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := c.SetLogs(ctx, ns, "after", map[string]LogFiles{"app": {Current: w.Path()}}); err != nil {
		t.Fatal(err)
	}
	t.Logf("kwok served the new logs after %v", time.Since(start).Round(time.Millisecond))
	if got, want := readLogs(t, c, ns, "after", &corev1.PodLogOptions{Container: "app"}), "after the restart\n"; got != want {
		t.Fatalf("log after the restart: got %q; want %q", got, want)
	}
}

func TestControllers(t *testing.T) {
	SkipIfDisabled(t)
	ctx := testContext(t)
	start := time.Now()
	c, err := StartCluster(ctx, t.TempDir(), ClusterOptions{Controllers: true, EventTTL: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	t.Logf("cluster with controllers started in %v", time.Since(start).Round(time.Millisecond))
	if _, err := c.CreateNode(ctx, "node-0"); err != nil {
		t.Fatal(err)
	}

	// The scheduler binds a pod created without a node.
	pod, err := c.CreatePod(ctx, "sched", "unbound", []ContainerSpec{{Name: "app"}}, PodOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pod.Spec.NodeName != "node-0" {
		t.Fatalf("scheduled pod: got node %q; want node-0", pod.Spec.NodeName)
	}

	// A Deployment rolls out: ReplicaSet, pods, scheduling, kwok's Running.
	const ns = "deploy"
	if _, err := c.Client().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "web"}
	replicas := int32(2)
	_, err = c.Client().AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "kubelog.test/web:1"}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = poll(ctx, func(ctx context.Context) (bool, error) {
		d, err := c.Client().AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		return err == nil && d.Status.ReadyReplicas == replicas, err
	})
	if err != nil {
		t.Fatalf("deployment web: %v", err)
	}
	events, err := c.Client().CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(events.Items) == 0 {
		t.Fatal("events in namespace deploy: got none; want the controllers' and scheduler's")
	}
}

func TestS3(t *testing.T) {
	SkipIfDisabled(t)
	ctx := testContext(t)
	s3, err := StartS3(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Stop()
	client, err := minio.New(s3.Host, &minio.Options{
		Creds:  credentials.NewStaticV4(s3.AccessKey, s3.SecretKey, ""),
		Region: s3.Region,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.MakeBucket(ctx, "kubelog", minio.MakeBucketOptions{Region: s3.Region}); err != nil {
		t.Fatalf("make bucket: %v", err)
	}
	want := []byte("a part of kubelog's store\n")
	if _, err := client.PutObject(ctx, "kubelog", "tenant/part-1", bytes.NewReader(want), int64(len(want)), minio.PutObjectOptions{}); err != nil {
		t.Fatalf("put: %v", err)
	}
	obj, err := client.GetObject(ctx, "kubelog", "tenant/part-1", minio.GetObjectOptions{})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	defer obj.Close()
	got, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("object: got %q; want %q", got, want)
	}

	// Wrong credentials are refused.
	bad, err := minio.New(s3.Host, &minio.Options{Creds: credentials.NewStaticV4(s3.AccessKey, "wrong-secret", ""), Region: s3.Region})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.StatObject(ctx, "kubelog", "tenant/part-1", minio.StatObjectOptions{}); err == nil {
		t.Fatal("stat with a wrong secret: got no error; want access denied")
	}
}

func TestCRIWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	w, err := NewCRIWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	now := time.Date(2026, 3, 4, 5, 6, 7, 890000000, time.FixedZone("CET", 3600))
	w.now = func() time.Time { return now }

	f := func(want string, recs ...Record) {
		t.Helper()
		before, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(recs...); err != nil {
			t.Fatalf("write %v: %v", recs, err)
		}
		after, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(after[len(before):]); got != want {
			t.Fatalf("write %v: got %q; want %q", recs, got, want)
		}
	}
	f("2026-03-04T04:06:07.89Z stdout F hello\n", Record{Text: "hello"})
	f("2026-03-04T04:06:07.89Z stderr P a\n2026-03-04T04:06:07.89Z stderr F b\n",
		Record{Stream: Stderr, Partial: true, Text: "a"}, Record{Stream: Stderr, Text: "b"})
	f("2001-02-03T04:05:06.000000007Z stdout F \n", Record{Time: time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC)})

	bad := func(recs ...Record) {
		t.Helper()
		if err := w.Write(recs...); err == nil {
			t.Fatalf("write %v: got no error; want one", recs)
		}
	}
	bad(Record{Text: "two\nlines"})
	bad(Record{Text: "ok"}, Record{Stream: "stdin", Text: "x"})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	bad(Record{Text: "closed"})
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n != 4 {
		t.Fatalf("lines after failed writes: got %d; want 4", n)
	}
}

// ExampleCRIWriter shows the lines a CRIWriter appends.
func ExampleCRIWriter() {
	dir, err := os.MkdirTemp("", "cri-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	w, err := NewCRIWriter(filepath.Join(dir, "app.log"))
	if err != nil {
		log.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	if err := w.Write(Record{Time: at, Text: "partial", Partial: true}, Record{Time: at, Stream: Stderr, Text: "oops"}); err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	b, err := os.ReadFile(w.Path())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(b))
	// Output:
	// 2026-01-02T03:04:05.0000006Z stdout P partial
	// 2026-01-02T03:04:05.0000006Z stderr F oops
}
