package kapi

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kubelog/kubelog/internal/collector"
)

// Collector is what the controller needs of the collector; *collector.Manager
// satisfies it. Its methods may be called concurrently.
type Collector interface {
	// Clusters returns the registered clusters.
	Clusters() []collector.Cluster
	// SetPin and RemovePin start and stop a pod's collection.
	SetPin(clusterID string, p collector.Pin) error
	RemovePin(clusterID, id string) error
	// PinStatus returns the state of a pin's containers.
	PinStatus(clusterID, id string) ([]collector.ContainerStreamStatus, error)
}

var _ Collector = (*collector.Manager)(nil)

// allContainers names the status entry of a stream that has no container to
// report on (pod or cluster missing) and selects every container.
const allContainers = "*"

// defaultClusterName is the cluster a spec without cluster uses, when the
// tenant has one of that name.
const defaultClusterName = "default"

// Controller makes the collector stream what the objects ask for, and writes
// what it reports into their status, every SyncInterval and after every
// change. Close must be called.
type Controller struct {
	objs     *Objects
	coll     Collector // nil when no cluster is collected
	log      *slog.Logger
	interval time.Duration

	kick chan struct{}
	stop chan struct{}
	wg   sync.WaitGroup

	// pins are the pins set, by object (only the loop uses it).
	pins map[objKey]pinned
}

// pinned is a pin set in a cluster.
type pinned struct {
	clusterID string
	pin       collector.Pin
}

// SyncInterval is how often the controller refreshes every status.
const SyncInterval = 500 * time.Millisecond

// StartController starts a controller; coll may be nil (no cluster).
func StartController(objs *Objects, coll Collector, log *slog.Logger) *Controller {
	if log == nil {
		log = slog.Default()
	}
	c := &Controller{objs: objs, coll: coll, log: log, interval: SyncInterval,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), pins: make(map[objKey]pinned)}
	objs.OnChange(func(string, string) {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	})
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.loop()
	}()
	return c
}

// Close stops the controller; the pins stay until the collector closes.
func (c *Controller) Close() {
	close(c.stop)
	c.wg.Wait()
}

func (c *Controller) loop() {
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		c.sync()
		select {
		case <-c.stop:
			return
		case <-c.kick:
		case <-t.C:
		}
	}
}

// sync sets, moves and removes pins to match the objects, and updates the
// objects' status.
func (c *Controller) sync() {
	var clusters []collector.Cluster
	if c.coll != nil {
		clusters = c.coll.Clusters()
	}
	seen := make(map[objKey]bool)
	for tenant, objs := range c.objs.All() {
		for _, obj := range objs {
			k := objKey{tenant, obj.Name}
			seen[k] = true
			status := c.syncObject(k, obj, clusters)
			if apiequality.Semantic.DeepEqual(status, obj.Status) {
				continue
			}
			uid := obj.UID
			_, _, err := c.objs.Update(tenant, obj.Name, false, false, func(cur *PodLogStream) (*PodLogStream, error) {
				if cur.UID != uid {
					return nil, apierrors.NewConflict(groupResource, cur.Name, errors.New("recreated"))
				}
				cur.Status = status
				return cur, nil
			})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				c.log.Warn("cannot update a podlogstream's status", "tenant", tenant, "name", obj.Name, "err", err)
			}
		}
	}
	for k, p := range c.pins {
		if !seen[k] {
			c.unpin(k, p)
		}
	}
}

