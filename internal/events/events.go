// Package events collects Kubernetes Events into the store as log lines, so
// that they outlive the cluster's event TTL (one hour by default). Each
// registered cluster gets one Event informer; every Event it reports, and
// every change of its count or last time, becomes one entry of the stream
// {cluster, namespace, source="events", kind, object} of the involved object.
// An entry depends only on the Event's state, so a re-list after a restart
// produces identical entries, which the store drops as duplicates: each state
// is stored exactly once without a resume point.
package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/kubelog/kubelog/internal/collector"
	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/store"
)

// Source is the value of the "source" label of event entries.
const Source = "events"

// Metadata keys of event entries, beside level.
const (
	MetaObjectUID = "object_uid"
	MetaFieldPath = "field_path"
	MetaReason    = "reason"
	MetaType      = "type"
	MetaCount     = "count"
	MetaEvent     = "event"
)

// Clusters lists the clusters to watch and their clients;
// *collector.Manager satisfies it. Both methods may be called concurrently.
type Clusters interface {
	Clusters() []collector.Cluster
	Client(id string) (kubernetes.Interface, collector.Cluster, error)
}

var _ Clusters = (*collector.Manager)(nil)

// Config configures a Collector.
type Config struct {
	// SyncInterval is how often the set of clusters is compared with
	// Clusters.Clusters() to start and stop watches.
	SyncInterval time.Duration
	Logger       *slog.Logger
	// Registerer, when set, receives the collector's metrics.
	Registerer prometheus.Registerer
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config { return Config{SyncInterval: 5 * time.Second} }

// Collector watches the Events of every cluster. Close must be called.
type Collector struct {
	cfg      Config
	clusters Clusters
	sink     collector.Sink
	log      *slog.Logger
	stop     chan struct{}
	wg       sync.WaitGroup
	// stored counts the event entries appended, by tenant and cluster.
	stored *prometheus.CounterVec

	mu sync.Mutex
	// watches are the running informers by cluster ID (guarded by mu).
	watches map[string]*watch
}

// watch is one cluster's Event informer.
type watch struct {
	spec collector.Cluster
	stop chan struct{}
	done chan struct{}
}

// Start begins watching the clusters that clusters lists, now and as they
// change, and storing their Events into sink.
func Start(cfg Config, clusters Clusters, sink collector.Sink) (*Collector, error) {
	if clusters == nil || sink == nil {
		return nil, errors.New("events: clusters and sink are required")
	}
	if cfg.SyncInterval <= 0 {
		return nil, errors.New("events: SyncInterval must be positive")
	}
	c := &Collector{cfg: cfg, clusters: clusters, sink: sink, log: cfg.Logger, stop: make(chan struct{}), watches: map[string]*watch{},
		stored: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kubelog_events_stored_total",
			Help: "Kubernetes Event states appended to the store (the store drops those it already has)."}, []string{"tenant", "cluster"})}
	if c.log == nil {
		c.log = slog.Default()
	}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(c.stored); err != nil {
			return nil, fmt.Errorf("events: register metrics: %w", err)
		}
	}
	c.sync()
	c.wg.Go(c.loop)
	return c, nil
}

func (c *Collector) loop() {
	t := time.NewTicker(c.cfg.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.sync()
		}
	}
}

// sync starts watches for new clusters and stops those of removed ones.
func (c *Collector) sync() {
	want := map[string]collector.Cluster{}
	for _, cl := range c.clusters.Clusters() {
		want[cl.ID] = cl
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, w := range c.watches {
		if _, ok := want[id]; !ok {
			close(w.stop)
			<-w.done
			delete(c.watches, id)
		}
	}
	for id := range want {
		if _, ok := c.watches[id]; ok {
			continue
		}
		client, spec, err := c.clusters.Client(id)
		if err != nil {
			continue // removed meanwhile
		}
		w := &watch{spec: spec, stop: make(chan struct{}), done: make(chan struct{})}
		c.watches[id] = w
		go c.run(w, client)
	}
}

// run stores the Events of one cluster until w.stop closes.
func (c *Collector) run(w *watch, client kubernetes.Interface) {
	defer close(w.done)
	f := informers.NewSharedInformerFactory(client, 0)
	inf := f.Core().V1().Events().Informer()
	put := func(obj any) {
		ev, ok := obj.(*corev1.Event)
		if !ok {
			return
		}
		c.append(w.spec, ev)
	}
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    put,
		UpdateFunc: func(_, obj any) { put(obj) },
	})
	if err != nil {
		c.log.Error("cannot watch events", "cluster", w.spec.Name, "err", err)
		return
	}
	f.Start(w.stop)
	<-w.stop
	f.Shutdown()
}

// append stores one Event state, retrying with backoff until it is stored or
// the watch stops.
func (c *Collector) append(cl collector.Cluster, ev *corev1.Event) {
	e := Entry(cl.Name, ev)
	backoff := 100 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := c.sink.Append(ctx, cl.Tenant, []logmodel.Entry{e})
		cancel()
		var verr *store.ValidationError
		if err == nil || errors.As(err, &verr) {
			c.stored.WithLabelValues(cl.Tenant, cl.Name).Inc()
			if verr != nil {
				c.log.Warn("store rejected an event", "cluster", cl.Name, "event", ev.Namespace+"/"+ev.Name, "err", verr)
			}
			return
		}
		c.log.Warn("storing an event failed; retrying", "cluster", cl.Name, "err", err)
		select {
		case <-c.stop:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// Entry returns the entry of an Event's current state in cluster.
func Entry(cluster string, ev *corev1.Event) logmodel.Entry {
	obj := ev.InvolvedObject
	ns := obj.Namespace
	if ns == "" {
		ns = ev.Namespace
	}
	labels := logmodel.FromPairs("cluster", cluster, "namespace", ns, "source", Source, "kind", obj.Kind, "object", obj.Name)
	count := ev.Count
	if ev.Series != nil && ev.Series.Count > count {
		count = ev.Series.Count
	}
	level := "info"
	if ev.Type == corev1.EventTypeWarning {
		level = "warn"
	}
	md := logmodel.FromPairs(
		MetaObjectUID, string(obj.UID),
		MetaReason, ev.Reason,
		MetaType, ev.Type,
		MetaCount, strconv.Itoa(int(max(count, 1))),
		MetaEvent, ev.Name,
		logmodel.MetaLevel, level,
	)
	if obj.FieldPath != "" {
		md = append(md, logmodel.Label{Name: MetaFieldPath, Value: obj.FieldPath}).Sort()
	}
	line := ev.Type + " " + ev.Reason + " " + obj.Kind + "/" + obj.Name + ": " + ev.Message
	return logmodel.Entry{Labels: labels, Timestamp: Time(ev).UnixNano(), Line: []byte(line), Metadata: md}
}

// Time is when an Event last happened: its series' last observation, its
// last timestamp, its event time, or its creation, the first one set.
func Time(ev *corev1.Event) time.Time {
	switch {
	case ev.Series != nil && !ev.Series.LastObservedTime.IsZero():
		return ev.Series.LastObservedTime.Time
	case !ev.LastTimestamp.IsZero():
		return ev.LastTimestamp.Time
	case !ev.EventTime.IsZero():
		return ev.EventTime.Time
	}
	return ev.CreationTimestamp.Time
}

// Close stops every watch and waits for them.
func (c *Collector) Close() error {
	close(c.stop)
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, w := range c.watches {
		close(w.stop)
		<-w.done
		delete(c.watches, id)
	}
	return nil
}
