package logql

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// cell is a sum over the samples of one series that fall in the same set of
// windows, the steps lo..hi. Summable aggregations keep cells instead of
// samples, so their memory is bounded by the steps rather than the entries.
type cell struct {
	lo, hi int
	v      float64
}

// rawSample is one sample of a series, kept by aggregations that need them all.
type rawSample struct {
	ts int64
	v  float64
}

// rangeSeries accumulates the samples of one output series.
type rangeSeries struct {
	labels  logmodel.Labels
	key     string
	cells   []cell
	samples []rawSample
}

// rangeWorker is the state of one source worker in a range aggregation.
type rangeWorker struct {
	pipe   *pipeline
	series map[string]*rangeSeries
	key    []byte
	group  []logmodel.Label
}

// summable reports whether an aggregation only needs the sum of its
// samples per window.
func summable(e *RangeAggExpr) bool {
	switch e.Op {
	case RangeCount, RangeRate, RangeBytes, RangeBytesRate, RangeSum, RangeAbsent:
		return true
	}
	return false
}

// windowSteps returns the steps whose window (t-offset-range, t-offset]
// contains ts.
func (ev *evaluator) windowSteps(ts, offset, rng int64) (int, int, bool) {
	u := ts + offset - ev.start
	lo := ceilDiv(u, ev.step)
	hi := ceilDiv(u+rng, ev.step) - 1
	lo = max(lo, 0)
	hi = min(hi, int64(ev.n-1))
	return int(lo), int(hi), lo <= hi
}

func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a > 0 {
		q++
	}
	return q
}

