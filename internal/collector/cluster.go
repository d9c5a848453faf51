package collector

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// clusterCollector collects one cluster: a pod informer, a reconcile loop that
// starts and stops streams, and the streams.
type clusterCollector struct {
	m      *Manager
	spec   Cluster
	client kubernetes.Interface
	// probe asks for the server version, with a timeout.
	probe kubernetes.Interface
	// logs opens the containers' log streams.
	logs   LogSource
	pods   corelisters.PodLister
	synced cache.InformerSynced
	// slots bounds the streams reading at once (Config.MaxStreams).
	slots chan struct{}
	// kick asks the reconcile loop to run soon.
	kick chan struct{}
	// refreshGen is bumped by Refresh; streams opened before reconnect.
	refreshGen atomic.Int64

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// Figures for Status.
	active       atomic.Int64 // streams holding a slot
	lines, bytes atomic.Int64 // entries and line bytes stored
	// reconnects counts stream reconnections by reason, in the order of
	// reconnectReasons.
	reconnects [4]atomic.Int64

	mu sync.Mutex
	// sels are the enabled selections (guarded by mu).
	sels []selection
	// streams are the running streams by checkpoint key, each with the
	// function that stops it (guarded by mu).
	streams map[string]context.CancelFunc
	// done holds instances read to their end, with their pod UID, so they are
	// not read again while the pod exists (guarded by mu).
	done map[string]types.UID
	// Status fields (guarded by mu).
	reachable   bool
	version     string
	lastErr     string
	lastErrAt   time.Time
	linesPerSec float64
	badLineLog  time.Time

	// pins are the pods pinned by PodLogStream objects (see pin.go), set up
	// on first use by pinsOnce.
	pins     *pinSet
	pinsOnce sync.Once
}

// start starts the informer and the loops; the collector runs until stop.
func (c *clusterCollector) start() {
	factory := informers.NewSharedInformerFactory(c.client, 0)
	inf := factory.Core().V1().Pods()
	informer := inf.Informer()
	// Watch errors (and the reflector's re-list after 410 Gone) are handled
	// by client-go; record them for Status.
	if err := informer.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		c.noteError(fmt.Errorf("watch pods: %w", err))
	}); err != nil {
		c.noteError(err)
	}
	kick := func() {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { kick() },
		UpdateFunc: func(any, any) { kick() },
		DeleteFunc: func(any) { kick() },
	}); err != nil {
		c.noteError(err)
	}
	c.pods = inf.Lister()
	c.synced = informer.HasSynced
	factory.Start(c.ctx.Done())
	c.wg.Add(2)
	go func() {
		defer c.wg.Done()
		<-c.ctx.Done()
		factory.Shutdown()
	}()
	go func() {
		defer c.wg.Done()
		c.loop()
	}()
}

// stop stops everything and waits for the goroutines.
func (c *clusterCollector) stop() {
	c.cancel()
	c.wg.Wait()
}

// loop reconciles the streams with the pods and selections on every informer
// event and every SelectionDelay, and refreshes the status figures.
func (c *clusterCollector) loop() {
	tick := c.m.clock.NewTicker(c.m.cfg.SelectionDelay)
	defer tick.Stop()
	c.checkServer()
	lastCheck, lastLines := c.m.clock.Now(), c.lines.Load()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.kick:
		case <-tick.C():
		}
		if now := c.m.clock.Now(); now.Sub(lastCheck) >= 10*time.Second {
			lines := c.lines.Load()
			c.mu.Lock()
			c.linesPerSec = float64(lines-lastLines) / now.Sub(lastCheck).Seconds()
			c.mu.Unlock()
			lastCheck, lastLines = now, lines
			c.checkServer()
		}
		if c.synced() {
			c.reconcile()
		}
	}
}

// checkServer asks the API server for its version, for Status.
func (c *clusterCollector) checkServer() {
	v, err := c.probe.Discovery().ServerVersion()
	if err != nil {
		c.noteError(fmt.Errorf("server version: %w", err))
		c.mu.Lock()
		c.reachable = false
		c.mu.Unlock()
		return
	}
	c.mu.Lock()
	c.reachable, c.version = true, v.GitVersion
	c.mu.Unlock()
}

// reconcile starts a stream for each selected container instance that has
// none and was not read to its end, and stops the streams of instances no
// longer selected. Streams of deleted pods stop by themselves.
func (c *clusterCollector) reconcile() {
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		c.noteError(fmt.Errorf("list pods: %w", err))
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	uids := make(map[types.UID]bool, len(pods))
	wanted := make(map[string]bool)
	for _, pod := range pods {
		uids[pod.UID] = true
		for _, inst := range c.instances(pod) {
			wanted[inst.key] = true
			if _, running := c.streams[inst.key]; running {
				continue
			}
			if _, done := c.done[inst.key]; done {
				continue
			}
			c.startStream(inst)
		}
	}
	for key, uid := range c.done {
		if !uids[uid] {
			delete(c.done, key)
		}
	}
	// Stop streams whose pod still exists but is no longer selected. A stream
	// whose pod is gone or whose instance got too old ends by itself.
	for _, pod := range pods {
		for _, inst := range c.allInstances(pod) {
			if stop, running := c.streams[inst.key]; running && !wanted[inst.key] {
				stop()
			}
		}
	}
}

// startStream starts a stream for inst; c.mu must be held.
func (c *clusterCollector) startStream(inst instance) {
	ctx, cancel := context.WithCancel(c.ctx)
	c.streams[inst.key] = cancel
	s := &stream{c: c, inst: inst}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		finished := s.run(ctx)
		cancel()
		c.mu.Lock()
		delete(c.streams, inst.key)
		if finished {
			c.done[inst.key] = types.UID(inst.podUID)
		}
		c.mu.Unlock()
		if finished {
			select {
			case c.kick <- struct{}{}:
			default:
			}
		}
	}()
}

