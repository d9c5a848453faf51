package kapi

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/collector"
)

// fakeCollector records pins and answers PinStatus from a table.
type fakeCollector struct {
	clusters []collector.Cluster

	mu sync.Mutex
	// pins by cluster ID and pin ID; status by pod name (guarded by mu).
	pins   map[string]map[string]collector.Pin
	status map[string][]collector.ContainerStreamStatus
}

func (f *fakeCollector) Clusters() []collector.Cluster { return f.clusters }

func (f *fakeCollector) SetPin(clusterID string, p collector.Pin) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pins[clusterID] == nil {
		f.pins[clusterID] = map[string]collector.Pin{}
	}
	f.pins[clusterID][p.ID] = p
	return nil
}

func (f *fakeCollector) RemovePin(clusterID, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.pins[clusterID], id)
	return nil
}

func (f *fakeCollector) PinStatus(clusterID, id string) ([]collector.ContainerStreamStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, set := f.pins[clusterID][id]
	if !set {
		return nil, fmt.Errorf("pin %s: %w", id, collector.ErrPinNotSet)
	}
	st, ok := f.status[p.Pod]
	if !ok {
		return nil, fmt.Errorf("pod %s/%s: %w", p.Namespace, p.Pod, collector.ErrPodNotFound)
	}
	return st, nil
}

// pinsOf describes the pins of a cluster.
func (f *fakeCollector) pinsOf(clusterID string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := ""
	for _, p := range f.pins[clusterID] {
		out += p.Namespace + "/" + p.Pod + " "
	}
	return out
}

func TestPickCluster(t *testing.T) {
	cls := []collector.Cluster{{ID: "1", Name: "prod", Tenant: "a"}, {ID: "2", Name: "default", Tenant: "a"}, {ID: "3", Name: "dev", Tenant: "b"}}
	f := func(tenant, name, wantID string) {
		t.Helper()
		cl, err := pickCluster(cls, tenant, name)
		if wantID == "" {
			if err == nil {
				t.Errorf("tenant %s cluster %q: got %s; want an error", tenant, name, cl.ID)
			}
			return
		}
		if err != nil || cl.ID != wantID {
			t.Errorf("tenant %s cluster %q: got %s, %v; want %s", tenant, name, cl.ID, err, wantID)
		}
	}
	f("a", "", "2")     // the tenant's "default"
	f("a", "prod", "1") // by name
	f("b", "", "3")     // no "default": the first
	f("b", "prod", "")  // another tenant's cluster
	f("c", "", "")      // no cluster at all
}

func TestControllerPinsAndStatus(t *testing.T) {
	o := memObjects(t)
	fc := &fakeCollector{
		clusters: []collector.Cluster{{ID: "c1", Name: "default", Tenant: "t"}, {ID: "c2", Name: "other", Tenant: "t"}},
		pins:     map[string]map[string]collector.Pin{},
		status: map[string][]collector.ContainerStreamStatus{
			"p": {{Name: "app", Active: true}, {Name: "side", Terminated: true}},
		},
	}
	c := StartController(o, fc, nil)
	defer c.Close()
	mustCreate(t, o, "t", newObject("a", "p", nil))
	waitObj := func(what string, cond func(*PodLogStream) bool) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for {
			obj, err := o.Get("t", "a")
			if err == nil && cond(obj) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: got %+v, %v", what, obj, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitObj("status from the collector", func(p *PodLogStream) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 2 && cs[0] == ContainerLogStreamStatus{Name: "app", Active: true} && cs[1] == ContainerLogStreamStatus{Name: "side", Terminated: true}
	})
	if got := fc.pinsOf("c1"); got != "default/p " {
		t.Fatalf("pins of c1: got %q", got)
	}
	// A container named in onlyContainers that the pod lacks is reported.
	if _, _, err := o.Update("t", "a", false, false, func(cur *PodLogStream) (*PodLogStream, error) {
		cur.Spec.OnlyContainers = []string{"app", "nope"}
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
	waitObj("missing container", func(p *PodLogStream) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 3 && cs[2] == ContainerLogStreamStatus{Name: "nope", Error: "pod default/p has no container nope"}
	})
	// Move to a missing pod in the other cluster.
	if _, _, err := o.Update("t", "a", false, false, func(cur *PodLogStream) (*PodLogStream, error) {
		cur.Spec.Pod, cur.Spec.Cluster, cur.Spec.OnlyContainers = "gone", "other", nil
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
	waitObj("pod not found", func(p *PodLogStream) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].Name == allContainers && cs[0].Error == "pod default/gone: pod not found"
	})
	if fc.pinsOf("c1") != "" || fc.pinsOf("c2") != "default/gone " {
		t.Fatalf("pins after the move: c1 %q, c2 %q", fc.pinsOf("c1"), fc.pinsOf("c2"))
	}
	if _, _, err := o.Update("t", "a", false, false, func(cur *PodLogStream) (*PodLogStream, error) {
		cur.Spec.Cluster = "nope"
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
	waitObj("unknown cluster", func(p *PodLogStream) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].Error == `cluster "nope" is not registered in kubelog for this tenant`
	})
	if fc.pinsOf("c2") != "" {
		t.Fatalf("pin left in c2: %q", fc.pinsOf("c2"))
	}
	// A cluster added again without its pins gets them back.
	fc.mu.Lock()
	fc.pins["c2"] = nil
	fc.mu.Unlock()
	if _, _, err := o.Update("t", "a", false, false, func(cur *PodLogStream) (*PodLogStream, error) {
		cur.Spec.Cluster = "other"
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
	waitObj("pinned in c2", func(*PodLogStream) bool { return fc.pinsOf("c2") == "default/gone " })
	fc.mu.Lock()
	fc.pins["c2"] = nil
	fc.mu.Unlock()
	waitObj("pinned in c2 again", func(*PodLogStream) bool { return fc.pinsOf("c2") == "default/gone " })
	// Deleting the object removes its pin.
	if _, _, err := o.Update("t", "a", false, false, func(cur *PodLogStream) (*PodLogStream, error) {
		cur.Spec.Cluster = ""
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
	waitObj("back in c1", func(*PodLogStream) bool { return fc.pinsOf("c1") == "default/gone " })
	if _, _, err := o.Delete("t", "a", Preconditions{}, nil, false); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for fc.pinsOf("c1")+fc.pinsOf("c2") != "" {
		if time.Now().After(deadline) {
			t.Fatal("pin not removed after the deletion")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
