package apps

import (
	testingclock "k8s.io/utils/clock/testing"

	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/kubelog/kubelog/internal/collector"
	"github.com/kubelog/kubelog/internal/events"
	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/query"
	"github.com/kubelog/kubelog/internal/store"
	"github.com/kubelog/kubelog/internal/tail"
)

// fakeClusters serves one cluster of tenant "default" from a fake clientset.
type fakeClusters struct {
	client kubernetes.Interface
	spec   collector.Cluster
}

func (f *fakeClusters) Clusters() []collector.Cluster { return []collector.Cluster{f.spec} }
func (f *fakeClusters) Client(id string) (kubernetes.Interface, collector.Cluster, error) {
	if id != f.spec.ID {
		return nil, collector.Cluster{}, collector.ErrUnknownCluster
	}
	return f.client, f.spec, nil
}

// fakeArchive returns fixed links and records what it was asked.
type fakeArchive struct {
	links    []string
	tenant   string
	matchers []logmodel.Matcher
	from, to int64
}

func (a *fakeArchive) Objects(_ context.Context, tenant string, ms []logmodel.Matcher, from, to int64) ([]string, error) {
	a.tenant, a.matchers, a.from, a.to = tenant, ms, from, to
	return a.links, nil
}

var (
	t0      = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	isCtl   = ptr.To(true)
	podName = "web-6d9f-abcde"
)

