package logql

import (
	"context"
	"slices"
	"sort"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// Counter is an optional extension of a Source: entry counts and line bytes
// per stream over a time range, answered from metadata without reading
// lines. With it, count_over_time, rate, bytes_over_time and bytes_rate over
// a bare selector (no pipeline, no unwrap) cost no line reads.
type Counter interface {
	// CountStreams returns the counts of the streams matching the matchers
	// over [start, end). Streams without entries may be left out.
	CountStreams(ctx context.Context, matchers []logmodel.Matcher, start, end int64) ([]StreamCount, error)
}

// StreamCount is one stream's entries and line bytes over a range.
type StreamCount struct {
	Labels  logmodel.Labels
	Entries uint64
	Bytes   uint64
}

// countable reports whether a range aggregation can be answered by a Counter.
func countable(e *RangeAggExpr) bool {
	r := e.Range
	if len(r.Log.Pipeline) != 0 || r.Unwrap != nil {
		return false
	}
	switch e.Op {
	case RangeCount, RangeRate, RangeBytes, RangeBytesRate:
		return true
	}
	return false
}

// countRange fills the series of a countable range aggregation from a
// Counter: the time range is cut where the set of windows an entry falls in
// changes, and each piece is counted once.
func (ev *evaluator) countRange(c Counter, e *RangeAggExpr, group *Grouping, start, end int64) ([]*rangeSeries, error) {
	r := e.Range
	offset, rng := int64(r.Offset), int64(r.Range)
	cuts := []int64{start, end}
	for m := 0; m < ev.n; m++ {
		for _, b := range []int64{ev.start - offset + int64(m)*ev.step + 1, ev.start - offset - rng + int64(m)*ev.step + 1} {
			if b > start && b < end {
				cuts = append(cuts, b)
			}
		}
	}
	sort.Slice(cuts, func(i, j int) bool { return cuts[i] < cuts[j] })
	w := &rangeWorker{series: map[string]*rangeSeries{}}
	var order []*rangeSeries
	for i := 0; i+1 < len(cuts); i++ {
		lo, hi, ok := ev.windowSteps(cuts[i], offset, rng)
		if cuts[i] == cuts[i+1] || !ok {
			continue
		}
		counts, err := c.CountStreams(ev.ctx, r.Log.Matchers, cuts[i], cuts[i+1])
		if err != nil {
			return nil, err
		}
		for _, sc := range counts {
			v := float64(sc.Entries)
			if e.Op == RangeBytes || e.Op == RangeBytesRate {
				v = float64(sc.Bytes)
			}
			if sc.Entries == 0 {
				continue
			}
			// A countable aggregation has no pipeline: its labels are the
			// stream's.
			ls := sc.Labels
			if group != nil {
				ls = w.groupStreamLabels(ls, group)
			}
			w.key = appendKey(w.key[:0], ls)
			s, ok := w.series[string(w.key)]
			if !ok {
				if max := ev.e.cfg.MaxSeries; max > 0 && len(w.series) >= max {
					return nil, errTooManySeries(max)
				}
				s = &rangeSeries{labels: cloneLabels(ls), key: string(w.key)}
				w.series[s.key] = s
				order = append(order, s)
			}
			s.cells = append(s.cells, cell{lo: lo, hi: hi, v: v})
		}
	}
	return order, nil
}

// groupStreamLabels is groupLabels for the sorted labels ls of a stream
// read by a bare selector, without building them through a pipeline.
func (w *rangeWorker) groupStreamLabels(ls logmodel.Labels, g *Grouping) logmodel.Labels {
	w.group = w.group[:0]
	for _, l := range ls {
		in := slices.Contains(g.Labels, l.Name)
		keep := !in
		if !g.Without {
			keep = in && l.Value != "" || !in && (l.Name == errorLabel || l.Name == errorDetailsLabel)
		}
		if keep {
			w.group = append(w.group, l)
		}
	}
	return w.group
}