// rangeAgg evaluates a range aggregation. group, when set, replaces the
// expression's grouping: a parent sum pushes its grouping down this way.
func (ev *evaluator) rangeAgg(e *RangeAggExpr, group *Grouping) (matrixValue, error) {
	if group == nil {
		group = e.Grouping
	}
	if e.Op == RangeAbsent {
		group = &Grouping{} // everything in one series
	}
	r := e.Range
	offset, rng := int64(r.Offset), int64(r.Range)
	filters, skip := pushdownFilters(r.Log.Pipeline)
	params := SelectParams{
		Matchers: r.Log.Matchers,
		Start:    ev.start - offset - rng + 1,
		End:      ev.ts(ev.n-1) - offset + 1,
		Filters:  filters,
	}
	var unwrapFilters []labelFilterFunc
	if r.Unwrap != nil {
		for _, f := range r.Unwrap.Filters {
			cf, err := compileLabelFilter(f)
			if err != nil {
				return nil, err
			}
			unwrapFilters = append(unwrapFilters, cf)
		}
	}
	// With a by() grouping, parsers only need the grouped labels and those
	// unwrap reads.
	var want labelHints
	if group != nil && !group.Without {
		want = labelHints{}
		for _, n := range group.Labels {
			want[n] = true
		}
		if r.Unwrap != nil {
			want[r.Unwrap.Label] = true
			for _, f := range r.Unwrap.Filters {
				addFilterLabels(want, f)
			}
		}
	}
	if _, err := newPipeline(r.Log.Pipeline, skip, want); err != nil {
		return nil, err
	}
	if c, ok := ev.e.src.(Counter); ok && countable(e) && ev.step > 0 {
		order, err := ev.countRange(c, e, group, params.Start, params.End)
		if err != nil {
			return nil, err
		}
		out := make(matrixValue, len(order))
		ev.parallel(len(order), func(scratch *[]float64, i int) {
			out[i] = ev.finishSeries(e, order[i], scratch)
		})
		return out.nonEmpty(), nil
	}
	sum := summable(e)
	workers := make([]*rangeWorker, max(ev.e.src.Workers(), 1))
	maxSeries := ev.e.cfg.MaxSeries
	err := ev.e.src.SelectLogs(ev.ctx, params, func(wi int, ent *Entry) error {
		if wi < 0 || wi >= len(workers) {
			return fmt.Errorf("BUG: source worker index %d out of range", wi)
		}
		w := workers[wi]
		if w == nil {
			p, err := newPipeline(r.Log.Pipeline, skip, want)
			if err != nil {
				return err
			}
			w = &rangeWorker{pipe: p, series: map[string]*rangeSeries{}}
			workers[wi] = w
		}
		lo, hi, ok := ev.windowSteps(ent.Timestamp, offset, rng)
		if !ok {
			return nil
		}
		line, ok := w.pipe.run(ent.Timestamp, ent.Line, ent.Labels, ent.Metadata)
		if !ok {
			return nil
		}
		lb := &w.pipe.lb
		v := 1.0
		switch {
		case r.Unwrap != nil:
			s, found := lb.get(r.Unwrap.Label)
			if !found || s == "" {
				return nil
			}
			var err error
			if v, err = convertSample(r.Unwrap.Conv, s); err != nil {
				v = 0
				lb.setErr(errSample, err.Error())
			}
			lb.del(r.Unwrap.Label)
			for _, f := range unwrapFilters {
				if !f(lb) {
					return nil
				}
			}
		case e.Op == RangeBytes || e.Op == RangeBytesRate:
			v = float64(len(line))
		}
		if lb.unwantedErr() {
			return &PipelineError{Labels: cloneLabels(lb.labels())}
		}
		var ls logmodel.Labels
		if group != nil {
			ls = w.groupLabels(lb, group)
		} else {
			ls = lb.labels()
		}
		w.key = appendKey(w.key[:0], ls)
		s, ok := w.series[string(w.key)]
		if !ok {
			if maxSeries > 0 && len(w.series) >= maxSeries {
				return errTooManySeries(maxSeries)
			}
			s = &rangeSeries{labels: cloneLabels(ls), key: string(w.key)}
			w.series[s.key] = s
		}
		if !sum {
			s.samples = append(s.samples, rawSample{ts: ent.Timestamp, v: v})
			return nil
		}
		if n := len(s.cells); n > 0 && s.cells[n-1].lo == lo && s.cells[n-1].hi == hi {
			s.cells[n-1].v += v
			return nil
		}
		s.cells = append(s.cells, cell{lo: lo, hi: hi, v: v})
		return nil
	})
	if err != nil {
		return nil, err
	}
	merged := map[string]*rangeSeries{}
	var order []*rangeSeries
	for _, w := range workers {
		if w == nil {
			continue
		}
		for k, s := range w.series {
			m, ok := merged[k]
			if !ok {
				merged[k] = s
				order = append(order, s)
				continue
			}
			m.cells = append(m.cells, s.cells...)
			m.samples = append(m.samples, s.samples...)
		}
	}
	if maxSeries > 0 && len(order) > maxSeries {
		return nil, errTooManySeries(maxSeries)
	}
	if e.Op == RangeAbsent {
		return ev.absent(e, order), nil
	}
	out := make(matrixValue, len(order))
	ev.parallel(len(order), func(scratch *[]float64, i int) {
		out[i] = ev.finishSeries(e, order[i], scratch)
	})
	return out.nonEmpty(), nil
}

func errTooManySeries(max int) error {
	return fmt.Errorf("%w: a range aggregation reached %d series; narrow the selector or aggregate with by()", ErrLimit, max)
}

// groupLabels returns the labels of an entry reduced by a grouping.
func (w *rangeWorker) groupLabels(lb *labelsBuilder, g *Grouping) logmodel.Labels {
	w.group = w.group[:0]
	if !g.Without {
		for _, n := range g.Labels {
			if v, ok := lb.get(n); ok && v != "" {
				w.group = append(w.group, logmodel.Label{Name: n, Value: v})
			}
		}
		// The error labels of a kept errored sample stay visible.
		for _, n := range [...]string{errorLabel, errorDetailsLabel} {
			if v, ok := lb.get(n); ok && !slices.Contains(g.Labels, n) {
				w.group = append(w.group, logmodel.Label{Name: n, Value: v})
			}
		}
		sortLabels(w.group)
		return dedupSorted(w.group)
	}
	for _, l := range lb.labels() {
		if !slices.Contains(g.Labels, l.Name) {
			w.group = append(w.group, l)
		}
	}
	return w.group
}