// fixture is a Deployment "web" with revision 1 (ReplicaSet web-5c8b, its
// pod gone) and revision 2 (web-6d9f, one live pod restarted once), and
// stored lines of both plus Events.
func fixture(t testing.TB, archive Archive) (*Service, *store.Store) {
	t.Helper()
	owner := func(kind, name, uid string) []metav1.OwnerReference {
		return []metav1.OwnerReference{{Kind: kind, Name: name, UID: types.UID(uid), Controller: isCtl}}
	}
	tmpl := corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		Containers:     []corev1.Container{{Name: "app"}, {Name: "sidecar"}},
		InitContainers: []corev1.Container{{Name: "migrate"}},
	}}
	objs := []runtime.Object{
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "dep-1", CreationTimestamp: metav1.NewTime(t0)}},
		&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-5c8b", Namespace: "shop", UID: "rs-1", CreationTimestamp: metav1.NewTime(t0),
			Annotations: map[string]string{"deployment.kubernetes.io/revision": "1"}, OwnerReferences: owner("Deployment", "web", "dep-1")},
			Spec: appsv1.ReplicaSetSpec{Template: tmpl}},
		&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-6d9f", Namespace: "shop", UID: "rs-2", CreationTimestamp: metav1.NewTime(t0.Add(time.Hour)),
			Annotations: map[string]string{"deployment.kubernetes.io/revision": "2"}, OwnerReferences: owner("Deployment", "web", "dep-1")},
			Spec: appsv1.ReplicaSetSpec{Template: tmpl}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: podName, Namespace: "shop", UID: "pod-2", OwnerReferences: owner("ReplicaSet", "web-6d9f", "rs-2")},
			Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{
				{Name: "app", RestartCount: 1, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
				{Name: "sidecar", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
			}}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-build", Namespace: "shop", UID: "pod-b", Labels: map[string]string{BuildForLabel: "web"}}},
	}
	clusters := &fakeClusters{client: fake.NewClientset(objs...), spec: collector.Cluster{ID: "c1", Name: "test", Tenant: "default"}}
	cfg := store.DefaultConfig(t.TempDir())
	cfg.Fsync = store.FsyncNever
	st, err := store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hub := tail.NewHub(tail.DefaultHubConfig())
	t.Cleanup(hub.Close)
	signer, err := NewSigner(bytes.Repeat([]byte("k"), 32))
	if err != nil {
		t.Fatal(err)
	}
	q, err := query.New(query.Deps{Store: st, Hub: hub})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(DefaultConfig(), Deps{Clusters: clusters, Query: q, Archive: archive, Signer: signer, Clock: testingclock.NewFakePassiveClock(t0.Add(2 * time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	var es []logmodel.Entry
	line := func(pod, uid, container string, restart, n int, at time.Time) {
		for i := range n {
			es = append(es, logmodel.Entry{
				Labels:    logmodel.FromPairs("cluster", "test", "namespace", "shop", "pod", pod, "container", container),
				Timestamp: at.Add(time.Duration(restart)*time.Minute + time.Duration(i)*time.Millisecond).UnixNano(),
				Line:      fmt.Appendf(nil, "%s %s r%d line %d", pod, container, restart, i),
				Metadata:  logmodel.FromPairs(logmodel.MetaPodUID, uid, logmodel.MetaRestart, fmt.Sprint(restart)),
			})
		}
	}
	line("web-5c8b-zzzzz", "pod-1", "app", 0, 3, t0)
	line("web-5c8b-zzzzz", "pod-1", "app", 1, 2, t0)
	line("web-5c8b-zzzzz", "pod-1", "migrate", 0, 2, t0)
	line(podName, "pod-2", "app", 0, 4, t0.Add(time.Hour))
	line(podName, "pod-2", "app", 1, 2, t0.Add(time.Hour))
	line(podName, "pod-2", "sidecar", 0, 1, t0.Add(time.Hour))
	line(podName, "pod-2", "migrate", 0, 2, t0.Add(time.Hour))
	line("web-build", "pod-b", "kaniko", 0, 2, t0.Add(50*time.Minute))
	line("other-abc-12345", "pod-x", "app", 0, 2, t0)
	ev := func(kind, name, uid, reason, msg string, at time.Time) {
		e := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: name + "." + reason, Namespace: "shop"},
			InvolvedObject: corev1.ObjectReference{Kind: kind, Name: name, Namespace: "shop", UID: types.UID(uid)},
			Reason:         reason, Message: msg, Type: "Normal", Count: 1, LastTimestamp: metav1.NewTime(at)}
		es = append(es, events.Entry("test", e))
	}
	ev("Deployment", "web", "dep-1", "ScalingReplicaSet", "Scaled up replica set web-5c8b to 1", t0)
	ev("Deployment", "web", "dep-1", "ScalingReplicaSet", "Scaled up replica set web-6d9f to 1", t0.Add(time.Hour))
	ev("Deployment", "web", "dep-1", "ScalingReplicaSet", "Scaled down replica set web-5c8b to 0", t0.Add(time.Hour+time.Second))
	ev("ReplicaSet", "web-6d9f", "rs-2", "SuccessfulCreate", "Created pod: "+podName, t0.Add(time.Hour))
	ev("Pod", podName, "pod-2", "Scheduled", "Successfully assigned", t0.Add(time.Hour))
	ev("Pod", "web-5c8b-zzzzz", "pod-1", "Scheduled", "Successfully assigned", t0)
	if _, err := st.Append(context.Background(), "default", es); err != nil {
		t.Fatal(err)
	}
	return svc, st
}

// download resolves req and returns the messages of its lines, sorted.
func download(t *testing.T, svc *Service, req Request) []string {
	t.Helper()
	sel, err := svc.Resolve(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := svc.Download(context.Background(), sel, &b); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		if l == "" {
			continue
		}
		parts := strings.SplitN(l, " ", 3)
		if len(parts) != 3 {
			t.Fatalf("line %q is not <component> <timestamp> <message>", l)
		}
		out = append(out, parts[2])
	}
	slices.Sort(out)
	return out
}

func TestSelections(t *testing.T) {
	svc, _ := fixture(t, nil)
	req := func(dep, comp string, typ LogType) Request {
		return Request{Tenant: "default", AppID: "dep-1", DeploymentID: dep, Component: comp, Type: typ}
	}
	f := func(r Request, want ...string) {
		t.Helper()
		slices.Sort(want)
		if got := download(t, svc, r); !slices.Equal(got, want) {
			t.Fatalf("%+v: got %q; want %q", r, got, want)
		}
	}
	p := podName
	f(req("rs-2", "app", TypeRun), p+" app r1 line 0", p+" app r1 line 1")
	f(req("rs-2", "app", TypeRunRestarted), p+" app r0 line 0", p+" app r0 line 1", p+" app r0 line 2", p+" app r0 line 3")
	f(req("rs-2", "", TypeRun), p+" app r1 line 0", p+" app r1 line 1", p+" sidecar r0 line 0")
	// Revision 1's pod is gone: its last stored instance is the current one.
	f(req("rs-1", "app", TypeRun), "web-5c8b-zzzzz app r1 line 0", "web-5c8b-zzzzz app r1 line 1")
	f(req("rs-1", "app", TypeRunRestarted), "web-5c8b-zzzzz app r0 line 0", "web-5c8b-zzzzz app r0 line 1", "web-5c8b-zzzzz app r0 line 2")
	f(req("rs-2", "", TypeBuild), p+" migrate r0 line 0", p+" migrate r0 line 1", "web-build kaniko r0 line 0", "web-build kaniko r0 line 1")
	f(req("rs-2", "app", TypeDeploy),
		"Normal ScalingReplicaSet Deployment/web: Scaled up replica set web-6d9f to 1",
		"Normal ScalingReplicaSet Deployment/web: Scaled down replica set web-5c8b to 0",
		"Normal SuccessfulCreate ReplicaSet/web-6d9f: Created pod: "+p,
		"Normal Scheduled Pod/"+p+": Successfully assigned")
	f(req("rs-1", "app", TypeDeploy),
		"Normal ScalingReplicaSet Deployment/web: Scaled up replica set web-5c8b to 1",
		"Normal ScalingReplicaSet Deployment/web: Scaled down replica set web-5c8b to 0",
		"Normal Scheduled Pod/web-5c8b-zzzzz: Successfully assigned")

	for _, r := range []Request{
		{Tenant: "other", AppID: "dep-1", DeploymentID: "rs-2", Type: TypeRun},
		{Tenant: "default", AppID: "dep-1", DeploymentID: "rs-9", Type: TypeRun},
		{Tenant: "default", AppID: "dep-1", DeploymentID: "rs-2", Component: "nope", Type: TypeRun},
	} {
		if _, err := svc.Resolve(context.Background(), r); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%+v: got %v; want ErrNotFound", r, err)
		}
	}
}

