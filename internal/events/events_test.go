package events

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubelog/kubelog/internal/collector"
	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/store"
)

type fakeClusters struct {
	client kubernetes.Interface
	spec   collector.Cluster
}

func (f *fakeClusters) Clusters() []collector.Cluster { return []collector.Cluster{f.spec} }
func (f *fakeClusters) Client(id string) (kubernetes.Interface, collector.Cluster, error) {
	if id != f.spec.ID {
		return nil, collector.Cluster{}, errors.New("unknown")
	}
	return f.client, f.spec, nil
}

func TestEntry(t *testing.T) {
	at := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "web-1.abc", Namespace: "shop"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-1", UID: "u1", FieldPath: "spec.containers{app}"},
		Reason:         "BackOff", Message: "Back-off restarting failed container", Type: "Warning", Count: 3, LastTimestamp: metav1.NewTime(at)}
	e := Entry("prod", ev)
	if got, want := string(e.Line), "Warning BackOff Pod/web-1: Back-off restarting failed container"; got != want {
		t.Fatalf("line: got %q; want %q", got, want)
	}
	if e.Timestamp != at.UnixNano() || e.Labels.Get("namespace") != "shop" || e.Labels.Get("kind") != "Pod" || e.Labels.Get("object") != "web-1" || e.Labels.Get("source") != Source {
		t.Fatalf("entry: %+v", e)
	}
	if e.Metadata.Get(MetaCount) != "3" || e.Metadata.Get("level") != "warn" || e.Metadata.Get(MetaFieldPath) != "spec.containers{app}" || e.Metadata.Get(MetaObjectUID) != "u1" {
		t.Fatalf("metadata: %+v", e.Metadata)
	}
	if again := Entry("prod", ev.DeepCopy()); string(again.Line) != string(e.Line) || !again.Metadata.Equal(e.Metadata) || again.Timestamp != e.Timestamp {
		t.Fatal("the same event state gave different entries")
	}
}

// TestCollectExactlyOnce: each state of an Event is stored once, also when a
// new collector lists the Events again.
func TestCollectExactlyOnce(t *testing.T) {
	cfg := store.DefaultConfig(t.TempDir())
	cfg.Fsync = store.FsyncNever
	st, err := store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	client := fake.NewClientset()
	clusters := &fakeClusters{client: client, spec: collector.Cluster{ID: "c1", Name: "test", Tenant: "default"}}
	ecfg := DefaultConfig()
	ecfg.SyncInterval = 50 * time.Millisecond
	c, err := Start(ecfg, clusters, st)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Second)
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e1", Namespace: "ns"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "p", Namespace: "ns"},
		Reason:         "Pulled", Message: "pulled", Type: "Normal", Count: 1, LastTimestamp: metav1.NewTime(at)}
	if _, err := client.CoreV1().Events("ns").Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	count := func(want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			res, err := st.Query(ctx, store.Query{Tenant: "default", Matchers: []logmodel.Matcher{{Type: logmodel.MatchEqual, Name: "source", Value: Source}}, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Entries) == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("stored %d event entries; want %d", len(res.Entries), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	count(1)
	ev.Count, ev.LastTimestamp = 2, metav1.NewTime(at.Add(time.Second))
	if _, err := client.CoreV1().Events("ns").Update(ctx, ev, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	count(2)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c, err = Start(ecfg, clusters, st)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(300 * time.Millisecond)
	count(2)
}
