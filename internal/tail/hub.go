// Package tail serves live tails: a hub fans committed entries out to
// subscribers, and Follow turns a cursor into an exact stream — first the
// stored entries after it, then live ones, with no duplicate and no gap at the
// seam. A subscriber that falls behind leaves the live fan-out and reads from
// the store until it catches up; nothing is ever dropped. Tail sessions, their
// filter language and their persistence live here too.
package tail

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/store"
)

// HubConfig configures a Hub.
type HubConfig struct {
	// QueueBatches bounds the batches waiting for the dispatcher; when it is
	// full the live fan-out of that batch is skipped and every subscriber of
	// the tenant resynchronises from the store.
	QueueBatches int
	// SubscriberEntries bounds each subscriber's live buffer.
	SubscriberEntries int
}

// DefaultHubConfig returns the defaults.
func DefaultHubConfig() HubConfig {
	return HubConfig{QueueBatches: 1024, SubscriberEntries: 4096}
}

// Hub fans committed entries out to subscribers. Create it with NewHub; Close
// must be called.
type Hub struct {
	in    chan hubBatch
	count atomic.Int64 // subscribers, so that OnCommit is free without any
	limit int          // entries a subscriber may buffer

	mu   sync.RWMutex // guards subs
	subs map[string]map[*Sub]struct{}

	stop chan struct{}
	done chan struct{}
}

type hubBatch struct {
	tenant  string
	entries []logmodel.Entry
}

// NewHub starts a hub.
func NewHub(cfg HubConfig) *Hub {
	if cfg.QueueBatches <= 0 || cfg.SubscriberEntries <= 0 {
		cfg = DefaultHubConfig()
	}
	h := &Hub{limit: cfg.SubscriberEntries, in: make(chan hubBatch, cfg.QueueBatches), subs: make(map[string]map[*Sub]struct{}),
		stop: make(chan struct{}), done: make(chan struct{})}
	go h.dispatch()
	return h
}

// Close stops the dispatcher.
func (h *Hub) Close() {
	close(h.stop)
	<-h.done
}

// OnCommit is the store's commit hook: it copies the batch and queues it for
// the dispatcher, never blocking the store's writer.
func (h *Hub) OnCommit(tenant string, es []store.CommittedEntry) {
	if h.count.Load() == 0 {
		return
	}
	h.mu.RLock()
	n := len(h.subs[tenant])
	h.mu.RUnlock()
	if n == 0 {
		return
	}
	size := 0
	for _, e := range es {
		size += len(e.Entry.Line)
	}
	lines := make([]byte, 0, size)
	out := make([]logmodel.Entry, len(es))
	for i, e := range es {
		start := len(lines)
		lines = append(lines, e.Entry.Line...)
		out[i] = logmodel.Entry{
			Labels:    e.Stream.Labels,
			Timestamp: e.Entry.Timestamp,
			Line:      lines[start:len(lines):len(lines)],
			Metadata:  e.Entry.Metadata.Copy(),
			Cursor:    logmodel.Cursor{Seq: e.Entry.Seq},
		}
	}
	select {
	case h.in <- hubBatch{tenant: tenant, entries: out}:
	default:
		// The dispatcher is behind: rather than wait, let this tenant's
		// subscribers read these entries from the store.
		h.mu.RLock()
		for s := range h.subs[tenant] {
			s.setOverflow()
		}
		h.mu.RUnlock()
	}
}

func (h *Hub) dispatch() {
	defer close(h.done)
	for {
		select {
		case b := <-h.in:
			h.mu.RLock()
			for s := range h.subs[b.tenant] {
				s.offer(b.entries)
			}
			h.mu.RUnlock()
		case <-h.stop:
			return
		}
	}
}

// Sub is one subscriber's live buffer.
type Sub struct {
	tenant string
	match  func(e *logmodel.Entry) bool
	limit  int
	notify chan struct{}

	mu       sync.Mutex // guards buf and overflow
	buf      []logmodel.Entry
	overflow bool
}

// Subscribe registers a subscriber for a tenant's entries that match.
// Unsubscribe must be called.
func (h *Hub) Subscribe(tenant string, match func(e *logmodel.Entry) bool) *Sub {
	s := &Sub{tenant: tenant, match: match, limit: h.limit, notify: make(chan struct{}, 1)}
	h.mu.Lock()
	m := h.subs[tenant]
	if m == nil {
		m = make(map[*Sub]struct{})
		h.subs[tenant] = m
	}
	m[s] = struct{}{}
	h.mu.Unlock()
	h.count.Add(1)
	return s
}

// Unsubscribe removes a subscriber.
func (h *Hub) Unsubscribe(s *Sub) {
	h.mu.Lock()
	if m := h.subs[s.tenant]; m != nil {
		if _, ok := m[s]; ok {
			delete(m, s)
			h.count.Add(-1)
		}
		if len(m) == 0 {
			delete(h.subs, s.tenant)
		}
	}
	h.mu.Unlock()
}

// offer appends the matching entries, or marks the subscriber overflowed
// when its buffer is full. It runs on the dispatcher.
func (s *Sub) offer(es []logmodel.Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.overflow {
		return
	}
	added := false
	for i := range es {
		if !s.match(&es[i]) {
			continue
		}
		if len(s.buf) >= s.limit {
			s.overflow = true
			s.buf = nil
			break
		}
		s.buf = append(s.buf, es[i])
		added = true
	}
	if added || s.overflow {
		s.wake()
	}
}

func (s *Sub) setOverflow() {
	s.mu.Lock()
	s.overflow = true
	s.buf = nil
	s.mu.Unlock()
	s.wake()
}