func TestDiscovery(t *testing.T) {
	svc, _ := fixture(t, nil)
	ctx := context.Background()
	as, err := svc.Apps(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 1 || as[0].ID != "dep-1" || as[0].ActiveDeploymentID != "rs-2" || as[0].Kind != KindDeployment || as[0].Cluster != "test" {
		t.Fatalf("apps: %+v", as)
	}
	ds, err := svc.Deployments(ctx, as[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].Revision != 2 || ds[1].Revision != 1 || ds[0].Instances != 1 || ds[1].Instances != 0 || ds[1].Phase != PhaseSuperseded {
		t.Fatalf("deployments: %+v %+v", ds[0], ds[1])
	}
	if !slices.Equal(ds[0].Components, []string{"app", "sidecar"}) {
		t.Fatalf("components: got %q; want app, sidecar", ds[0].Components)
	}
	if as, _ := svc.Apps(ctx, "other"); len(as) != 0 {
		t.Fatalf("tenant other sees %d apps; want 0", len(as))
	}
}

// TestHistoricLogs is case (i) against the Archive interface: the links the
// archive returns for the revision's streams and range are historic_logs.
func TestHistoricLogs(t *testing.T) {
	arch := &fakeArchive{links: []string{"https://s3.example/arch/shop/web-6d9f-abcde/app/1.ndjson.gz"}}
	svc, _ := fixture(t, arch)
	resp, err := svc.Logs(context.Background(), Request{Tenant: "default", AppID: "dep-1", DeploymentID: "rs-1", Component: "app", Type: TypeRun}, false, 0, "http://kubelog")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(resp.HistoricLogs, arch.links) {
		t.Fatalf("historic_logs: got %q; want %q", resp.HistoricLogs, arch.links)
	}
	if arch.tenant != "default" || arch.from != t0.Add(-time.Second).UnixNano() || arch.to != t0.Add(time.Hour).UnixNano() {
		t.Fatalf("archive asked tenant %q from %d to %d", arch.tenant, arch.from, arch.to)
	}
	var pod, container *logmodel.CompiledMatcher
	for _, m := range arch.matchers {
		c, err := m.Compile()
		if err != nil {
			t.Fatal(err)
		}
		switch m.Name {
		case "pod":
			pod = c
		case "container":
			container = c
		}
	}
	if container == nil || !container.Matches("app") || container.Matches("sidecar") {
		t.Fatalf("archive matchers %v do not select component app only", arch.matchers)
	}
	if pod == nil || !pod.Matches("web-5c8b-zzzzz") || pod.Matches(podName) || pod.Matches("other-abc-12345") {
		t.Fatalf("archive matchers %v do not select revision 1's pods only", arch.matchers)
	}
	if !strings.HasPrefix(resp.URL, "http://kubelog"+DownloadPath+"?token=") || resp.LiveURL != "" {
		t.Fatalf("links: %+v", resp)
	}
	// Without an archive, historic_logs is empty, not null.
	svc2, _ := fixture(t, nil)
	resp, err = svc2.Logs(context.Background(), Request{Tenant: "default", AppID: "dep-1", DeploymentID: "rs-2", Type: TypeRun}, true, 0, "http://kubelog")
	if err != nil {
		t.Fatal(err)
	}
	if resp.HistoricLogs == nil || len(resp.HistoricLogs) != 0 || resp.LiveURL == "" {
		t.Fatalf("no archive: %+v", resp)
	}
}

func TestParseType(t *testing.T) {
	for _, s := range []string{"BUILD", "deploy", "Run", "run_restarted"} {
		if _, err := ParseType(s); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
	}
	for _, s := range []string{"", "UNSPECIFIED", "logs"} {
		if _, err := ParseType(s); !errors.Is(err, ErrBadType) {
			t.Fatalf("%q: got %v; want ErrBadType", s, err)
		}
	}
}
