package kapi

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/clock"
)

// historySize is how many changes the store keeps for watches and lists that
// start at an older resourceVersion.
const historySize = 10000

// watchBuffer is how many events a watcher may lag behind before it is
// closed (the client then watches again from its last resourceVersion).
const watchBuffer = 1024

// event is one change, or a bookmark, at a resourceVersion.
type event struct {
	typ    watch.EventType
	tenant string
	rv     uint64
	// obj is the object after the change (for a deletion, the last state
	// with the deletion's resourceVersion); prev the one before (nil when
	// added).
	obj, prev *PodLogStream
	// initialEnd marks the bookmark ending a watch's initial events.
	initialEnd bool
}

// objKey identifies an object.
type objKey struct{ tenant, name string }

// Objects is the store of PodLogStream objects: in memory, written through
// to the metadata database, with a history of changes for watches. Its
// methods may be called concurrently. Close must be called.
type Objects struct {
	db    *sql.DB // nil keeps objects in memory only
	clock clock.WithDelayedExecution

	mu sync.Mutex
	// rv is the last resourceVersion given out (guarded by mu).
	rv uint64
	// objs are the objects (guarded by mu); never modified in place.
	objs map[objKey]*PodLogStream
	// history holds the last changes, oldest first; oldest is the
	// resourceVersion after which it is complete (guarded by mu).
	history []event
	oldest  uint64
	// watchers receive the changes (guarded by mu).
	watchers map[*watcher]struct{}
	// timers end graceful deletions (guarded by mu).
	timers map[objKey]clock.Timer
	// listeners are told of every change (guarded by mu).
	listeners []func(tenant, name string)
	closed    bool
}

