package clusters

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/collector"
	"github.com/kubelog/kubelog/internal/meta"
	"github.com/kubelog/kubelog/internal/secrets"
	"github.com/kubelog/kubelog/internal/store"
)

// unreachableKubeconfig names a server nothing listens on.
const unreachableKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:1
contexts:
- name: ctx
  context:
    cluster: c
    user: u
current-context: ctx
users:
- name: u
  user:
    token: secret-token
`

func newService(t *testing.T) (*Service, *meta.DB, *collector.Manager) {
	t.Helper()
	d, err := meta.Open(t.Context(), filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	st, err := store.Open(store.DefaultConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m, err := collector.NewManager(collector.DefaultConfig(), st, &collector.MemoryCheckpoints{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	cfg := DefaultConfig()
	cfg.CheckTimeout = 2 * time.Second
	if cfg.Keys, err = secrets.NewKeyring(make([]byte, secrets.KeySize)); err != nil {
		t.Fatal(err)
	}
	s := New(cfg, d, m, st)
	t.Cleanup(s.Close)
	return s, d, m
}

func ptr[T any](v T) *T { return &v }

func TestEnsureDefaultIsIdempotent(t *testing.T) {
	s, _, m := newService(t)
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(unreachableKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.EnsureDefault(ctx, path, ""); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := s.ListClusters(ctx, meta.DefaultTenant)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].ID != DefaultClusterID || cs[0].Name != DefaultClusterName || !strings.Contains(cs[0].Kubeconfig, "secret-token") {
		t.Fatalf("clusters: got %+v; want the one default cluster with its inline kubeconfig", cs)
	}
	cfgs, err := s.ListCollections(ctx, CollectionFilter{ClusterID: DefaultClusterID})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfgs) != 1 || cfgs[0].Namespace != "*" || !cfgs[0].Enabled || !cfgs[0].IncludeInit {
		t.Fatalf("collection configs: got %+v; want one all-namespaces config", cfgs)
	}
	if err := s.EnsureDefault(ctx, path, "nope"); err == nil {
		t.Fatal("EnsureDefault with a missing context: got no error")
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if !m.HasCluster(DefaultClusterID) {
		t.Fatal("Start did not add the default cluster to the Manager")
	}
	// A disabled config stays disabled across a restart.
	if _, err := s.DisableCluster(ctx, meta.DefaultTenant, DefaultClusterID); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureDefault(ctx, path, ""); err != nil {
		t.Fatal(err)
	}
	cfgs, _ = s.ListCollections(ctx, CollectionFilter{ClusterID: DefaultClusterID})
	if len(cfgs) != 1 || cfgs[0].Enabled {
		t.Fatalf("after restart: got %+v; want the config still disabled", cfgs)
	}
}

func TestCreateClusterChecksConnection(t *testing.T) {
	s, _, _ := newService(t)
	ctx := t.Context()
	f := func(in ClusterInput, wantReason, wantField string) {
		t.Helper()
		_, err := s.CreateCluster(ctx, meta.DefaultTenant, in)
		var ce *ConnectError
		var ie *InvalidError
		switch {
		case wantReason != "" && (!errors.As(err, &ce) || ce.Reason != wantReason):
			t.Errorf("%+v: got %v; want reason %s", in, err, wantReason)
		case wantField != "" && (!errors.As(err, &ie) || ie.Field != wantField):
			t.Errorf("%+v: got %v; want invalid %s", in, err, wantField)
		}
	}
	f(ClusterInput{Name: ptr("a"), Kubeconfig: ptr(unreachableKubeconfig)}, ReasonRefused, "")
	f(ClusterInput{Name: ptr("a"), Kubeconfig: ptr("{")}, ReasonInvalidKubeconfig, "")
	f(ClusterInput{Name: ptr("a"), Kubeconfig: ptr(unreachableKubeconfig), Context: ptr("other")}, ReasonInvalidKubeconfig, "")
	f(ClusterInput{Kubeconfig: ptr(unreachableKubeconfig)}, "", "name")
	f(ClusterInput{Name: ptr("Upper")}, "", "name")
	f(ClusterInput{Name: ptr("a")}, "", "kubeconfig")
	f(ClusterInput{Name: ptr("a"), Kubeconfig: ptr("x"), InCluster: ptr(true), Admin: true}, "", "kubeconfig")
	f(ClusterInput{Name: ptr("a"), InCluster: ptr(true), Admin: true}, ReasonInvalidKubeconfig, "")
	if _, err := s.CreateCluster(ctx, meta.DefaultTenant, ClusterInput{Name: ptr("a"), InCluster: ptr(true)}); !errors.Is(err, ErrInClusterForbidden) {
		t.Errorf("in_cluster without admin: %v", err)
	}
}

func TestCollectionConfigs(t *testing.T) {
	s, d, m := newService(t)
	ctx := t.Context()
	now := time.Now()
	c := ClusterConfig{ID: "c1", Tenant: meta.DefaultTenant, Name: "one", Kubeconfig: unreachableKubeconfig, CreatedAt: now, UpdatedAt: now}
	if err := s.db.insertCluster(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := d.EnsureTenant(ctx, "team-b"); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if !m.HasCluster("c1") {
		t.Fatal("cluster c1 not started")
	}
	bad := func(in CollectionInput, tenant, field string) {
		t.Helper()
		_, err := s.CreateCollection(ctx, tenant, in)
		var ie *InvalidError
		if !errors.As(err, &ie) || ie.Field != field {
			t.Errorf("%+v: got %v; want invalid %s", in, err, field)
		}
	}
	bad(CollectionInput{Namespace: ptr("ns")}, meta.DefaultTenant, "cluster_id")
	bad(CollectionInput{ClusterID: ptr("c1")}, meta.DefaultTenant, "namespace")
	bad(CollectionInput{ClusterID: ptr("c1"), Namespace: ptr("NS")}, meta.DefaultTenant, "namespace")
	bad(CollectionInput{ClusterID: ptr("c1"), Namespace: ptr("ns"), LabelSelector: ptr("a in (")}, meta.DefaultTenant, "label_selector")
	bad(CollectionInput{ClusterID: ptr("c1"), Namespace: ptr("ns"), IgnoreContainers: ptr([]string{"ok", "Not OK"})}, meta.DefaultTenant, "ignore_containers[1]")
	bad(CollectionInput{ClusterID: ptr("c1"), Namespace: ptr("ns")}, "team-b", "cluster_id")

	a, err := s.CreateCollection(ctx, meta.DefaultTenant, CollectionInput{ClusterID: ptr("c1"), Namespace: ptr("ns"), OnlyContainers: ptr([]string{"app"})})
	if err != nil {
		t.Fatal(err)
	}
	if !a.Enabled || !a.IncludeInit {
		t.Fatalf("created: got %+v; want enabled and include_init by default", a)
	}
	b, err := s.CreateCollection(ctx, meta.DefaultTenant, CollectionInput{ClusterID: ptr("c1"), Namespace: ptr("*"), IncludeInit: ptr(false), Enabled: ptr(false)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DisableNamespace(ctx, meta.DefaultTenant, "c1", "other"); err != nil {
		t.Fatalf("disable a namespace nothing collects: got %v; want no error", err)
	}
	got, err := s.DisableNamespace(ctx, meta.DefaultTenant, "c1", "ns")
	if err != nil || len(got) != 1 || got[0].ID != a.ID || got[0].Enabled {
		t.Fatalf("disable namespace: got %+v, %v", got, err)
	}
	if _, err := s.SetEnabled(ctx, meta.DefaultTenant, []string{a.ID, "missing"}, true); err == nil {
		t.Fatal("SetEnabled with an unknown id: got no error")
	}
	got, err = s.SetEnabled(ctx, meta.DefaultTenant, []string{a.ID, b.ID}, true)
	if err != nil || len(got) != 2 || !got[0].Enabled || !got[1].Enabled {
		t.Fatalf("bulk enable: got %+v, %v", got, err)
	}
	if _, err := s.DisableNamespace(ctx, meta.DefaultTenant, "c1", "other"); !errors.Is(err, meta.ErrConflict) {
		t.Fatalf("disable a namespace the enabled \"*\" config collects: got %v; want a conflict", err)
	}
	sels, err := s.Selections(ctx, "c1")
	if err != nil || len(sels) != 2 {
		t.Fatalf("selections: got %+v, %v", sels, err)
	}
	upd, err := s.UpdateCollection(ctx, meta.DefaultTenant, a.ID, CollectionInput{LabelSelector: ptr("app=web")})
	if err != nil || upd.LabelSelector != "app=web" || upd.Namespace != "ns" || len(upd.OnlyContainers) != 1 {
		t.Fatalf("update: got %+v, %v", upd, err)
	}
	if _, err := s.GetCollection(ctx, "team-b", a.ID); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("another tenant's config: got %v; want not found", err)
	}
	if err := s.DeleteCluster(ctx, meta.DefaultTenant, "c1"); err != nil {
		t.Fatal(err)
	}
	if m.HasCluster("c1") {
		t.Fatal("deleted cluster still collected")
	}
	if cs, _ := s.ListCollections(ctx, CollectionFilter{ClusterID: "c1"}); len(cs) != 0 {
		t.Fatalf("configs of a deleted cluster: got %+v; want none", cs)
	}
}

func TestJobInputValidate(t *testing.T) {
	f := func(in JobInput, field string) {
		t.Helper()
		err := in.validate()
		var ie *InvalidError
		switch {
		case field == "" && err != nil:
			t.Errorf("%+v: got %v; want valid", in, err)
		case field != "" && (!errors.As(err, &ie) || ie.Field != field):
			t.Errorf("%+v: got %v; want invalid %s", in, err, field)
		}
	}
	f(JobInput{Kind: KindOnce, Request: JobRequest{Namespace: "ns", Pods: []string{"p"}, TailLines: 10}}, "")
	f(JobInput{Kind: KindBulk}, "")
	f(JobInput{Kind: KindContinuous, Request: JobRequest{Namespace: "ns", LabelSelector: "app=web"}}, "")
	f(JobInput{Kind: KindOnce}, "namespace")
	f(JobInput{Kind: KindOnce, Request: JobRequest{Namespace: "Bad"}}, "namespace")
	f(JobInput{Kind: KindOnce, Request: JobRequest{Namespace: "ns", Pods: []string{"p"}, LabelSelector: "a=b"}}, "pods")
	f(JobInput{Kind: KindBulk, Request: JobRequest{Pods: []string{"p"}}}, "pods")
	f(JobInput{Kind: KindOnce, Request: JobRequest{Namespace: "ns", TailLines: -1}}, "tail_lines")
	f(JobInput{Kind: KindContinuous, Request: JobRequest{Namespace: "ns", TailLines: 5}}, "tail_lines")
	f(JobInput{Kind: KindOnce, Request: JobRequest{Namespace: "ns", Pods: []string{""}}}, "pods[0]")
	f(JobInput{Kind: KindOnce, Request: JobRequest{Namespace: "ns", Containers: []string{"A"}}}, "containers[0]")
	f(JobInput{Kind: KindOnce, Request: JobRequest{Namespace: "ns", LabelSelector: "a in ("}}, "label_selector")
}

func TestJobsPersist(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	now := time.Now().UTC()
	if err := s.db.insertCluster(ctx, ClusterConfig{ID: "c1", Tenant: meta.DefaultTenant, Name: "default", Kubeconfig: unreachableKubeconfig, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	j, err := s.CreateJob(ctx, meta.DefaultTenant, JobInput{Kind: KindContinuous, Request: JobRequest{Namespace: "ns", Pods: []string{"p"}}})
	if err != nil {
		t.Fatal(err)
	}
	if j.ClusterID != "c1" || j.Status != StatusRunning {
		t.Fatalf("job: got %+v; want running on the default cluster", j)
	}
	sels, _ := s.Selections(ctx, "c1")
	if len(sels) != 1 || sels[0].ID != "job:"+j.ID || sels[0].Pods[0] != "p" {
		t.Fatalf("selections: got %+v; want the job's", sels)
	}
	got, err := s.CancelJob(ctx, meta.DefaultTenant, j.ID)
	if err != nil || got.Status != StatusCancelled || got.EndedAt.IsZero() {
		t.Fatalf("cancel: got %+v, %v", got, err)
	}
	if _, err := s.CancelJob(ctx, meta.DefaultTenant, j.ID); !errors.Is(err, ErrFinished) {
		t.Fatalf("cancel twice: got %v; want ErrFinished", err)
	}
	if sels, _ := s.Selections(ctx, "c1"); len(sels) != 0 {
		t.Fatalf("selections after cancel: got %+v; want none", sels)
	}
	if _, err := s.GetJob(ctx, "other", j.ID); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("another tenant's job: got %v; want not found", err)
	}
}

func TestOnceJobFailsOnUnreachableCluster(t *testing.T) {
	s, _, _ := newService(t)
	s.cfg.ReachTimeout = 500 * time.Millisecond
	ctx := t.Context()
	now := time.Now().UTC()
	if err := s.db.insertCluster(ctx, ClusterConfig{ID: "c1", Tenant: meta.DefaultTenant, Name: "default", Kubeconfig: unreachableKubeconfig, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	j, err := s.CreateJob(ctx, meta.DefaultTenant, JobInput{Kind: KindOnce, Request: JobRequest{Namespace: "ns", TailLines: 5}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := s.GetJob(ctx, meta.DefaultTenant, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Finished() {
			if got.Status != StatusFailed || len(got.Errors) != 1 || !strings.Contains(got.Errors[0], "unreachable") || got.EndedAt.IsZero() {
				t.Fatalf("job: got %+v; want failed, saying the cluster is unreachable", got)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job still %s", got.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
