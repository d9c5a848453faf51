package kapi

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/kubelog/kubelog/internal/meta"
)

func newObject(name, pod string, labels map[string]string) *PodLogStream {
	return &PodLogStream{TypeMeta: metav1.TypeMeta{Kind: Kind, APIVersion: APIVersion},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec:       PodLogStreamSpec{Pod: pod, Namespace: "default"}}
}

func memObjects(t *testing.T) *Objects {
	t.Helper()
	o, err := OpenObjects(t.Context(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	return o
}

func mustCreate(t *testing.T, o *Objects, tenant string, obj *PodLogStream) *PodLogStream {
	t.Helper()
	out, err := o.Create(tenant, obj, false)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestObjectsCreateGetConflict(t *testing.T) {
	o := memObjects(t)
	a := mustCreate(t, o, "t1", newObject("a", "p", nil))
	if a.UID == "" || a.Generation != 1 || a.ResourceVersion != "1" || a.CreationTimestamp.IsZero() {
		t.Fatalf("created metadata: got uid %q generation %d rv %q created %v", a.UID, a.Generation, a.ResourceVersion, a.CreationTimestamp)
	}
	if _, err := o.Create("t1", newObject("a", "p", nil), false); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("duplicate create: got %v; want AlreadyExists", err)
	}
	// Names are per tenant; another tenant does not see t1's object.
	mustCreate(t, o, "t2", newObject("a", "q", nil))
	if _, err := o.Get("t3", "a"); !apierrors.IsNotFound(err) {
		t.Fatalf("get in another tenant: got %v; want NotFound", err)
	}
	gen := newObject("", "p", nil)
	gen.GenerateName = "gen-"
	g := mustCreate(t, o, "t1", gen)
	if len(g.Name) != len("gen-")+5 {
		t.Fatalf("generateName: got name %q", g.Name)
	}
	dry, err := o.Create("t1", newObject("dry", "p", nil), true)
	if err != nil || dry.Name != "dry" {
		t.Fatalf("dry run create: %v", err)
	}
	if _, err := o.Get("t1", "dry"); !apierrors.IsNotFound(err) {
		t.Fatalf("dry run created the object: %v", err)
	}
}

func TestObjectsUpdateGenerationAndNoop(t *testing.T) {
	o := memObjects(t)
	mustCreate(t, o, "t", newObject("a", "p", nil))
	set := func(f func(*PodLogStream)) *PodLogStream {
		t.Helper()
		out, _, err := o.Update("t", "a", false, false, func(cur *PodLogStream) (*PodLogStream, error) {
			f(cur)
			return cur, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	b := set(func(p *PodLogStream) { p.Labels = map[string]string{"x": "y"} })
	if b.Generation != 1 || b.ResourceVersion != "2" {
		t.Fatalf("label change: got generation %d rv %s; want 1, 2", b.Generation, b.ResourceVersion)
	}
	c := set(func(p *PodLogStream) { p.Spec.Pod = "q" })
	if c.Generation != 2 || c.ResourceVersion != "3" {
		t.Fatalf("spec change: got generation %d rv %s; want 2, 3", c.Generation, c.ResourceVersion)
	}
	d := set(func(*PodLogStream) {})
	if d.ResourceVersion != "3" {
		t.Fatalf("no-op update: got rv %s; want 3", d.ResourceVersion)
	}
	e := set(func(p *PodLogStream) {
		p.Status.ContainerStatuses = []ContainerLogStreamStatus{{Name: "c", Active: true}}
	})
	if e.Generation != 2 || e.ResourceVersion != "4" {
		t.Fatalf("status change: got generation %d rv %s; want 2, 4", e.Generation, e.ResourceVersion)
	}
	if _, _, err := o.Update("t", "missing", false, false, func(cur *PodLogStream) (*PodLogStream, error) { return cur, nil }); !apierrors.IsNotFound(err) {
		t.Fatalf("update of a missing object: got %v; want NotFound", err)
	}
}

func TestObjectsDeletePreconditionsAndGrace(t *testing.T) {
	o := memObjects(t)
	a := mustCreate(t, o, "t", newObject("a", "p", nil))
	if _, _, err := o.Delete("t", "a", Preconditions{ResourceVersion: "99"}, nil, false); !apierrors.IsConflict(err) {
		t.Fatalf("stale resourceVersion precondition: got %v; want Conflict", err)
	}
	if _, _, err := o.Delete("t", "a", Preconditions{UID: "other"}, nil, false); !apierrors.IsConflict(err) {
		t.Fatalf("uid precondition: got %v; want Conflict", err)
	}
	one := int64(1)
	marked, pending, err := o.Delete("t", "a", Preconditions{UID: string(a.UID)}, &one, false)
	if err != nil || !pending || marked.DeletionTimestamp == nil {
		t.Fatalf("graceful delete: got pending %v, deletionTimestamp %v, err %v", pending, marked.DeletionTimestamp, err)
	}
	if _, err := o.Get("t", "a"); err != nil {
		t.Fatalf("object gone before its grace period: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := o.Get("t", "a"); apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("object not deleted after its grace period")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestObjectsSnapshotAtResourceVersion(t *testing.T) {
	o := memObjects(t)
	mustCreate(t, o, "t", newObject("a", "p1", nil))                                            // rv 1
	mustCreate(t, o, "t", newObject("b", "p1", nil))                                            // rv 2
	mustCreate(t, o, "other", newObject("z", "p1", nil))                                        // rv 3
	_, _, _ = o.Update("t", "a", false, false, func(cur *PodLogStream) (*PodLogStream, error) { // rv 4
		cur.Spec.Pod = "p2"
		return cur, nil
	})
	if _, _, err := o.Delete("t", "b", Preconditions{}, nil, false); err != nil { // rv 5
		t.Fatal(err)
	}
	f := func(rv uint64, want string) {
		t.Helper()
		objs, _, err := o.snapshot("t", rv)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, obj := range objs {
			got += obj.Name + "=" + obj.Spec.Pod + " "
		}
		if got != want {
			t.Errorf("snapshot at %d: got %q; want %q", rv, got, want)
		}
	}
	f(1, "a=p1 ")
	f(3, "a=p1 b=p1 ")
	f(4, "a=p2 b=p1 ")
	f(5, "a=p2 ")
	f(0, "a=p2 ")
	if _, _, err := o.snapshot("t", 6); err == nil {
		t.Error("snapshot ahead of the store: got no error")
	}
}

func TestObjectsWatch(t *testing.T) {
	o := memObjects(t)
	mustCreate(t, o, "t", newObject("a", "p", nil))
	w, err := o.startWatch("t", 1, false, false)
	if err != nil {
		t.Fatal(err)
	}
	defer o.stopWatch(w)
	mustCreate(t, o, "other", newObject("hidden", "p", nil))
	mustCreate(t, o, "t", newObject("b", "p", nil))
	if _, _, err := o.Delete("t", "a", Preconditions{}, nil, false); err != nil {
		t.Fatal(err)
	}
	o.sendBookmark(w)
	want := []string{"ADDED b 3", "DELETED a 4", "BOOKMARK  4"}
	for _, wnt := range want {
		select {
		case ev := <-w.ch:
			name := ""
			if ev.obj != nil {
				name = ev.obj.Name
			}
			if got := fmt.Sprintf("%s %s %d", ev.typ, name, ev.rv); got != wnt {
				t.Fatalf("event: got %q; want %q", got, wnt)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("no event; want %q", wnt)
		}
	}
	// From an old resourceVersion the history replays.
	w2, err := o.startWatch("t", 0, true, true)
	if err != nil {
		t.Fatal(err)
	}
	defer o.stopWatch(w2)
	if ev := <-w2.ch; ev.typ != watch.Added || ev.obj.Name != "b" {
		t.Fatalf("initial event: got %s %v", ev.typ, ev.obj)
	}
	if ev := <-w2.ch; ev.typ != watch.Bookmark || !ev.initialEnd {
		t.Fatalf("initial events end: got %s", ev.typ)
	}
}

func TestObjectsPersistAcrossReopen(t *testing.T) {
	ctx := context.Background()
	db, err := meta.Open(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	o, err := OpenObjects(ctx, db.SQL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	a := mustCreate(t, o, "t", newObject("a", "p", map[string]string{"k": "v"}))
	mustCreate(t, o, "t", newObject("b", "p", nil))
	if _, _, err := o.Delete("t", "b", Preconditions{}, nil, false); err != nil {
		t.Fatal(err)
	}
	o.Close()
	o2, err := OpenObjects(ctx, db.SQL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer o2.Close()
	got, err := o2.Get("t", "a")
	if err != nil || got.UID != a.UID || got.Labels["k"] != "v" {
		t.Fatalf("reopened object: got %+v, %v", got, err)
	}
	if _, err := o2.Get("t", "b"); !apierrors.IsNotFound(err) {
		t.Fatalf("deleted object came back: %v", err)
	}
	if rv := o2.ResourceVersion(); rv != 3 {
		t.Fatalf("resourceVersion after reopen: got %d; want 3 (monotonic across deletions)", rv)
	}
	c := mustCreate(t, o2, "t", newObject("c", "p", nil))
	if n, _ := strconv.Atoi(c.ResourceVersion); n != 4 {
		t.Fatalf("next resourceVersion: got %s; want 4", c.ResourceVersion)
	}
	if _, err := o2.startWatch("t", 1, false, false); !apierrors.IsResourceExpired(err) {
		t.Fatalf("watch from before the restart: got %v; want Expired", err)
	}
}

func BenchmarkObjectsList(b *testing.B) {
	o, _ := OpenObjects(context.Background(), nil, nil)
	defer o.Close()
	for i := range 1000 {
		if _, err := o.Create("t", newObject(fmt.Sprintf("obj-%04d", i), "p", map[string]string{"i": strconv.Itoa(i % 10)}), false); err != nil {
			b.Fatal(err)
		}
	}
	h := NewHandler(o, nil, "test")
	lo, err := parseListOptions(map[string][]string{"labelSelector": {"i=3"}, "limit": {"50"}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(1000)
	for b.Loop() {
		list, err := h.listObjects("t", lo)
		if err != nil || len(list.Items) != 50 {
			b.Fatalf("list: %d items, %v", len(list.Items), err)
		}
	}
}

func TestObjectsFinalizers(t *testing.T) {
	o := memObjects(t)
	obj := newObject("a", "p", nil)
	obj.Finalizers = []string{"example.com/keep"}
	mustCreate(t, o, "t", obj)
	marked, pending, err := o.Delete("t", "a", Preconditions{}, nil, false)
	if err != nil || !pending || marked.DeletionTimestamp == nil {
		t.Fatalf("delete with a finalizer: pending %v, %v", pending, err)
	}
	time.Sleep(50 * time.Millisecond)
	if _, err := o.Get("t", "a"); err != nil {
		t.Fatalf("deleted despite its finalizer: %v", err)
	}
	_, _, err = o.Update("t", "a", false, false, func(cur *PodLogStream) (*PodLogStream, error) {
		cur.Finalizers = nil
		return cur, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Get("t", "a"); !apierrors.IsNotFound(err) {
		t.Fatalf("after the last finalizer went: got %v; want NotFound", err)
	}
}

// BenchmarkObjectsUpdateSQLite measures an update written through to the
// metadata database and delivered to a watcher.
func BenchmarkObjectsUpdateSQLite(b *testing.B) {
	ctx := context.Background()
	db, err := meta.Open(ctx, filepath.Join(b.TempDir(), "meta.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	o, err := OpenObjects(ctx, db.SQL(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	created, err := o.Create("t", newObject("a", "p", nil), false)
	if err != nil {
		b.Fatal(err)
	}
	raw, _ := json.Marshal(created)
	w, err := o.startWatch("t", o.ResourceVersion(), false, false)
	if err != nil {
		b.Fatal(err)
	}
	defer o.stopWatch(w)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	i := 0
	for b.Loop() {
		i++
		_, _, err := o.Update("t", "a", false, false, func(cur *PodLogStream) (*PodLogStream, error) {
			cur.Labels = map[string]string{"i": strconv.Itoa(i)}
			return cur, nil
		})
		if err != nil {
			b.Fatal(err)
		}
		<-w.ch
	}
}
