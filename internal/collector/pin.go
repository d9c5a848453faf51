package collector

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Pin asks for the logs of one pod, whatever the cluster's selections say:
// it is how a PodLogStream object drives collection. A pinned container
// shares its stream, and its resume point, with the selections that also
// collect it, so nothing is stored twice. The pod's ExcludeAnnotation does
// not apply: a pin is an explicit request for that pod.
type Pin struct {
	// ID identifies the pin within its cluster (the object's tenant and UID).
	ID string
	// Namespace and Pod name the pod.
	Namespace, Pod string
	// OnlyContainers, when not empty, names the only containers streamed;
	// IgnoreContainers names containers never streamed. Init and ephemeral
	// containers count as containers.
	OnlyContainers, IgnoreContainers []string
	// Since, when not zero, skips the lines older than it in an instance
	// streamed for the first time; an instance with a resume point resumes
	// from it, or from Since when Since is later.
	Since time.Time
}

// ContainerStreamStatus is the state of one pinned container's log stream.
type ContainerStreamStatus struct {
	Name string
	// Active is true while a connection to the container's current instance
	// is open and taking lines.
	Active bool
	// Error is the last error met by the stream, or why there is none (pod
	// not found); empty while streaming or after a clean end.
	Error string
	// Terminated is true when the container's current instance ended and its
	// log was read to the end.
	Terminated bool
}

// ErrPodNotFound is returned, wrapped, by PinStatus when the pinned pod does
// not exist in the cluster.
var ErrPodNotFound = errors.New("pod not found")

// ErrPinNotSet is returned, wrapped, by PinStatus for a pin the cluster does
// not have (as after the cluster was removed and added again).
var ErrPinNotSet = errors.New("pin not set")

// pinSet holds a cluster's pins and the state of the streams they use.
type pinSet struct {
	mu sync.Mutex
	// pins by ID (guarded by mu).
	pins map[string]Pin
	// states are the per-stream states by checkpoint key (guarded by mu).
	states map[string]streamState
}

// streamState is what a stream last reported.
type streamState struct {
	active bool
	err    string
}

// SetPin adds or replaces a pin in a cluster; streams start or stop within
// Config.SelectionDelay.
func (m *Manager) SetPin(clusterID string, p Pin) error {
	if p.ID == "" || p.Namespace == "" || p.Pod == "" {
		return errors.New("collector: a pin needs an ID, a namespace and a pod")
	}
	c, err := m.cluster(clusterID)
	if err != nil {
		return err
	}
	p.OnlyContainers, p.IgnoreContainers = slices.Clone(p.OnlyContainers), slices.Clone(p.IgnoreContainers)
	ps := c.pinSet()
	ps.mu.Lock()
	ps.pins[p.ID] = p
	ps.mu.Unlock()
	c.kickLoop()
	return nil
}

// RemovePin removes a pin; the streams only it selected stop, keeping their
// resume points. Removing an unknown pin does nothing.
func (m *Manager) RemovePin(clusterID, id string) error {
	c, err := m.cluster(clusterID)
	if err != nil {
		return err
	}
	ps := c.pinSet()
	ps.mu.Lock()
	delete(ps.pins, id)
	ps.mu.Unlock()
	c.kickLoop()
	return nil
}

// PinStatus returns the state of each container of a pin's pod that the pin
// selects, in the pod's order (init, regular, ephemeral). It returns an error
// wrapping ErrPodNotFound when the pod does not exist, and one saying so when
// the cluster's pods are not listed yet.
func (m *Manager) PinStatus(clusterID, id string) ([]ContainerStreamStatus, error) {
	c, err := m.cluster(clusterID)
	if err != nil {
		return nil, err
	}
	ps := c.pinSet()
	ps.mu.Lock()
	p, ok := ps.pins[id]
	ps.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("pin %s: %w", id, ErrPinNotSet)
	}
	if !c.synced() {
		c.mu.Lock()
		last := c.lastErr
		c.mu.Unlock()
		if last != "" {
			return nil, fmt.Errorf("pods of cluster %s not listed yet: %s", c.spec.Name, last)
		}
		return nil, fmt.Errorf("pods of cluster %s not listed yet", c.spec.Name)
	}
	pod, err := c.pods.Pods(p.Namespace).Get(p.Pod)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("pod %s/%s in cluster %s: %w", p.Namespace, p.Pod, c.spec.Name, ErrPodNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("pod %s/%s: %w", p.Namespace, p.Pod, err)
	}
	var out []ContainerStreamStatus
	c.mu.Lock()
	defer c.mu.Unlock()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, name := range podContainerNames(pod) {
		if !p.selects(name) {
			continue
		}
		st := ContainerStreamStatus{Name: name}
		cs := findStatus(pod, name)
		if cs != nil && (cs.State.Running != nil || cs.State.Terminated != nil) {
			key := c.newInstance(pod, name, cs.RestartCount, currentID(cs)).key
			s := ps.states[key]
			_, running := c.streams[key]
			_, done := c.done[key]
			st.Active = running && s.active
			st.Error = s.err
			st.Terminated = done && cs.State.Terminated != nil
			if st.Terminated {
				st.Error = ""
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// podContainerNames returns the names of a pod's init, regular and ephemeral
// containers, from its spec.
func podContainerNames(pod *corev1.Pod) []string {
	var names []string
	for _, c := range pod.Spec.InitContainers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		names = append(names, c.Name)
	}
	return names
}

// selects reports whether p streams the named container.
func (p *Pin) selects(name string) bool {
	if len(p.OnlyContainers) > 0 && !slices.Contains(p.OnlyContainers, name) {
		return false
	}
	return !slices.Contains(p.IgnoreContainers, name)
}

// pinSet returns the cluster's pins, creating the set on first use.
func (c *clusterCollector) pinSet() *pinSet {
	c.pinsOnce.Do(func() {
		c.pins = &pinSet{pins: make(map[string]Pin), states: make(map[string]streamState)}
	})
	return c.pins
}

// kickLoop asks the reconcile loop to run soon.
func (c *clusterCollector) kickLoop() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// pinned reports whether a pin selects the container of pod, and the
// earliest Since of those that do (zero when one has none).
func (c *clusterCollector) pinned(pod *corev1.Pod, container string) (since time.Time, ok bool) {
	ps := c.pinSet()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, p := range ps.pins {
		if p.Namespace != pod.Namespace || p.Pod != pod.Name || !p.selects(container) {
			continue
		}
		if !ok || p.Since.IsZero() || (!since.IsZero() && p.Since.Before(since)) {
			since = p.Since
		}
		ok = true
	}
	return since, ok
}

// noteStream records a stream's state for PinStatus: active once a
// connection is open (which clears the error), the error that broke it, or,
// with neither, that the stream ended.
func (c *clusterCollector) noteStream(key string, active bool, err error) {
	if key == "" {
		return
	}
	ps := c.pinSet()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if !active && err == nil {
		delete(ps.states, key)
		return
	}
	s := ps.states[key]
	s.active = active
	if err != nil {
		s.err = err.Error()
	} else if active {
		s.err = ""
	}
	ps.states[key] = s
}

// applySince moves a stream's start to the instance's Since when it is later
// than the resume point.
func (s *stream) applySince() {
	if since := s.inst.since; since > s.pos.last.Timestamp {
		s.pos.last = Resume{Timestamp: since}
	}
}
