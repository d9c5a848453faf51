package logql

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// Entry is a log entry as a Source delivers it.
type Entry struct {
	// Labels is the stream's label set, sorted by name. The engine may keep
	// it after the callback returns, so it must never be modified.
	Labels logmodel.Labels
	// Timestamp is in Unix nanoseconds.
	Timestamp int64
	// Line is valid only during the callback.
	Line []byte
	// Metadata is the entry's structured metadata, sorted by name. Like
	// Labels, the engine may keep it, so it must never be modified.
	Metadata logmodel.Labels
	// Cursor is the entry's ingest position; zero when the source has
	// none.
	Cursor logmodel.Cursor
}

// SelectParams says which entries a query needs.
type SelectParams struct {
	// Matchers select streams by label; all must match. An absent label
	// compares as "". Regular expressions are fully anchored.
	Matchers []logmodel.Matcher
	// Start is inclusive and End exclusive, in Unix nanoseconds.
	Start, End int64
	// Filters must all pass for an entry to be delivered.
	Filters []logmodel.LineFilter
	// Direction and Limit: when Limit > 0, the delivered entries must
	// include the Limit first matching entries in Direction order (by
	// timestamp, ties broken any way); the source may deliver more, in any
	// order. When Limit is 0, every matching entry must be delivered.
	Direction logmodel.Direction
	Limit     int
}

// Source gives the engine log entries; the store implements it.
type Source interface {
	// Workers is the number of goroutines SelectLogs may call fn from;
	// worker indexes passed to fn are in [0, Workers()).
	Workers() int
	// SelectLogs calls fn for each entry of the streams matching
	// p.Matchers with a timestamp in [p.Start, p.End) that passes every
	// filter in p.Filters: the engine does not check them again. Entries
	// come in no particular order. fn may run concurrently on several
	// goroutines, but never concurrently with the same worker index, so
	// the engine keeps per-worker state without locks. When fn returns an
	// error or ctx is done, SelectLogs stops soon and returns that error.
	// SelectLogs returns only after every call of fn has returned. The
	// entry passed to fn may be reused once fn returns.
	SelectLogs(ctx context.Context, p SelectParams, fn func(worker int, e *Entry) error) error
}

// Config limits the work of one query.
type Config struct {
	// MaxSeries caps the series a metric query may build (in a range
	// aggregation, before vector aggregations reduce them). 0: no limit.
	MaxSeries int
	// MaxPoints caps the steps of a range query. 0: no limit.
	MaxPoints int
}

// DefaultConfig returns limits in line with Loki's defaults.
func DefaultConfig() Config {
	return Config{MaxSeries: 50_000, MaxPoints: 11_000}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.MaxSeries < 0 {
		return fmt.Errorf("logql: MaxSeries must not be negative, got %d", c.MaxSeries)
	}
	if c.MaxPoints < 0 {
		return fmt.Errorf("logql: MaxPoints must not be negative, got %d", c.MaxPoints)
	}
	return nil
}

// Engine evaluates LogQL queries over a Source. It is safe for concurrent
// use.
type Engine struct {
	src Source
	cfg Config
}

// NewEngine returns an engine reading from src.
func NewEngine(src Source, cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Engine{src: src, cfg: cfg}, nil
}

// Errors the engine returns; the HTTP layer maps them to 400.
var (
	// ErrBadQuery wraps errors about the arguments of a query: a log query
	// given to a metric entry point, a bad time range or step.
	ErrBadQuery = errors.New("bad query")
	// ErrLimit wraps errors about a query exceeding a Config limit.
	ErrLimit = errors.New("query limit exceeded")
)

// PipelineError is returned by a metric query when a sample carries the
// __error__ label that a parser, a label filter, a template or unwrap set:
// the query would otherwise miscount. Filter on __error__ to proceed.
type PipelineError struct {
	// Labels are the labels of the offending sample.
	Labels logmodel.Labels
}

