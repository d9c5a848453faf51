package apps

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubelog/kubelog/internal/collector"
)

// TestOtherKinds: a StatefulSet's revisions are its ControllerRevisions and
// its pods are told apart by controller-revision-hash; a CronJob's are its
// Jobs in creation order; a lone Job is one deployment.
func TestOtherKinds(t *testing.T) {
	owner := func(kind, name, uid string) []metav1.OwnerReference {
		return []metav1.OwnerReference{{Kind: kind, Name: name, UID: types.UID(uid), Controller: isCtl}}
	}
	meta := func(name, uid string, at time.Time, refs []metav1.OwnerReference, labels map[string]string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: "data", UID: types.UID(uid), CreationTimestamp: metav1.NewTime(at), OwnerReferences: refs, Labels: labels}
	}
	tmpl := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db"}}}}
	running := corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "db", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}
	job := func(name, uid string, at time.Time, refs []metav1.OwnerReference, done bool) *batchv1.Job {
		j := &batchv1.Job{ObjectMeta: meta(name, uid, at, refs, nil), Spec: batchv1.JobSpec{Template: tmpl}}
		if done {
			j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
		}
		return j
	}
	client := fake.NewClientset(
		&appsv1.StatefulSet{ObjectMeta: meta("db", "sts-1", t0, nil, nil), Spec: appsv1.StatefulSetSpec{Template: tmpl},
			Status: appsv1.StatefulSetStatus{Replicas: 2, ReadyReplicas: 2, CurrentRevision: "db-bbb", UpdateRevision: "db-bbb"}},
		&appsv1.ControllerRevision{ObjectMeta: meta("db-aaa", "cr-1", t0, owner("StatefulSet", "db", "sts-1"), map[string]string{"controller-revision-hash": "aaa"}), Revision: 1},
		&appsv1.ControllerRevision{ObjectMeta: meta("db-bbb", "cr-2", t0.Add(time.Hour), owner("StatefulSet", "db", "sts-1"), map[string]string{"controller-revision-hash": "bbb"}), Revision: 2},
		&corev1.Pod{ObjectMeta: meta("db-0", "p0", t0, owner("StatefulSet", "db", "sts-1"), map[string]string{"controller-revision-hash": "db-bbb"}), Status: running},
		&corev1.Pod{ObjectMeta: meta("db-1", "p1", t0, owner("StatefulSet", "db", "sts-1"), map[string]string{"controller-revision-hash": "db-bbb"}), Status: running},
		&batchv1.CronJob{ObjectMeta: meta("nightly", "cj-1", t0, nil, nil)},
		job("nightly-2", "job-2", t0.Add(2*time.Hour), owner("CronJob", "nightly", "cj-1"), false),
		job("nightly-1", "job-1", t0.Add(time.Hour), owner("CronJob", "nightly", "cj-1"), true),
		job("once", "job-0", t0, nil, true),
	)
	svc, _ := fixture(t, nil)
	svc.clusters = &fakeClusters{client: client, spec: collector.Cluster{ID: "c1", Name: "test", Tenant: "default"}}
	ctx := context.Background()
	as, err := svc.Apps(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*App{}
	for _, a := range as {
		byName[a.Name] = a
	}
	if len(as) != 3 || byName["db"] == nil || byName["nightly"] == nil || byName["once"] == nil {
		t.Fatalf("apps: got %d; want db, nightly and once (the CronJob's Jobs are not apps)", len(as))
	}
	f := func(name string, wantActive string, want ...[3]any) {
		t.Helper()
		a := byName[name]
		if a.ActiveDeploymentID != wantActive {
			t.Fatalf("%s: active %q; want %q", name, a.ActiveDeploymentID, wantActive)
		}
		ds, err := svc.Deployments(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != len(want) {
			t.Fatalf("%s: %d deployments; want %d", name, len(ds), len(want))
		}
		for i, w := range want {
			if ds[i].ID != w[0] || ds[i].Revision != int64(w[1].(int)) || ds[i].Instances != w[2] {
				t.Fatalf("%s deployment %d: got %s rev %d instances %d; want %v", name, i, ds[i].ID, ds[i].Revision, ds[i].Instances, w)
			}
		}
	}
	f("db", "cr-2", [3]any{"cr-2", 2, 2}, [3]any{"cr-1", 1, 0})
	f("nightly", "job-2", [3]any{"job-2", 2, 0}, [3]any{"job-1", 1, 0})
	f("once", "job-0", [3]any{"job-0", 1, 0})
	if byName["db"].deployments[1].Phase != PhaseActive || byName["nightly"].deployments[1].Phase != PhaseDeploying || byName["once"].deployments[0].Phase != PhaseActive {
		t.Fatal("phases: want db ACTIVE, nightly's running Job DEPLOYING, the finished Job ACTIVE")
	}
}
