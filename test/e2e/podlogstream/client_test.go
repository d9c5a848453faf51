package podlogstream

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/kubelog/kubelog/internal/apiclient"
	"github.com/kubelog/kubelog/test/e2e/testenv"
)

func unstructuredPLS(name, pod string, labels map[string]any) *unstructured.Unstructured {
	md := map[string]any{"name": name}
	if labels != nil {
		md["labels"] = labels
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "tilt.dev/v1alpha1", "kind": "PodLogStream", "metadata": md,
		"spec": map[string]any{"pod": pod, "namespace": "nowhere"},
	}}
}

// TestDynamicClientListWatch lists with selectors and pages, then watches
// from the list's resourceVersion with client-go's dynamic client.
func TestDynamicClientListWatch(t *testing.T) {
	testenv.SkipIfDisabled(t)
	ctx := t.Context()
	dc := srv.dynamicClient(t, adminToken)
	for i := range 5 {
		tier := "web"
		if i%2 == 1 {
			tier = "db"
		}
		if _, err := dc.Create(ctx, unstructuredPLS(fmt.Sprintf("dyn-%d", i), "p", map[string]any{"suite": "dyn", "tier": tier}), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	opts := metav1.ListOptions{LabelSelector: "suite=dyn", Limit: 2}
	var listRV string
	for pages := 0; ; pages++ {
		l, err := dc.List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if listRV == "" {
			listRV = l.GetResourceVersion()
		}
		for _, it := range l.Items {
			names = append(names, it.GetName())
		}
		if l.GetContinue() == "" {
			if pages != 2 {
				t.Fatalf("pages: got %d; want 3", pages+1)
			}
			break
		}
		opts.Continue = l.GetContinue()
	}
	if got := strings.Join(names, ","); got != "dyn-0,dyn-1,dyn-2,dyn-3,dyn-4" {
		t.Fatalf("paged list: got %s", got)
	}
	db, err := dc.List(ctx, metav1.ListOptions{LabelSelector: "suite=dyn,tier=db"})
	if err != nil || len(db.Items) != 2 {
		t.Fatalf("label selector: %v, %d items", err, len(db.Items))
	}
	one, err := dc.List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=dyn-3"})
	if err != nil || len(one.Items) != 1 || one.Items[0].GetName() != "dyn-3" {
		t.Fatalf("field selector: %v %v", err, one.Items)
	}

	first, err := dc.List(ctx, metav1.ListOptions{LabelSelector: "suite=dyn", ResourceVersion: listRV, ResourceVersionMatch: metav1.ResourceVersionMatchExact})
	if err != nil || len(first.Items) != 5 {
		t.Fatalf("list at the first page's resourceVersion: %v", err)
	}
	w, err := dc.Watch(ctx, metav1.ListOptions{LabelSelector: "suite=dyn", ResourceVersion: listRV, AllowWatchBookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := dc.Patch(ctx, "dyn-0", types.MergePatchType, []byte(`{"spec":{"pod":"q"}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := dc.Delete(ctx, "dyn-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := dc.Create(ctx, unstructuredPLS("dyn-5", "p", map[string]any{"suite": "dyn"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"MODIFIED dyn-0 q", "DELETED dyn-1 p", "ADDED dyn-5 p"}
	var got []string
	lastRV := listRV
	// The controller updates the status of new objects at any time; an event
	// that leaves the generation as listed is one of those.
	gens := map[string]int64{}
	for _, it := range first.Items {
		gens[it.GetName()] = it.GetGeneration()
	}
	timeout := time.After(10 * time.Second)
	for len(got) < len(want) {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch closed after %v", got)
			}
			u, _ := ev.Object.(*unstructured.Unstructured)
			if ev.Type == watch.Bookmark || u == nil {
				continue
			}
			pod, _, _ := unstructured.NestedString(u.Object, "spec", "pod")
			e := fmt.Sprintf("%s %s %s", ev.Type, u.GetName(), pod)
			if ev.Type == watch.Modified && gens[u.GetName()] == u.GetGeneration() {
				continue // a status update of the controller
			}
			gens[u.GetName()] = u.GetGeneration()
			got = append(got, e)
			if rv, prev := atoi(u.GetResourceVersion()), atoi(lastRV); rv <= prev {
				t.Fatalf("event %s has resourceVersion %s, not after %s", e, u.GetResourceVersion(), lastRV)
			}
			lastRV = u.GetResourceVersion()
		case <-timeout:
			t.Fatalf("watch events: got %v; want %v", got, want)
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("watch events: got %v; want %v", got, want)
	}
	// A stale update is a conflict.
	cur, err := dc.Get(ctx, "dyn-2", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stale := cur.DeepCopy()
	cur.SetLabels(map[string]string{"suite": "dyn", "tier": "cache"})
	if _, err := dc.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := dc.Update(ctx, stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("stale update: got %v; want Conflict", err)
	}
	if err := dc.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "suite=dyn"}); err != nil {
		t.Fatal(err)
	}
	if l, err := dc.List(ctx, metav1.ListOptions{LabelSelector: "suite=dyn"}); err != nil || len(l.Items) != 0 {
		t.Fatalf("after deletecollection: %v, %d items", err, len(l.Items))
	}
}

func atoi(s string) uint64 {
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}

// statusOf decodes a Status body.
func statusOf(t *testing.T, code int, body []byte) metav1.Status {
	t.Helper()
	var st metav1.Status
	if err := json.Unmarshal(body, &st); err != nil || st.Kind != "Status" || int(st.Code) != code {
		t.Fatalf("not a Status with code %d: %s", code, body)
	}
	return st
}

// TestBadObjects sends invalid objects; each gets a Status error.
func TestBadObjects(t *testing.T) {
	testenv.SkipIfDisabled(t)
	f := func(query, body string, wantCode int, wantReason metav1.StatusReason, wantField, wantMsg string) {
		t.Helper()
		code, b := srv.do(t, adminToken, "POST", "/apis/tilt.dev/v1alpha1/podlogstreams"+query, "application/json", body)
		if code != wantCode {
			t.Fatalf("%s: got %d %s; want %d", body, code, b, wantCode)
		}
		st := statusOf(t, code, b)
		if st.Reason != wantReason || !strings.Contains(st.Message, wantMsg) {
			t.Fatalf("%s: got %s %q; want %s with %q", body, st.Reason, st.Message, wantReason, wantMsg)
		}
		if wantField != "" && (st.Details == nil || len(st.Details.Causes) == 0 || st.Details.Causes[0].Field != wantField) {
			t.Fatalf("%s: causes %+v; want field %s", body, st.Details, wantField)
		}
	}
	f("", `{"apiVersion":"tilt.dev/v1alpha1","kind":"PodLogStream","metadata":{"name":"bad"},"spec":{"namespace":"x"}}`,
		422, metav1.StatusReasonInvalid, "spec.pod", "spec.pod: Required value")
	f("?fieldValidation=Strict", `{"apiVersion":"tilt.dev/v1alpha1","kind":"PodLogStream","metadata":{"name":"bad"},"spec":{"pod":"p","podd":"x"}}`,
		400, metav1.StatusReasonBadRequest, "", `unknown field "spec.podd"`)
	f("", `{"apiVersion":"tilt.dev/v1alpha1","kind":"PodLogStream","metadata":{"name":"bad"},"spec":{"pod":"p","sinceTime":"21/11/2026"}}`,
		422, metav1.StatusReasonInvalid, "spec.sinceTime", "RFC3339")

	// Without a token, or with one lacking the manage scope.
	code, b := srv.do(t, "", "GET", "/apis/tilt.dev/v1alpha1/podlogstreams", "", "")
	if st := statusOf(t, code, b); code != http.StatusUnauthorized || st.Reason != metav1.StatusReasonUnauthorized {
		t.Fatalf("no token: %d %s", code, b)
	}
	reader := srv.createToken(t, "default", "pls-reader", "read")
	code, b = srv.do(t, reader, "POST", "/apis/tilt.dev/v1alpha1/podlogstreams", "application/json", `{"metadata":{"name":"x"},"spec":{"pod":"p"}}`)
	if st := statusOf(t, code, b); code != http.StatusForbidden || st.Reason != metav1.StatusReasonForbidden {
		t.Fatalf("read-only token: %d %s", code, b)
	}
}

// TestTenancy checks that another tenant's objects are invisible.
func TestTenancy(t *testing.T) {
	testenv.SkipIfDisabled(t)
	ctx := t.Context()
	other := srv.createToken(t, "tenant-b", "pls", "read,manage")
	mine := srv.dynamicClient(t, adminToken)
	theirs := srv.dynamicClient(t, other)
	w, err := theirs.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := mine.Create(ctx, unstructuredPLS("tenancy", "p", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = mine.Delete(ctx, "tenancy", metav1.DeleteOptions{}) }()
	if _, err := theirs.Get(ctx, "tenancy", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("other tenant's get: got %v; want NotFound", err)
	}
	if err := theirs.Delete(ctx, "tenancy", metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("other tenant's delete: got %v; want NotFound", err)
	}
	l, err := theirs.List(ctx, metav1.ListOptions{})
	if err != nil || len(l.Items) != 0 {
		t.Fatalf("other tenant's list: %v %d items", err, len(l.Items))
	}
	// The same name is free in the other tenant, and its status says it has
	// no cluster.
	if _, err := theirs.Create(ctx, unstructuredPLS("tenancy", "p", nil), metav1.CreateOptions{}); err != nil {
		t.Fatalf("same name in another tenant: %v", err)
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-w.ResultChan():
			u, _ := ev.Object.(*unstructured.Unstructured)
			if u == nil || u.GetName() != "tenancy" {
				continue
			}
			uid := u.GetUID()
			mineObj, _ := mine.Get(ctx, "tenancy", metav1.GetOptions{})
			if mineObj != nil && mineObj.GetUID() == uid {
				t.Fatal("the other tenant's watch saw this tenant's object")
			}
			sts, _, _ := unstructured.NestedSlice(u.Object, "status", "containerStatuses")
			if len(sts) > 0 {
				msg, _ := sts[0].(map[string]any)["error"].(string)
				if !strings.Contains(msg, "no cluster is registered") {
					t.Fatalf("status of an object in a tenant without cluster: %v", sts)
				}
				_ = theirs.Delete(ctx, "tenancy", metav1.DeleteOptions{})
				return
			}
		case <-deadline:
			t.Fatal("no status on the other tenant's object")
		}
	}
}

// TestInformer runs a client-go shared informer (its reflector lists and
// watches, or streams the list with sendInitialEvents when the client has
// the WatchList feature) against the API.
func TestInformer(t *testing.T) {
	testenv.SkipIfDisabled(t)
	ctx := t.Context()
	dyn, err := dynamic.NewForConfig(srv.restConfig(adminToken))
	if err != nil {
		t.Fatal(err)
	}
	dc := dyn.Resource(gvr)
	if _, err := dc.Create(ctx, unstructuredPLS("informer-0", "p", map[string]any{"suite": "informer"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = dc.DeleteCollection(context.Background(), metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "suite=informer"})
	}()
	factory := dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, "", func(o *metav1.ListOptions) { o.LabelSelector = "suite=informer" })
	inf := factory.ForResource(gvr).Informer()
	events := make(chan string, 100)
	_, err = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(o any) { events <- "add " + o.(*unstructured.Unstructured).GetName() },
		DeleteFunc: func(o any) {
			if u, ok := o.(*unstructured.Unstructured); ok {
				events <- "delete " + u.GetName()
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	factory.Start(stop)
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("informer did not sync")
	}
	if _, err := dc.Create(ctx, unstructuredPLS("informer-1", "p", map[string]any{"suite": "informer"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := dc.Delete(ctx, "informer-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"add informer-0", "add informer-1", "delete informer-0"}
	for _, w := range want {
		select {
		case got := <-events:
			if got != w {
				t.Fatalf("informer event: got %q; want %q", got, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("informer event %q did not come", w)
		}
	}
}

// TestGracefulDelete deletes with gracePeriodSeconds: 202, a
// deletionTimestamp, then the object goes.
func TestGracefulDelete(t *testing.T) {
	testenv.SkipIfDisabled(t)
	ctx := t.Context()
	dc := srv.dynamicClient(t, adminToken)
	if _, err := dc.Create(ctx, unstructuredPLS("graceful", "p", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	code, b := srv.do(t, adminToken, "DELETE", "/apis/tilt.dev/v1alpha1/podlogstreams/graceful?gracePeriodSeconds=1&propagationPolicy=Foreground&pretty=true", "", "")
	if code != http.StatusAccepted || !strings.Contains(string(b), "\n  \"status\": \"Success\"") {
		t.Fatalf("graceful delete: %d %s", code, b)
	}
	u, err := dc.Get(ctx, "graceful", metav1.GetOptions{})
	if err != nil || u.GetDeletionTimestamp() == nil {
		t.Fatalf("during the grace period: %v, deletionTimestamp %v", err, u.GetDeletionTimestamp())
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := dc.Get(ctx, "graceful", metav1.GetOptions{}); apierrors.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("not deleted 5s after a 1s grace period")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestTenantCluster registers the test cluster for another tenant, under its
// own name, through the clusters API: a PodLogStream of that tenant streams
// into that tenant only.
func TestTenantCluster(t *testing.T) {
	testenv.SkipIfDisabled(t)
	ctx := t.Context()
	const ns, pod = "pls-tenant", "app-4"
	cs := newPod(t, ns, pod, "w")
	cs["w"].write(t, "w tenant line %d", 100)
	token := srv.createToken(t, "tenant-c", "pls-c", "read,manage")
	kc, err := os.ReadFile(cluster.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"name": "kwok", "kubeconfig": string(kc)})
	code, b := srv.do(t, token, "POST", "/api/v1/logs/clusters/configs", "application/json", string(body))
	if code != http.StatusCreated {
		t.Fatalf("register the cluster for tenant-c: %d %s", code, b)
	}
	dc := srv.dynamicClient(t, token)
	if _, err := dc.Create(ctx, plsObject("mine", ns, pod, map[string]any{"cluster": "kwok"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = dc.Delete(context.Background(), "mine", metav1.DeleteOptions{}) }()
	sw := watchObject(t, dc, "mine")
	sw.until(t, 15*time.Second, "w active", func(st map[string]containerStatus) bool { return st["w"].Active })
	waitFor(t, 30*time.Second, "tenant-c's lines", func() string {
		q := url.Values{"namespace": {ns}, "pod": {pod}, "limit": {"1000"}}
		code, b := srv.do(t, token, "GET", "/api/v1/logs?"+q.Encode(), "", "")
		var page apiclient.LogsPage
		if err := json.Unmarshal(b, &page); err != nil || code != 200 {
			return fmt.Sprintf("logs: %d %s", code, b)
		}
		var got []string
		for _, l := range page.Logs {
			if l.Cluster != "kwok" {
				return "an entry with cluster label " + l.Cluster
			}
			got = append(got, l.Message)
		}
		return testenv.DiffMultiset(got, cs["w"].written())
	})
	if n := len(srv.logs(t, ns, pod)["w"]); n != 0 {
		t.Fatalf("tenant default holds %d lines of tenant-c's stream", n)
	}
}