// Error describes the error and how to filter it out.
func (e *PipelineError) Error() string {
	kind := e.Labels.Get(errorLabel)
	return fmt.Sprintf("pipeline error: '%s' for series: '%s'. Use a label filter to intentionally skip this error. "+
		"(e.g | __error__!=\"%s\"). To skip all potential errors you can match empty errors. (e.g __error__=\"\") "+
		"The label filter can also be specified after unwrap. (e.g | unwrap latency | __error__=\"\")",
		kind, e.Labels.String(), kind)
}

// Stats describes the work of a log query.
type Stats struct {
	// EntriesProcessed and BytesProcessed count the entries (and their line
	// bytes) the source delivered.
	EntriesProcessed int64
	BytesProcessed   int64
	// EntriesReturned counts the entries in the result.
	EntriesReturned int64
}

// internedLabels is a final label set shared by the hits that have it.
type internedLabels struct {
	key    string
	labels logmodel.Labels
}

// hit is one entry of a log query result.
type hit struct {
	ts     int64
	lbls   *internedLabels
	line   string
	meta   logmodel.Labels
	cursor logmodel.Cursor
}

// hitHeap keeps the best hits, the worst on top.
type hitHeap struct {
	hits     []hit
	backward bool
}

// better orders hits in the query direction, ties by labels then line.
func better(a, b *hit, backward bool) bool { return compareHits(a, b, backward) < 0 }

// compareHits is better as a three-way comparison.
func compareHits(a, b *hit, backward bool) int {
	if a.ts != b.ts {
		if (a.ts < b.ts) != backward {
			return -1
		}
		return 1
	}
	if c := strings.Compare(a.lbls.key, b.lbls.key); c != 0 {
		return c
	}
	return strings.Compare(a.line, b.line)
}

func (h *hitHeap) Len() int           { return len(h.hits) }
func (h *hitHeap) Less(i, j int) bool { return better(&h.hits[j], &h.hits[i], h.backward) }
func (h *hitHeap) Swap(i, j int)      { h.hits[i], h.hits[j] = h.hits[j], h.hits[i] }
func (h *hitHeap) Push(x any)         { h.hits = append(h.hits, x.(hit)) }
func (h *hitHeap) Pop() any {
	last := h.hits[len(h.hits)-1]
	h.hits = h.hits[:len(h.hits)-1]
	return last
}

// logWorker is the state of one source worker in a log query.
type logWorker struct {
	pipe     *pipeline
	heap     hitHeap
	heaped   bool // heap.hits is a heap; until the limit it is only appended to
	interned map[string]*internedLabels
	key      []byte
	stats    Stats
}

// intern returns the shared copy of the final label set ls, whose key is
// in w.key. With a limit, sets no longer used by kept hits are forgotten
// from time to time.
func (w *logWorker) intern(ls logmodel.Labels, limit int) *internedLabels {
	if il, ok := w.interned[string(w.key)]; ok {
		return il
	}
	if limit > 0 && len(w.interned) > 2*limit+1024 {
		clear(w.interned)
		for _, h := range w.heap.hits {
			w.interned[h.lbls.key] = h.lbls
		}
	}
	il := &internedLabels{key: string(w.key), labels: cloneLabels(ls)}
	w.interned[il.key] = il
	return il
}