// syncObject pins obj's pod in its cluster and returns its status.
func (c *Controller) syncObject(k objKey, obj *PodLogStream, clusters []collector.Cluster) PodLogStreamStatus {
	cl, err := pickCluster(clusters, k.tenant, obj.Spec.Cluster)
	if err != nil {
		if p, ok := c.pins[k]; ok {
			c.unpin(k, p)
		}
		return errorStatus(obj, err.Error())
	}
	want := pinned{clusterID: cl.ID, pin: collector.Pin{
		ID: k.tenant + "/" + string(obj.UID), Namespace: obj.Spec.Namespace, Pod: obj.Spec.Pod,
		OnlyContainers: obj.Spec.OnlyContainers, IgnoreContainers: obj.Spec.IgnoreContainers,
	}}
	if obj.Spec.SinceTime != nil {
		want.pin.Since = obj.Spec.SinceTime.Time
	}
	if have, ok := c.pins[k]; !ok || !samePin(have, want) {
		if ok && (have.clusterID != want.clusterID || have.pin.ID != want.pin.ID) {
			c.unpin(k, have)
		}
		if err := c.coll.SetPin(want.clusterID, want.pin); err != nil {
			return errorStatus(obj, fmt.Sprintf("cannot stream from cluster %s: %v", cl.Name, err))
		}
		c.pins[k] = want
	}
	cs, err := c.coll.PinStatus(want.clusterID, want.pin.ID)
	if errors.Is(err, collector.ErrPinNotSet) {
		// The cluster was added again without it: set it on the next sync.
		delete(c.pins, k)
		return obj.Status
	}
	if err != nil {
		return errorStatus(obj, err.Error())
	}
	out := PodLogStreamStatus{}
	for _, s := range cs {
		out.ContainerStatuses = append(out.ContainerStatuses, ContainerLogStreamStatus{
			Name: s.Name, Active: s.Active, Error: s.Error, Terminated: s.Terminated})
	}
	for _, name := range obj.Spec.OnlyContainers {
		if !slices.ContainsFunc(cs, func(s collector.ContainerStreamStatus) bool { return s.Name == name }) &&
			!slices.Contains(obj.Spec.IgnoreContainers, name) {
			out.ContainerStatuses = append(out.ContainerStatuses, ContainerLogStreamStatus{Name: name,
				Error: fmt.Sprintf("pod %s/%s has no container %s", obj.Spec.Namespace, obj.Spec.Pod, name)})
		}
	}
	return out
}

// unpin removes a pin.
func (c *Controller) unpin(k objKey, p pinned) {
	if err := c.coll.RemovePin(p.clusterID, p.pin.ID); err != nil && !errors.Is(err, collector.ErrUnknownCluster) {
		c.log.Warn("cannot stop a podlogstream's collection", "tenant", k.tenant, "name", k.name, "err", err)
	}
	delete(c.pins, k)
}

// samePin reports whether two pins ask for the same thing.
func samePin(a, b pinned) bool {
	return a.clusterID == b.clusterID && a.pin.ID == b.pin.ID && a.pin.Namespace == b.pin.Namespace && a.pin.Pod == b.pin.Pod &&
		slices.Equal(a.pin.OnlyContainers, b.pin.OnlyContainers) && slices.Equal(a.pin.IgnoreContainers, b.pin.IgnoreContainers) &&
		a.pin.Since.Equal(b.pin.Since)
}

// pickCluster returns the tenant's cluster of the given name or, for "", its
// cluster named "default" or else its first.
func pickCluster(clusters []collector.Cluster, tenant, name string) (collector.Cluster, error) {
	var first *collector.Cluster
	for i := range clusters {
		cl := &clusters[i]
		if cl.Tenant != tenant {
			continue
		}
		if first == nil {
			first = cl
		}
		if (name == "" && cl.Name == defaultClusterName) || (name != "" && cl.Name == name) {
			return *cl, nil
		}
	}
	switch {
	case name != "":
		return collector.Cluster{}, fmt.Errorf("cluster %q is not registered in kubelog for this tenant", name)
	case first == nil:
		return collector.Cluster{}, errors.New("no cluster is registered in kubelog for this tenant; register one or start kubelog serve with --kubeconfig")
	}
	return *first, nil
}

// errorStatus is the status of an object whose containers are unknown: one
// entry per container of onlyContainers, or one named "*", with msg.
func errorStatus(obj *PodLogStream, msg string) PodLogStreamStatus {
	names := obj.Spec.OnlyContainers
	if len(names) == 0 {
		names = []string{allContainers}
	}
	out := PodLogStreamStatus{}
	for _, n := range names {
		out.ContainerStatuses = append(out.ContainerStatuses, ContainerLogStreamStatus{Name: n, Error: msg})
	}
	return out
}