// dedupSorted drops repeated names from a sorted label slice.
func dedupSorted(ls []logmodel.Label) []logmodel.Label {
	out := ls[:0]
	for i, l := range ls {
		if i > 0 && l.Name == ls[i-1].Name {
			continue
		}
		out = append(out, l)
	}
	return out
}

// convertSample reads an unwrapped label value.
func convertSample(conv UnwrapConv, s string) (float64, error) {
	switch conv {
	case ConvDuration, ConvDurationSeconds:
		d, err := parseLabelDuration(s)
		return d.Seconds(), err
	case ConvBytes:
		b, err := parseBytes(s)
		if err != nil {
			return 0, fmt.Errorf("invalid byte size %q", s)
		}
		return float64(b), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid number %q", s)
	}
	return v, nil
}

// parallel runs fn(i) for i in [0, n) on up to GOMAXPROCS goroutines, each
// with its own scratch buffer.
func (ev *evaluator) parallel(n int, fn func(scratch *[]float64, i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var scratch []float64
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(&scratch, i)
			}
		}()
	}
	wg.Wait()
}

// finishSeries computes the points of one series.
func (ev *evaluator) finishSeries(e *RangeAggExpr, s *rangeSeries, scratch *[]float64) *evalSeries {
	out := &evalSeries{labels: s.labels, key: s.key}
	rangeSec := e.Range.Range.Seconds()
	if summable(e) {
		vals := *scratch
		if cap(vals) < 2*ev.n {
			vals = make([]float64, 2*ev.n)
		}
		vals = vals[:2*ev.n]
		clear(vals)
		sums, counts := vals[:ev.n], vals[ev.n:]
		for _, c := range s.cells {
			for i := c.lo; i <= c.hi; i++ {
				sums[i] += c.v
				counts[i]++
			}
		}
		for i := range ev.n {
			if counts[i] == 0 {
				continue
			}
			v := sums[i]
			if e.Op == RangeRate || e.Op == RangeBytesRate {
				v /= rangeSec
			}
			out.points = append(out.points, stepPoint{i: i, v: v})
		}
		*scratch = vals
		return out
	}
	samples := s.samples
	slices.SortStableFunc(samples, func(a, b rawSample) int {
		switch {
		case a.ts < b.ts:
			return -1
		case a.ts > b.ts:
			return 1
		}
		return 0
	})
	offset, rng := int64(e.Range.Offset), int64(e.Range.Range)
	lo, hi := 0, 0
	for i := range ev.n {
		end := ev.ts(i) - offset
		for hi < len(samples) && samples[hi].ts <= end {
			hi++
		}
		for lo < hi && samples[lo].ts <= end-rng {
			lo++
		}
		if lo == hi {
			continue
		}
		out.points = append(out.points, stepPoint{i: i, v: aggregateWindow(e, samples[lo:hi], end, scratch)})
	}
	return out
}

// aggregateWindow applies a non-summable range function to the samples of
// one window, in time order; end is the window's end.
func aggregateWindow(e *RangeAggExpr, w []rawSample, end int64, scratch *[]float64) float64 {
	switch e.Op {
	case RangeAvg:
		var sum float64
		for _, s := range w {
			sum += s.v
		}
		return sum / float64(len(w))
	case RangeMin:
		m := w[0].v
		for _, s := range w[1:] {
			if s.v < m || math.IsNaN(m) {
				m = s.v
			}
		}
		return m
	case RangeMax:
		m := w[0].v
		for _, s := range w[1:] {
			if s.v > m || math.IsNaN(m) {
				m = s.v
			}
		}
		return m
	case RangeFirst:
		return w[0].v
	case RangeLast:
		return w[len(w)-1].v
	case RangeStdvar, RangeStddev:
		var mean, m2 float64
		for i, s := range w {
			d := s.v - mean
			mean += d / float64(i+1)
			m2 += d * (s.v - mean)
		}
		v := m2 / float64(len(w))
		if e.Op == RangeStddev {
			return math.Sqrt(v)
		}
		return v
	case RangeQuantile:
		vals := (*scratch)[:0]
		for _, s := range w {
			vals = append(vals, s.v)
		}
		*scratch = vals
		return quantile(e.Param, vals)
	case RangeRateCtr:
		return counterRate(w, end-int64(e.Range.Range), end)
	}
	panic("BUG: unexpected range aggregation " + string(e.Op))
}

