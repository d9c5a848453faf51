package query

import (
	"context"
	"math"
	"sort"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/store"
)

// StatsRequest asks for the counts of the entries Query selects.
type StatsRequest struct {
	Query store.Query
	// Interval, when positive, asks for a histogram of Buckets buckets of
	// Interval each from Query.Start.
	Interval time.Duration
	Buckets  int
	// Top is how many pods TopPods lists.
	Top int
}

// Stats counts entries by level, namespace and pod.
type Stats struct {
	TotalLines  uint64
	TotalBytes  uint64
	ByLevel     map[string]uint64
	ByNamespace map[string]uint64
	// TopPods are the pods with the most lines, most first.
	TopPods []PodCount
	// Histogram holds the lines of each bucket, with an interval asked for.
	Histogram []uint64
}

// PodCount is a pod's number of lines.
type PodCount struct {
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	Lines     uint64 `json:"lines"`
}

// Stats counts the entries of a request. Levels come from the entries; the
// totals, namespaces and pods from block metadata when the query has no
// metadata filter, and from the entries otherwise.
func (e *Engine) Stats(ctx context.Context, r StatsRequest) (*Stats, error) {
	q := r.Query
	interval := int64(r.Interval)
	type acc struct {
		level map[string]uint64
		hist  map[int64]uint64
	}
	workers := make([]acc, e.st.Workers())
	for i := range workers {
		workers[i] = acc{level: map[string]uint64{}, hist: map[int64]uint64{}}
	}
	_, err := e.st.Scan(ctx, q, func(wk int, st *store.Stream, e *store.EntryView) error {
		lv := e.Metadata.Get(logmodel.MetaLevel)
		if lv == "" {
			lv = "unknown"
		}
		workers[wk].level[lv]++
		if interval > 0 {
			workers[wk].hist[(e.Timestamp-q.Start)/interval]++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	ss, _, err := e.st.StreamStats(ctx, q.Tenant, q.Matchers, q.Start, q.End)
	if err != nil {
		return nil, err
	}
	out := &Stats{ByLevel: map[string]uint64{}, ByNamespace: map[string]uint64{}}
	type streamCount struct {
		labels logmodel.Labels
		n      uint64
	}
	perStream := map[uint64]streamCount{}
	if len(q.MetaFilters) == 0 {
		for _, s := range ss {
			out.TotalLines += s.Entries
			out.TotalBytes += s.Bytes
			out.ByNamespace[s.Stream.Labels.Get("namespace")] += s.Entries
			perStream[s.Stream.ID] = streamCount{s.Stream.Labels, s.Entries}
		}
	}
	hist := map[int64]uint64{}
	for _, w := range workers {
		for k, n := range w.level {
			out.ByLevel[k] += n
			if len(q.MetaFilters) > 0 {
				out.TotalLines += n
			}
		}
		for k, n := range w.hist {
			hist[k] += n
		}
	}
	pods := map[string]*PodCount{}
	for _, s := range perStream {
		k := s.labels.Get("namespace") + "/" + s.labels.Get("pod")
		p := pods[k]
		if p == nil {
			p = &PodCount{Namespace: s.labels.Get("namespace"), Pod: s.labels.Get("pod")}
			pods[k] = p
		}
		p.Lines += s.n
	}
	for _, p := range pods {
		out.TopPods = append(out.TopPods, *p)
	}
	sort.Slice(out.TopPods, func(i, j int) bool {
		a, b := out.TopPods[i], out.TopPods[j]
		if a.Lines != b.Lines {
			return a.Lines > b.Lines
		}
		return a.Namespace+a.Pod < b.Namespace+b.Pod
	})
	if len(out.TopPods) > r.Top {
		out.TopPods = out.TopPods[:r.Top]
	}
	if interval > 0 {
		out.Histogram = make([]uint64, r.Buckets)
		for i := range out.Histogram {
			out.Histogram[i] = hist[int64(i)]
		}
	}
	return out, nil
}

// Group is one group of a listing: the streams that share a name (a
// namespace, a pod or a container) and what they hold.
type Group struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	Pod       string `json:"pod,omitempty"`
	Entries   uint64 `json:"entries"`
	Bytes     uint64 `json:"bytes"`
	Streams   int    `json:"streams"`
}

// Groups groups the tenant's streams that hold entries in [start, end) by
// key, in the order the groups are first seen; key's false leaves a stream
// out. The counts come from block metadata.
func (e *Engine) Groups(ctx context.Context, tenant string, ms []logmodel.Matcher, start, end int64, key func(ls logmodel.Labels) (Group, bool)) ([]Group, error) {
	stats, _, err := e.st.StreamStats(ctx, tenant, ms, start, end)
	if err != nil {
		return nil, err
	}
	groups := map[string]*Group{}
	var order []string
	for _, s := range stats {
		c, ok := key(s.Stream.Labels)
		if !ok {
			continue
		}
		k := c.Namespace + "\x00" + c.Pod + "\x00" + c.Name
		g := groups[k]
		if g == nil {
			g = &c
			groups[k] = g
			order = append(order, k)
		}
		g.Entries += s.Entries
		g.Bytes += s.Bytes
		g.Streams++
	}
	out := make([]Group, 0, len(order))
	for _, k := range order {
		out = append(out, *groups[k])
	}
	return out, nil
}

// Window is what a tenant's streams took in over a recent window.
type Window struct {
	Lines, Bytes uint64
	// Streams is how many streams have entries in the window.
	Streams int
	// ErrorLines counts the lines of level error.
	ErrorLines uint64
}

// Window counts the tenant's entries of the streams ms selects in the
// window of length since that ends at now (Unix nanoseconds).
func (e *Engine) Window(ctx context.Context, tenant string, ms []logmodel.Matcher, since time.Duration, now int64) (Window, error) {
	var w Window
	ss, _, err := e.st.StreamStats(ctx, tenant, ms, now-int64(since), math.MaxInt64)
	if err != nil {
		return w, err
	}
	for _, s := range ss {
		w.Lines += s.Entries
		w.Bytes += s.Bytes
	}
	w.Streams = len(ss)
	w.ErrorLines, _, _, err = e.st.Count(ctx, store.Query{Tenant: tenant, Matchers: ms, Start: now - int64(since),
		MetaFilters: []logmodel.Matcher{{Type: logmodel.MatchEqual, Name: logmodel.MetaLevel, Value: "error"}}})
	return w, err
}

// IndexStats are the totals of the streams a selector selects in a range.
type IndexStats struct {
	Streams, Chunks int
	Entries, Bytes  uint64
}

// IndexStats totals the tenant's streams ms selects in [start, end) from
// block metadata.
func (e *Engine) IndexStats(ctx context.Context, tenant string, ms []logmodel.Matcher, start, end int64) (IndexStats, error) {
	ss, qs, err := e.st.StreamStats(ctx, tenant, ms, start, end)
	if err != nil {
		return IndexStats{}, err
	}
	out := IndexStats{Streams: len(ss), Chunks: qs.BlocksTotal}
	for _, s := range ss {
		out.Entries += s.Entries
		out.Bytes += s.Bytes
	}
	return out, nil
}

// VolumeRequest asks for the bytes of the streams Matchers select.
type VolumeRequest struct {
	Tenant   string
	Matchers []logmodel.Matcher
	// Start and End bound the range, both inclusive, in Unix nanoseconds.
	Start, End int64
	// Step, when positive, splits the range into steps, each with its own
	// point; otherwise the range is one step.
	Step int64
	// Targets are the labels streams are grouped by; none means by series.
	Targets []string
	// Limit is how many groups to keep, largest first.
	Limit int
}

// VolumeGroup is the bytes of one group: in all and per step end.
type VolumeGroup struct {
	Labels logmodel.Labels
	Total  uint64
	// Points maps the end of each step (exclusive) to its bytes.
	Points map[int64]uint64
}

// Volume sums the bytes of the selected streams per group, largest first
// (ties by labels).
func (e *Engine) Volume(ctx context.Context, r VolumeRequest) ([]*VolumeGroup, error) {
	group := func(ls logmodel.Labels) logmodel.Labels {
		if len(r.Targets) == 0 {
			return ls
		}
		var out logmodel.Labels
		for _, t := range r.Targets {
			if v := ls.Get(t); v != "" {
				out = append(out, logmodel.Label{Name: t, Value: v})
			}
		}
		return out.Sort()
	}
	steps := []int64{r.Start}
	step := r.End - r.Start
	if r.Step > 0 {
		step = r.Step
		for t := r.Start + step; t < r.End; t += step {
			steps = append(steps, t)
		}
	}
	groups := map[string]*VolumeGroup{}
	for _, t0 := range steps {
		t1 := min(t0+step, r.End+1)
		ss, _, err := e.st.StreamStats(ctx, r.Tenant, r.Matchers, t0, t1)
		if err != nil {
			return nil, err
		}
		for _, s := range ss {
			g := group(s.Stream.Labels)
			k := g.String()
			ac := groups[k]
			if ac == nil {
				ac = &VolumeGroup{Labels: g, Points: map[int64]uint64{}}
				groups[k] = ac
			}
			ac.Total += s.Bytes
			ac.Points[t1] += s.Bytes
		}
	}
	list := make([]*VolumeGroup, 0, len(groups))
	for _, g := range groups {
		list = append(list, g)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].Total != list[j].Total {
			return list[i].Total > list[j].Total
		}
		return list[i].Labels.String() < list[j].Labels.String()
	})
	if len(list) > r.Limit {
		list = list[:r.Limit]
	}
	return list, nil
}

// Series lists the label sets of the tenant's streams ms selects that hold
// entries in [start, end), sorted.
func (e *Engine) Series(ctx context.Context, tenant string, ms []logmodel.Matcher, start, end int64) ([]logmodel.Labels, error) {
	return e.st.Series(ctx, tenant, ms, start, end)
}

// LabelNames lists the label names of those streams, sorted.
func (e *Engine) LabelNames(ctx context.Context, tenant string, ms []logmodel.Matcher, start, end int64) ([]string, error) {
	return e.st.LabelNames(ctx, tenant, ms, start, end)
}

// LabelValues lists the values of one label of those streams, sorted.
func (e *Engine) LabelValues(ctx context.Context, tenant, name string, ms []logmodel.Matcher, start, end int64) ([]string, error) {
	return e.st.LabelValues(ctx, tenant, name, ms, start, end)
}