// instances returns the selected container instances of pod worth a stream:
// the current one once started and the previous one; c.mu must be held.
func (c *clusterCollector) instances(pod *corev1.Pod) []instance {
	var out []instance
	for _, inst := range c.allInstances(pod) {
		if selects(c.sels, pod, inst.container, inst.init) {
			out = append(out, inst.instance)
		} else if since, ok := c.pinned(pod, inst.container); ok {
			inst.since = since.UnixNano()
			out = append(out, inst.instance)
		}
	}
	return out
}

// podInstance is an instance with whether it is an init container's.
type podInstance struct {
	instance
	init bool
}

// allInstances returns every started container instance of pod, selected or
// not, whose log the API can still serve.
func (c *clusterCollector) allInstances(pod *corev1.Pod) []podInstance {
	var out []podInstance
	add := func(statuses []corev1.ContainerStatus, init bool) {
		for i := range statuses {
			st := &statuses[i]
			if st.State.Running != nil || st.State.Terminated != nil {
				out = append(out, podInstance{c.newInstance(pod, st.Name, st.RestartCount, currentID(st)), init})
			}
			if t := st.LastTerminationState.Terminated; t != nil && st.RestartCount > 0 {
				out = append(out, podInstance{c.newInstance(pod, st.Name, st.RestartCount-1, t.ContainerID), init})
			}
		}
	}
	add(pod.Status.InitContainerStatuses, true)
	add(pod.Status.ContainerStatuses, false)
	add(pod.Status.EphemeralContainerStatuses, false)
	return out
}

// currentID returns the container ID of a status's current instance.
func currentID(st *corev1.ContainerStatus) string {
	if t := st.State.Terminated; t != nil && t.ContainerID != "" {
		return t.ContainerID
	}
	return st.ContainerID
}

// newInstance builds an instance and its checkpoint key.
func (c *clusterCollector) newInstance(pod *corev1.Pod, container string, restart int32, id string) instance {
	ref := id
	if ref == "" {
		ref = string(pod.UID) + "/" + container + "/" + strconv.Itoa(int(restart))
	}
	return instance{
		key:       c.spec.Tenant + "/" + c.spec.ID + "/" + ref,
		namespace: pod.Namespace, pod: pod.Name, podUID: string(pod.UID),
		container: container, restart: restart, id: id,
	}
}

// lookup returns where inst stands in the informer's view, with its pod when
// the pod still exists.
func (c *clusterCollector) lookup(inst instance) (instState, *corev1.Pod) {
	pod, err := c.pods.Pods(inst.namespace).Get(inst.pod)
	if err != nil || string(pod.UID) != inst.podUID {
		return stateGone, nil
	}
	st := findStatus(pod, inst.container)
	if st == nil {
		return stateGone, pod
	}
	if st.RestartCount == inst.restart && (inst.id == "" || currentID(st) == inst.id || currentID(st) == "") {
		switch {
		case st.State.Running != nil:
			return stateRunning, pod
		case st.State.Terminated != nil:
			return stateExited, pod
		}
		return stateWaiting, pod
	}
	if t := st.LastTerminationState.Terminated; t != nil && st.RestartCount == inst.restart+1 && (inst.id == "" || t.ContainerID == inst.id) {
		return statePrevious, pod
	}
	return stateGone, pod
}

// findStatus returns the status of the named container (init, regular or
// ephemeral) of pod, or nil.
func findStatus(pod *corev1.Pod, name string) *corev1.ContainerStatus {
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses, pod.Status.EphemeralContainerStatuses} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

// watchdogPeriod is how often a stream checks its idle time, lifetime and
// instance state.
func (c *clusterCollector) watchdogPeriod() time.Duration {
	return max(min(c.m.cfg.IdleTimeout/4, c.m.cfg.MaxStreamLifetime/4, c.m.cfg.DeletionGrace/4, time.Second), 10*time.Millisecond)
}

// sleep waits d or until ctx ends, reporting false when ctx ended.
func (c *clusterCollector) sleep(ctx context.Context, d time.Duration) bool {
	t := c.m.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-ctx.Done():
		return false
	}
}

// noteError records err for Status, unless the collector is stopping.
func (c *clusterCollector) noteError(err error) {
	if c.ctx.Err() != nil {
		return
	}
	c.mu.Lock()
	c.lastErr, c.lastErrAt = err.Error(), c.m.clock.Now()
	c.mu.Unlock()
}

// noteReconnect counts a stream reconnection for reason.
func (c *clusterCollector) noteReconnect(reason string) {
	for i, r := range reconnectReasons {
		if r == reason {
			c.reconnects[i].Add(1)
		}
	}
}

// noteReachable records that a request to the API server succeeded.
func (c *clusterCollector) noteReachable() {
	c.mu.Lock()
	c.reachable = true
	c.mu.Unlock()
}

// noteBadLine logs, at most once a minute per cluster, a line that does not
// parse.
func (c *clusterCollector) noteBadLine(inst instance, err error) {
	c.mu.Lock()
	now := c.m.clock.Now()
	logIt := now.Sub(c.badLineLog) >= time.Minute
	if logIt {
		c.badLineLog = now
	}
	c.mu.Unlock()
	if logIt {
		c.m.log.Warn("dropped a log line without timestamp", "cluster", c.spec.Name,
			"namespace", inst.namespace, "pod", inst.pod, "container", inst.container, "err", err)
	}
}