// QueryLogs runs a log query over [start, end) and returns up to limit
// entries (every entry when limit <= 0), the first ones in direction dir,
// grouped into streams by final label set.
func (e *Engine) QueryLogs(ctx context.Context, expr Expr, start, end int64, dir logmodel.Direction, limit int) (Streams, Stats, error) {
	le, ok := expr.(*LogExpr)
	if !ok {
		return nil, Stats{}, fmt.Errorf("%w: %s is a metric query, not a log query", ErrBadQuery, expr)
	}
	if end < start {
		return nil, Stats{}, fmt.Errorf("%w: end before start", ErrBadQuery)
	}
	filters, skip := pushdownFilters(le.Pipeline)
	params := SelectParams{Matchers: le.Matchers, Start: start, End: end, Filters: filters, Direction: dir}
	if limit > 0 && !dropsEntries(le.Pipeline, skip) {
		params.Limit = limit
	}
	if _, err := newPipeline(le.Pipeline, skip, nil); err != nil {
		return nil, Stats{}, err
	}
	backward := dir == logmodel.Backward
	workers := make([]*logWorker, max(e.src.Workers(), 1))
	err := e.src.SelectLogs(ctx, params, func(wi int, ent *Entry) error {
		if wi < 0 || wi >= len(workers) {
			return fmt.Errorf("BUG: source worker index %d out of range", wi)
		}
		w := workers[wi]
		if w == nil {
			p, err := newPipeline(le.Pipeline, skip, nil)
			if err != nil {
				return err
			}
			w = &logWorker{pipe: p, heap: hitHeap{backward: backward}, interned: map[string]*internedLabels{}}
			workers[wi] = w
		}
		w.stats.EntriesProcessed++
		w.stats.BytesProcessed += int64(len(ent.Line))
		full := limit > 0 && len(w.heap.hits) >= limit
		if full && !w.heaped {
			// Hits are appended until the limit is reached, and only kept
			// as a heap from then on: a source that applies the limit
			// itself never gets here.
			heap.Init(&w.heap)
			w.heaped = true
		}
		if full && ent.Timestamp != w.heap.hits[0].ts && (ent.Timestamp < w.heap.hits[0].ts) == backward {
			return nil // cannot make the cut: skip the pipeline
		}
		line, ok := w.pipe.run(ent.Timestamp, ent.Line, ent.Labels, ent.Metadata)
		if !ok {
			return nil
		}
		ls := w.pipe.lb.labels()
		w.key = appendKey(w.key[:0], ls)
		if full {
			worst := &w.heap.hits[0]
			if c := strings.Compare(string(w.key), worst.lbls.key); ent.Timestamp == worst.ts && (c > 0 || (c == 0 && string(line) >= worst.line)) {
				return nil
			}
		}
		h := hit{ts: ent.Timestamp, lbls: w.intern(ls, limit), line: string(line), cursor: ent.Cursor}
		if len(ent.Metadata) > 0 {
			h.meta = ent.Metadata
		}
		if full {
			w.heap.hits[0] = h
			heap.Fix(&w.heap, 0)
		} else {
			w.heap.hits = append(w.heap.hits, h)
		}
		return nil
	})
	var stats Stats
	var all []hit
	for _, w := range workers {
		if w != nil {
			stats.EntriesProcessed += w.stats.EntriesProcessed
			stats.BytesProcessed += w.stats.BytesProcessed
			all = append(all, w.heap.hits...)
		}
	}
	if err != nil {
		return nil, stats, err
	}
	slices.SortFunc(all, func(a, b hit) int { return compareHits(&a, &b, backward) })
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	stats.EntriesReturned = int64(len(all))
	return groupHits(all), stats, nil
}

// groupHits groups sorted hits into streams ordered by labels.
func groupHits(hits []hit) Streams {
	idx := map[string]int{}
	var out Streams
	var keys []string
	for _, h := range hits {
		i, ok := idx[h.lbls.key]
		if !ok {
			i = len(out)
			idx[h.lbls.key] = i
			out = append(out, Stream{Labels: h.lbls.labels})
			keys = append(keys, h.lbls.key)
		}
		out[i].Entries = append(out[i].Entries, StreamEntry{Timestamp: h.ts, Line: h.line, Metadata: h.meta, Cursor: h.cursor})
	}
	sort.Sort(streamsByKey{out, keys})
	return out
}

type streamsByKey struct {
	s    Streams
	keys []string
}

func (s streamsByKey) Len() int           { return len(s.s) }
func (s streamsByKey) Less(i, j int) bool { return strings.Compare(s.keys[i], s.keys[j]) < 0 }
func (s streamsByKey) Swap(i, j int) {
	s.s[i], s.s[j] = s.s[j], s.s[i]
	s.keys[i], s.keys[j] = s.keys[j], s.keys[i]
}

// dropsEntries reports whether a stage left in the engine's pipeline can
// drop an entry, in which case the source cannot apply the limit.
func dropsEntries(stages []Stage, skip []bool) bool {
	for i, s := range stages {
		if skip[i] {
			continue
		}
		switch s.(type) {
		case *LineFilterExpr, *LabelFilterStage:
			return true
		}
	}
	return false
}