// OpenObjects loads the objects from db (nil: memory only). clk is the
// clock of timestamps and graceful deletions; nil means the system clock.
func OpenObjects(ctx context.Context, db *sql.DB, clk clock.WithDelayedExecution) (*Objects, error) {
	if clk == nil {
		clk = clock.RealClock{}
	}
	o := &Objects{db: db, clock: clk, objs: make(map[objKey]*PodLogStream),
		watchers: make(map[*watcher]struct{}), timers: make(map[objKey]clock.Timer)}
	if db == nil {
		return o, nil
	}
	var rv sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT resource_version FROM podlogstream_sequence WHERE id = 1`).Scan(&rv); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("podlogstreams: read sequence: %w", err)
	}
	o.rv = uint64(rv.Int64)
	rows, err := db.QueryContext(ctx, `SELECT tenant, name, object FROM podlogstreams`)
	if err != nil {
		return nil, fmt.Errorf("podlogstreams: load: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var tenant, name, raw string
		if err := rows.Scan(&tenant, &name, &raw); err != nil {
			return nil, fmt.Errorf("podlogstreams: load: %w", err)
		}
		obj := &PodLogStream{}
		if err := json.Unmarshal([]byte(raw), obj); err != nil {
			return nil, fmt.Errorf("podlogstreams: load %s/%s: %w", tenant, name, err)
		}
		o.objs[objKey{tenant, name}] = obj
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("podlogstreams: load: %w", err)
	}
	o.oldest = o.rv
	for k, obj := range o.objs {
		if obj.DeletionTimestamp != nil {
			o.scheduleDeletion(k, obj.DeletionTimestamp.Time)
		}
	}
	return o, nil
}

// Close ends every watch and pending graceful deletion timer (the deletions
// happen after the next start).
func (o *Objects) Close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	for w := range o.watchers {
		o.dropWatcher(w)
	}
	for _, t := range o.timers {
		t.Stop()
	}
}

// OnChange registers f to be called, without locks held, after each change
// of an object.
func (o *Objects) OnChange(f func(tenant, name string)) {
	o.mu.Lock()
	o.listeners = append(o.listeners, f)
	o.mu.Unlock()
}

// ResourceVersion returns the last resourceVersion given out.
func (o *Objects) ResourceVersion() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.rv
}

// Get returns a copy of an object, or a NotFound StatusError.
func (o *Objects) Get(tenant, name string) (*PodLogStream, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	obj, ok := o.objs[objKey{tenant, name}]
	if !ok {
		return nil, apierrors.NewNotFound(groupResource, name)
	}
	return obj.deepCopy(), nil
}

// All returns copies of every object of every tenant, with their tenants.
func (o *Objects) All() map[string][]*PodLogStream {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string][]*PodLogStream)
	for k, obj := range o.objs {
		out[k.tenant] = append(out[k.tenant], obj.deepCopy())
	}
	return out
}

// snapshot returns a tenant's objects as of resourceVersion rv (0: now),
// sorted by name, and the resourceVersion of the snapshot. It fails with an
// Expired StatusError when rv is older than the history kept.
func (o *Objects) snapshot(tenant string, rv uint64) ([]*PodLogStream, uint64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if rv == 0 || rv >= o.rv {
		if rv > o.rv {
			return nil, 0, tooLargeRV(rv, o.rv)
		}
		var out []*PodLogStream
		for k, obj := range o.objs {
			if k.tenant == tenant {
				out = append(out, obj)
			}
		}
		sortByName(out)
		return out, o.rv, nil
	}
	if rv < o.oldest {
		return nil, 0, apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", rv, o.oldest))
	}
	m := make(map[string]*PodLogStream)
	for k, obj := range o.objs {
		if k.tenant == tenant {
			m[k.name] = obj
		}
	}
	for i := len(o.history) - 1; i >= 0 && o.history[i].rv > rv; i-- {
		ev := o.history[i]
		if ev.tenant != tenant {
			continue
		}
		if ev.prev == nil {
			delete(m, ev.obj.Name)
		} else {
			m[ev.prev.Name] = ev.prev
		}
	}
	out := make([]*PodLogStream, 0, len(m))
	for _, obj := range m {
		out = append(out, obj)
	}
	sortByName(out)
	return out, rv, nil
}

// tooLargeRV is the error for a resourceVersion the store has not reached.
func tooLargeRV(rv, current uint64) error {
	err := apierrors.NewTimeoutError(fmt.Sprintf("Too large resource version: %d, current: %d", rv, current), 1)
	err.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: metav1.CauseTypeResourceVersionTooLarge, Message: "Too large resource version"}}
	return err
}

func sortByName(objs []*PodLogStream) {
	slices.SortFunc(objs, func(a, b *PodLogStream) int { return strings.Compare(a.Name, b.Name) })
}

// generateName returns a name made of prefix and 5 random characters.
func generateName(prefix string) string {
	return prefix + rand.String(5)
}

// Create stores a new object, completing its metadata (name from
// generateName when it has none or its generated name is taken, uid, creationTimestamp, generation, resourceVersion). With
// dryRun nothing is stored. The object must be valid.
func (o *Objects) Create(tenant string, obj *PodLogStream, dryRun bool) (*PodLogStream, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	obj = obj.deepCopy()
	if obj.Name == "" {
		obj.Name = generateName(obj.GenerateName)
	}
	for tries := 0; ; tries++ {
		if _, taken := o.objs[objKey{tenant, obj.Name}]; !taken {
			break
		}
		if obj.GenerateName == "" || !strings.HasPrefix(obj.Name, obj.GenerateName) || tries == 10 {
			return nil, apierrors.NewAlreadyExists(groupResource, obj.Name)
		}
		obj.Name = generateName(obj.GenerateName)
	}
	obj.UID = uuid.NewUUID()
	obj.CreationTimestamp = metav1.NewTime(o.clock.Now().Truncate(time.Second))
	obj.Generation = 1
	obj.DeletionTimestamp, obj.DeletionGracePeriodSeconds = nil, nil
	if dryRun {
		obj.ResourceVersion = ""
		return obj, nil
	}
	if err := o.commitLocked(tenant, watch.Added, nil, obj); err != nil {
		return nil, err
	}
	return obj.deepCopy(), nil
}

// Update replaces an object with what change returns for its current state
// (a copy it may modify); on a missing object change gets nil when
// allowCreate, else Update fails with NotFound. The store keeps uid,
// creationTimestamp and deletion fields, bumps generation when the spec
// changed, and gives a new resourceVersion unless nothing changed. It
// reports whether the object was created.
func (o *Objects) Update(tenant, name string, allowCreate, dryRun bool, change func(cur *PodLogStream) (*PodLogStream, error)) (*PodLogStream, bool, error) {
	o.mu.Lock()
	cur, ok := o.objs[objKey{tenant, name}]
	if !ok {
		o.mu.Unlock()
		if !allowCreate {
			return nil, false, apierrors.NewNotFound(groupResource, name)
		}
		obj, err := change(nil)
		if err != nil {
			return nil, false, err
		}
		created, err := o.Create(tenant, obj, dryRun)
		return created, err == nil, err
	}
	defer o.mu.Unlock()
	next, err := change(cur.deepCopy())
	if err != nil {
		return nil, false, err
	}
	next.Name, next.UID, next.CreationTimestamp = cur.Name, cur.UID, cur.CreationTimestamp
	next.DeletionTimestamp, next.DeletionGracePeriodSeconds = cur.DeletionTimestamp, cur.DeletionGracePeriodSeconds
	next.Generation = cur.Generation
	next.ResourceVersion = cur.ResourceVersion
	if !apiequality.Semantic.DeepEqual(next.Spec, cur.Spec) {
		next.Generation++
	}
	if apiequality.Semantic.DeepEqual(next, cur) {
		return cur.deepCopy(), false, nil
	}
	if dryRun {
		return next, false, nil
	}
	if next.DeletionTimestamp != nil && len(next.Finalizers) == 0 && !o.clock.Now().Before(next.DeletionTimestamp.Time) {
		// The last finalizer went after the grace period: delete.
		if err := o.commitLocked(tenant, watch.Deleted, cur, next); err != nil {
			return nil, false, err
		}
		return next.deepCopy(), false, nil
	}
	if err := o.commitLocked(tenant, watch.Modified, cur, next); err != nil {
		return nil, false, err
	}
	return next.deepCopy(), false, nil
}

// Preconditions must hold for a deletion.
type Preconditions struct {
	UID             string
	ResourceVersion string
}

// Delete deletes an object: at once when grace is zero (or nil) and it has
// no finalizers, else it marks the object with a deletionTimestamp and
// deletes it grace later, once its finalizers are removed. It returns the
// object as last stored and whether the deletion is pending.
func (o *Objects) Delete(tenant, name string, pre Preconditions, grace *int64, dryRun bool) (*PodLogStream, bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	k := objKey{tenant, name}
	cur, ok := o.objs[k]
	if !ok {
		return nil, false, apierrors.NewNotFound(groupResource, name)
	}
	if pre.UID != "" && pre.UID != string(cur.UID) {
		//lint:ignore ST1005 kube-apiserver's own wording, which clients match
		return nil, false, apierrors.NewConflict(groupResource, name, fmt.Errorf("Precondition failed: UID in precondition: %s, UID in object meta: %s", pre.UID, cur.UID))
	}
	if pre.ResourceVersion != "" && pre.ResourceVersion != cur.ResourceVersion {
		//lint:ignore ST1005 kube-apiserver's own wording, which clients match
		return nil, false, apierrors.NewConflict(groupResource, name, fmt.Errorf("Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in object meta: %s", pre.ResourceVersion, cur.ResourceVersion))
	}
	if len(cur.Finalizers) == 0 && (grace == nil || *grace <= 0) {
		if dryRun {
			return cur.deepCopy(), false, nil
		}
		final := cur.deepCopy()
		if err := o.commitLocked(tenant, watch.Deleted, cur, final); err != nil {
			return nil, false, err
		}
		return final.deepCopy(), false, nil
	}
	var seconds int64
	if grace != nil {
		seconds = max(*grace, 0)
	}
	at := o.clock.Now().Add(time.Duration(seconds) * time.Second)
	if cur.DeletionTimestamp != nil && !at.Before(cur.DeletionTimestamp.Time) {
		return cur.deepCopy(), true, nil // an earlier deletion stands
	}
	next := cur.deepCopy()
	ts := metav1.NewTime(at)
	next.DeletionTimestamp, next.DeletionGracePeriodSeconds = &ts, &seconds
	if dryRun {
		return next, true, nil
	}
	if err := o.commitLocked(tenant, watch.Modified, cur, next); err != nil {
		return nil, false, err
	}
	o.scheduleDeletion(k, at)
	return next.deepCopy(), true, nil
}

// scheduleDeletion deletes k at the given time; o.mu must be held.
func (o *Objects) scheduleDeletion(k objKey, at time.Time) {
	if t := o.timers[k]; t != nil {
		t.Stop()
	}
	o.timers[k] = o.clock.AfterFunc(max(at.Sub(o.clock.Now()), 0), func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		delete(o.timers, k)
		cur, ok := o.objs[k]
		if !ok || o.closed || cur.DeletionTimestamp == nil || len(cur.Finalizers) > 0 {
			return // the removal of the last finalizer deletes it
		}
		// A failed write leaves the object; the next start deletes it.
		_ = o.commitLocked(k.tenant, watch.Deleted, cur, cur.deepCopy())
	})
}

// commitLocked gives obj the next resourceVersion, writes the change
// through to the database, applies it in memory and sends it to the
// watchers; o.mu must be held. For a deletion obj is the final state.
func (o *Objects) commitLocked(tenant string, typ watch.EventType, prev, obj *PodLogStream) error {
	if o.closed {
		return apierrors.NewServiceUnavailable("the server is shutting down")
	}
	rv := o.rv + 1
	obj.ResourceVersion = strconv.FormatUint(rv, 10)
	if err := o.persist(tenant, typ, obj, rv); err != nil {
		return apierrors.NewInternalError(fmt.Errorf("store podlogstream %s: %w", obj.Name, err))
	}
	o.rv = rv
	k := objKey{tenant, obj.Name}
	if typ == watch.Deleted {
		delete(o.objs, k)
		if t := o.timers[k]; t != nil {
			t.Stop()
			delete(o.timers, k)
		}
	} else {
		o.objs[k] = obj
	}
	ev := event{typ: typ, tenant: tenant, rv: rv, obj: obj, prev: prev}
	o.history = append(o.history, ev)
	if len(o.history) > historySize {
		drop := len(o.history) - historySize
		o.oldest = o.history[drop-1].rv
		o.history = slices.Delete(o.history, 0, drop)
	}
	for w := range o.watchers {
		if w.tenant == tenant {
			o.send(w, ev)
		}
	}
	ls := slices.Clone(o.listeners)
	go func() {
		for _, f := range ls {
			f(tenant, obj.Name)
		}
	}()
	return nil
}

// persist writes a change to the database, if any.
func (o *Objects) persist(tenant string, typ watch.EventType, obj *PodLogStream, rv uint64) error {
	if o.db == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tx, err := o.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO podlogstream_sequence (id, resource_version) VALUES (1, ?)
ON CONFLICT (id) DO UPDATE SET resource_version = excluded.resource_version`, int64(rv)); err != nil {
		return err
	}
	if typ == watch.Deleted {
		if _, err := tx.ExecContext(ctx, `DELETE FROM podlogstreams WHERE tenant = ? AND name = ?`, tenant, obj.Name); err != nil {
			return err
		}
	} else {
		raw, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO podlogstreams (tenant, name, uid, resource_version, object) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (tenant, name) DO UPDATE SET uid = excluded.uid, resource_version = excluded.resource_version, object = excluded.object`,
			tenant, obj.Name, string(obj.UID), int64(rv), string(raw)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// watcher receives a tenant's changes.
type watcher struct {
	tenant string
	ch     chan event
	// dropped is closed when the watcher is dropped (too slow, or the store
	// closed).
	dropped chan struct{}
	gone    bool
}

// startWatch starts a watch of a tenant's objects from resourceVersion rv: the
// changes after rv, or, when initial is set, an ADDED event for each object
// first (and then a bookmark marking their end when bookmark is set).
// stopWatch must be called.
func (o *Objects) startWatch(tenant string, rv uint64, initial, bookmark bool) (*watcher, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil, apierrors.NewServiceUnavailable("the server is shutting down")
	}
	var backlog []event
	switch {
	case initial:
		var objs []*PodLogStream
		for k, obj := range o.objs {
			if k.tenant == tenant {
				objs = append(objs, obj)
			}
		}
		sortByName(objs)
		for _, obj := range objs {
			backlog = append(backlog, event{typ: watch.Added, tenant: tenant, rv: o.rv, obj: obj})
		}
		if bookmark {
			backlog = append(backlog, event{typ: watch.Bookmark, tenant: tenant, rv: o.rv, initialEnd: true})
		}
	case rv < o.oldest:
		return nil, apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", rv, o.oldest))
	default:
		for _, ev := range o.history {
			if ev.rv > rv && ev.tenant == tenant {
				backlog = append(backlog, ev)
			}
		}
	}
	w := &watcher{tenant: tenant, ch: make(chan event, watchBuffer+len(backlog)), dropped: make(chan struct{})}
	for _, ev := range backlog {
		w.ch <- ev
	}
	o.watchers[w] = struct{}{}
	return w, nil
}

// sendBookmark sends w a bookmark at the current resourceVersion, after the
// changes already sent.
func (o *Objects) sendBookmark(w *watcher) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.send(w, event{typ: watch.Bookmark, tenant: w.tenant, rv: o.rv})
}

// stopWatch stops a watch.
func (o *Objects) stopWatch(w *watcher) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.dropWatcher(w)
}

// send sends ev to w, dropping w when it lags too far; o.mu must be held.
func (o *Objects) send(w *watcher, ev event) {
	if w.gone {
		return
	}
	select {
	case w.ch <- ev:
	default:
		o.dropWatcher(w)
	}
}

// dropWatcher removes w; o.mu must be held.
func (o *Objects) dropWatcher(w *watcher) {
	if !w.gone {
		w.gone = true
		close(w.dropped)
		delete(o.watchers, w)
	}
}

// deepCopy returns a copy of p sharing nothing with it.
func (p *PodLogStream) deepCopy() *PodLogStream {
	out := &PodLogStream{TypeMeta: p.TypeMeta}
	p.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	out.Spec = p.Spec
	if p.Spec.SinceTime != nil {
		t := *p.Spec.SinceTime
		out.Spec.SinceTime = &t
	}
	out.Spec.OnlyContainers = slices.Clone(p.Spec.OnlyContainers)
	out.Spec.IgnoreContainers = slices.Clone(p.Spec.IgnoreContainers)
	out.Status.ContainerStatuses = slices.Clone(p.Status.ContainerStatuses)
	return out
}