// quantile returns the φ-quantile of vals (sorted in place), interpolating
// linearly between ranks as Prometheus does.
func quantile(phi float64, vals []float64) float64 {
	switch {
	case len(vals) == 0 || math.IsNaN(phi):
		return math.NaN()
	case phi < 0:
		return math.Inf(-1)
	case phi > 1:
		return math.Inf(1)
	}
	slices.Sort(vals)
	rank := phi * float64(len(vals)-1)
	lower := math.Floor(rank)
	upper := math.Min(lower+1, float64(len(vals)-1))
	weight := rank - lower
	return vals[int(lower)]*(1-weight) + vals[int(upper)]*weight
}

// counterRate is Prometheus' extrapolated rate of a counter over the window
// (start, end]: resets are compensated and the increase is extrapolated to
// the window's edges when the samples come close to them.
func counterRate(w []rawSample, start, end int64) float64 {
	if len(w) < 2 {
		return math.NaN()
	}
	first, last := w[0], w[len(w)-1]
	result := last.v - first.v
	prev := first.v
	for _, s := range w[1:] {
		if s.v < prev {
			result += prev
		}
		prev = s.v
	}
	sampled := float64(last.ts-first.ts) / 1e9
	if sampled <= 0 {
		return math.NaN()
	}
	toStart := float64(first.ts-start) / 1e9
	toEnd := float64(end-last.ts) / 1e9
	avgGap := sampled / float64(len(w)-1)
	if result > 0 && first.v >= 0 {
		if toZero := sampled * (first.v / result); toZero < toStart {
			toStart = toZero
		}
	}
	threshold := avgGap * 1.1
	interval := sampled
	if toStart < threshold {
		interval += toStart
	} else {
		interval += avgGap / 2
	}
	if toEnd < threshold {
		interval += toEnd
	} else {
		interval += avgGap / 2
	}
	return result * (interval / sampled) / (float64(end-start) / 1e9)
}

// absent evaluates absent_over_time: 1 at the steps where no sample fell in
// the window, labelled with the selector's equality matchers.
func (ev *evaluator) absent(e *RangeAggExpr, series []*rangeSeries) matrixValue {
	present := make([]bool, ev.n)
	for _, s := range series {
		for _, c := range s.cells {
			for i := c.lo; i <= c.hi; i++ {
				present[i] = true
			}
		}
	}
	ls := absentLabels(e.Range.Log.Matchers)
	out := &evalSeries{labels: ls, key: string(appendKey(nil, ls))}
	for i, p := range present {
		if !p {
			out.points = append(out.points, stepPoint{i: i, v: 1})
		}
	}
	return matrixValue{out}.nonEmpty()
}

// absentLabels returns the labels set by equality matchers; a name matched
// more than once is left out.
func absentLabels(ms []logmodel.Matcher) logmodel.Labels {
	count := map[string]int{}
	for _, m := range ms {
		count[m.Name]++
	}
	ls := logmodel.Labels{}
	for _, m := range ms {
		if m.Type == logmodel.MatchEqual && count[m.Name] == 1 {
			ls = append(ls, logmodel.Label{Name: m.Name, Value: m.Value})
		}
	}
	sortLabels(ls)
	return ls
}