func (s *Sub) wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// take returns the buffered entries and whether the subscriber overflowed.
func (s *Sub) take() ([]logmodel.Entry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, o := s.buf, s.overflow
	s.buf = nil
	return b, o
}

// Reader is what Follow needs from the store.
type Reader interface {
	ReadAfter(ctx context.Context, q store.Query, cursor logmodel.Cursor, limit int) ([]logmodel.Entry, bool, error)
	OldestCursor(tenant string) logmodel.Cursor
	LastCursor(tenant string) logmodel.Cursor
}

var _ Reader = (*store.Store)(nil)

// Event is what Follow delivers: an entry, or a gap that retention left.
type Event struct {
	Entry *logmodel.Entry
	Gap   *Gap
}

// Gap says that entries after a cursor are gone (deleted by retention).
type Gap struct {
	// After is the cursor the reader asked to resume from; Next is the
	// oldest entry still stored. Missing counts the entries in between, of
	// every stream (the filter cannot be applied to what is gone).
	After   logmodel.Cursor
	Next    logmodel.Cursor
	Missing uint64
}

// FollowSpec says what to follow.
type FollowSpec struct {
	Tenant string
	// Query selects the entries, both for reads from the store and, through
	// store.EntryFilter, for the live path.
	Query store.Query
	// Cursor is where to resume: entries after it are delivered.
	Cursor logmodel.Cursor
	// ReadBatch is how many entries one store read returns.
	ReadBatch int
	// Idle, when set, is called when no entry is pending and at least once a
	// second while idle, so that the transport can send heartbeats and
	// persist the cursor; it may return an error to stop.
	Idle func() error
	// Flush, when set, is called after each run of delivered entries, so
	// that the transport can write them out together.
	Flush func() error
}

// Follow delivers every entry after spec.Cursor that matches, in cursor
// order, first from the store and then live, until ctx ends or deliver fails.
// It never skips or repeats an entry; a slow deliver only makes it read from
// the store for longer.
func (h *Hub) Follow(ctx context.Context, r Reader, spec FollowSpec, deliver func(Event) error) error {
	if spec.ReadBatch <= 0 {
		spec.ReadBatch = 500
	}
	live, err := store.NewEntryFilter(spec.Query)
	if err != nil {
		return err
	}
	cursor := spec.Cursor
	if oldest := r.OldestCursor(spec.Tenant); !cursor.IsZero() && oldest.Seq > cursor.Seq+1 {
		gap := &Gap{After: cursor, Next: oldest, Missing: oldest.Seq - cursor.Seq - 1}
		if err := deliver(Event{Gap: gap}); err != nil {
			return err
		}
		cursor = logmodel.Cursor{Seq: oldest.Seq - 1}
	}
	for {
		sub := h.Subscribe(spec.Tenant, live.Match)
		err := h.catchUpAndLive(ctx, r, spec, sub, &cursor, deliver)
		h.Unsubscribe(sub)
		if err != errResync {
			return err
		}
	}
}

// errResync makes Follow leave the live fan-out and read from the store.
var errResync = errors.New("tail: subscriber fell behind; reading from the store")

func (h *Hub) catchUpAndLive(ctx context.Context, r Reader, spec FollowSpec, sub *Sub, cursor *logmodel.Cursor, deliver func(Event) error) error {
	// Catch up from the store. Entries committed meanwhile are in the live
	// buffer too; their cursors tell the copies apart.
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		es, more, err := r.ReadAfter(ctx, spec.Query, *cursor, spec.ReadBatch)
		if err != nil {
			return err
		}
		for i := range es {
			if err := deliver(Event{Entry: &es[i]}); err != nil {
				return err
			}
			*cursor = es[i].Cursor
		}
		if err := flush(spec); err != nil {
			return err
		}
		if !more {
			break
		}
	}
	var tick <-chan time.Time
	if spec.Idle != nil {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		tick = t.C
	}
	for {
		es, overflow := sub.take()
		if overflow {
			return errResync
		}
		for i := range es {
			if es[i].Cursor.Seq <= cursor.Seq {
				continue
			}
			if err := deliver(Event{Entry: &es[i]}); err != nil {
				return err
			}
			*cursor = es[i].Cursor
		}
		if len(es) > 0 {
			if err := flush(spec); err != nil {
				return err
			}
			continue
		}
		if spec.Idle != nil {
			if err := spec.Idle(); err != nil {
				return err
			}
		}
		select {
		case <-sub.notify:
		case <-ctx.Done():
			return ctx.Err()
		case <-tick:
		}
	}
}

func flush(spec FollowSpec) error {
	if spec.Flush == nil {
		return nil
	}
	return spec.Flush()
}

// streamLabels are the keys known to be stream labels, so that an equality
// on them can select streams before any line is read.
var streamLabels = map[string]bool{"cluster": true, "namespace": true, "pod": true, "container": true, "app": true, "node": true}

// QueryFor builds the store query of a filter and service: equalities on
// stream labels select streams, and the whole filter runs as the predicate.
func QueryFor(tenant string, f *Filter, service string) store.Query {
	q := store.Query{Tenant: tenant}
	if service != "" && service != "*" {
		q.Matchers = append(q.Matchers, logmodel.Matcher{Type: logmodel.MatchEqual, Name: "app", Value: service})
	}
	for k, v := range f.Equalities() {
		if !streamLabels[k] || v == "" {
			continue
		}
		q.Matchers = append(q.Matchers, logmodel.Matcher{Type: logmodel.MatchEqual, Name: k, Value: v})
	}
	q.Predicate = func(st *store.Stream, e *store.EntryView) bool {
		return f.Match(st.Labels, e.Metadata, e.Line)
	}
	return q
}
