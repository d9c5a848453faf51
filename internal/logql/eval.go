package logql

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// stepPoint is a value at step i.
type stepPoint struct {
	i int
	v float64
}

// evalSeries is a series during evaluation: points at step indexes, in
// increasing order.
type evalSeries struct {
	labels logmodel.Labels
	key    string
	points []stepPoint
}

// matrixValue is the value of a vector expression at every step.
type matrixValue []*evalSeries

// nonEmpty drops series without points.
func (m matrixValue) nonEmpty() matrixValue {
	out := m[:0]
	for _, s := range m {
		if len(s.points) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// stepSample is one series' value at a step.
type stepSample struct {
	s *evalSeries
	v float64
}

// byStep returns the samples of every step.
func (m matrixValue) byStep(n int) [][]stepSample {
	steps := make([][]stepSample, n)
	for _, s := range m {
		for _, p := range s.points {
			steps[p.i] = append(steps[p.i], stepSample{s: s, v: p.v})
		}
	}
	return steps
}

// seriesSet builds output series by label set.
type seriesSet struct {
	byKey map[string]*evalSeries
	order matrixValue
}

func newSeriesSet() *seriesSet { return &seriesSet{byKey: map[string]*evalSeries{}} }

// add appends a point at step i to the series with labels ls, creating
// it. Steps must be added in increasing order.
func (ss *seriesSet) add(key string, ls logmodel.Labels, i int, v float64) {
	s, ok := ss.byKey[key]
	if !ok {
		s = &evalSeries{labels: ls, key: key}
		ss.byKey[key] = s
		ss.order = append(ss.order, s)
	}
	s.points = append(s.points, stepPoint{i: i, v: v})
}

// evalValue is a scalar or a vector at every step.
type evalValue struct {
	scalar bool
	v      float64
	m      matrixValue
}

// evaluator evaluates a metric expression at the steps start, start+step,
// ... (n steps).
type evaluator struct {
	e     *Engine
	ctx   context.Context
	start int64
	step  int64
	n     int
}

func (ev *evaluator) ts(i int) int64 { return ev.start + int64(i)*ev.step }

// QueryRange evaluates a metric query at start, start+step, ... up to end
// (Unix nanoseconds) and returns a Matrix; each range aggregation looks at
// the window (t-offset-range, t-offset] of each step t.
func (e *Engine) QueryRange(ctx context.Context, expr Expr, start, end int64, step time.Duration) (Value, error) {
	if !IsMetric(expr) {
		return nil, fmt.Errorf("%w: QueryRange needs a metric query; use QueryLogs for %s", ErrBadQuery, expr)
	}
	if step <= 0 {
		return nil, fmt.Errorf("%w: step must be positive", ErrBadQuery)
	}
	if end < start {
		return nil, fmt.Errorf("%w: end before start", ErrBadQuery)
	}
	if end-start < 0 {
		return nil, fmt.Errorf("%w: time range too large", ErrBadQuery)
	}
	n := (end-start)/int64(step) + 1
	if e.cfg.MaxPoints > 0 && n > int64(e.cfg.MaxPoints) {
		return nil, fmt.Errorf("%w: %d points per series exceed the maximum resolution of %d; increase the step", ErrLimit, n, e.cfg.MaxPoints)
	}
	ev := &evaluator{e: e, ctx: ctx, start: start, step: int64(step), n: int(n)}
	v, err := ev.eval(expr)
	if err != nil {
		return nil, err
	}
	if v.scalar {
		s := Series{Labels: logmodel.Labels{}, Points: make([]Point, ev.n)}
		for i := range s.Points {
			s.Points[i] = Point{T: ev.ts(i), V: v.v}
		}
		return Matrix{s}, nil
	}
	sortSeries(v.m)
	out := make(Matrix, len(v.m))
	for i, s := range v.m {
		out[i] = Series{Labels: s.labels, Points: make([]Point, len(s.points))}
		for j, p := range s.points {
			out[i].Points[j] = Point{T: ev.ts(p.i), V: p.v}
		}
	}
	return out, nil
}

// QueryInstant evaluates a metric query at ts and returns a Vector, or a
// Scalar for a query of numbers only.
func (e *Engine) QueryInstant(ctx context.Context, expr Expr, ts int64) (Value, error) {
	if !IsMetric(expr) {
		return nil, fmt.Errorf("%w: QueryInstant needs a metric query; use QueryLogs for %s", ErrBadQuery, expr)
	}
	ev := &evaluator{e: e, ctx: ctx, start: ts, step: 1, n: 1}
	v, err := ev.eval(expr)
	if err != nil {
		return nil, err
	}
	if v.scalar {
		return Scalar{T: ts, V: v.v}, nil
	}
	sortSeries(v.m)
	out := make(Vector, 0, len(v.m))
	for _, s := range v.m {
		for _, p := range s.points {
			out = append(out, Sample{Labels: s.labels, T: ts, V: p.v})
		}
	}
	if agg, ok := expr.(*VectorAggExpr); ok {
		switch agg.Op {
		case VecSort, VecBottomK:
			sort.SliceStable(out, func(i, j int) bool { return lessValue(out[i].V, out[j].V) })
		case VecSortDesc, VecTopK:
			sort.SliceStable(out, func(i, j int) bool { return lessValue(out[j].V, out[i].V) })
		}
	}
	return out, nil
}

// lessValue orders values with NaN first.
func lessValue(a, b float64) bool { return a < b || (math.IsNaN(a) && !math.IsNaN(b)) }

func sortSeries(m matrixValue) {
	sort.Slice(m, func(i, j int) bool { return m[i].key < m[j].key })
}

func (ev *evaluator) eval(e Expr) (evalValue, error) {
	if err := ev.ctx.Err(); err != nil {
		return evalValue{}, err
	}
	switch e := e.(type) {
	case *NumberExpr:
		return evalValue{scalar: true, v: e.Value}, nil
	case *VectorExpr:
		s := &evalSeries{labels: logmodel.Labels{}, points: make([]stepPoint, ev.n)}
		for i := range s.points {
			s.points[i] = stepPoint{i: i, v: e.Value}
		}
		return evalValue{m: matrixValue{s}}, nil
	case *RangeAggExpr:
		m, err := ev.rangeAgg(e, nil)
		return evalValue{m: m}, err
	case *VectorAggExpr:
		m, err := ev.vectorAgg(e)
		return evalValue{m: m}, err
	case *BinOpExpr:
		return ev.binOp(e)
	case *LabelReplaceExpr:
		m, err := ev.labelReplace(e)
		return evalValue{m: m}, err
	}
	return evalValue{}, fmt.Errorf("%w: %s is not a metric expression", ErrBadQuery, e)
}

// evalVector evaluates an expression the parser typed as a vector.
func (ev *evaluator) evalVector(e Expr) (matrixValue, error) {
	v, err := ev.eval(e)
	if err == nil && v.scalar {
		err = fmt.Errorf("BUG: %s evaluated to a scalar", e)
	}
	return v.m, err
}

// group is one output group of a vector aggregation at one step.
type group struct {
	labels  logmodel.Labels
	key     string
	n       int
	v       float64
	mean    float64
	m2      float64
	samples []stepSample // topk, bottomk
}

func (ev *evaluator) vectorAgg(e *VectorAggExpr) (matrixValue, error) {
	var in matrixValue
	var err error
	if ra, ok := e.Expr.(*RangeAggExpr); ok && e.Op == VecSum && ra.Grouping == nil && summable(ra) && ra.Op != RangeAbsent {
		// sum of a summable range aggregation: group while scanning.
		g := e.Grouping
		if g == nil {
			g = &Grouping{}
		}
		in, err = ev.rangeAgg(ra, g)
	} else {
		in, err = ev.evalVector(e.Expr)
	}
	if err != nil {
		return nil, err
	}
	switch e.Op {
	case VecSort, VecSortDesc:
		return in, nil
	}
	// The group of each input series, computed once.
	groupOf := make(map[*evalSeries]int, len(in))
	var groups []*group
	byKey := map[string]int{}
	for _, s := range in {
		ls := groupLabels(s.labels, e.Grouping)
		key := string(appendKey(nil, ls))
		gi, ok := byKey[key]
		if !ok {
			gi = len(groups)
			byKey[key] = gi
			groups = append(groups, &group{labels: ls, key: key})
		}
		groupOf[s] = gi
	}
	out := newSeriesSet()
	var touched []int
	for i, samples := range in.byStep(ev.n) {
		touched = touched[:0]
		for _, smp := range samples {
			gi := groupOf[smp.s]
			g := groups[gi]
			if g.n == 0 {
				touched = append(touched, gi)
			}
			g.add(e.Op, smp)
		}
		for _, gi := range touched {
			g := groups[gi]
			if e.Op == VecTopK || e.Op == VecBottomK {
				for _, smp := range g.top(e.Op, int(e.Param)) {
					out.add(smp.s.key, smp.s.labels, i, smp.v)
				}
			} else {
				out.add(g.key, g.labels, i, g.result(e.Op))
			}
			*g = group{labels: g.labels, key: g.key, samples: g.samples[:0]}
		}
	}
	return out.order, nil
}

func (g *group) add(op VectorOp, s stepSample) {
	g.n++
	switch op {
	case VecSum:
		g.v += s.v
	case VecMin:
		if g.n == 1 || s.v < g.v || math.IsNaN(g.v) {
			g.v = s.v
		}
	case VecMax:
		if g.n == 1 || s.v > g.v || math.IsNaN(g.v) {
			g.v = s.v
		}
	case VecAvg, VecStddev, VecStdvar:
		d := s.v - g.mean
		g.mean += d / float64(g.n)
		g.m2 += d * (s.v - g.mean)
	case VecTopK, VecBottomK:
		g.samples = append(g.samples, s)
	}
}

func (g *group) result(op VectorOp) float64 {
	switch op {
	case VecCount:
		return float64(g.n)
	case VecAvg:
		return g.mean
	case VecStdvar:
		return g.m2 / float64(g.n)
	case VecStddev:
		return math.Sqrt(g.m2 / float64(g.n))
	}
	return g.v
}

// top returns the k largest (topk) or smallest (bottomk) samples; NaN
// values come last either way.
func (g *group) top(op VectorOp, k int) []stepSample {
	slices.SortStableFunc(g.samples, func(a, b stepSample) int {
		an, bn := math.IsNaN(a.v), math.IsNaN(b.v)
		switch {
		case an || bn:
			return boolCmp(an, bn)
		case a.v == b.v:
			return strings.Compare(a.s.key, b.s.key)
		case (a.v > b.v) == (op == VecTopK):
			return -1
		}
		return 1
	})
	return g.samples[:min(k, len(g.samples))]
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// groupLabels reduces labels by a grouping; no grouping drops them all.
func groupLabels(ls logmodel.Labels, g *Grouping) logmodel.Labels {
	out := logmodel.Labels{}
	if g == nil {
		return out
	}
	for _, l := range ls {
		if slices.Contains(g.Labels, l.Name) != g.Without {
			out = append(out, l)
		}
	}
	return out
}

func (ev *evaluator) labelReplace(e *LabelReplaceExpr) (matrixValue, error) {
	in, err := ev.evalVector(e.Expr)
	if err != nil {
		return nil, err
	}
	re, err := compileAnchored(e.Regex)
	if err != nil {
		return nil, err
	}
	byKey := map[string]*evalSeries{}
	var out matrixValue
	for _, s := range in {
		ls := s.labels
		src := ls.Get(e.Src)
		if m := re.FindStringSubmatchIndex(src); m != nil {
			v := string(re.ExpandString(nil, e.Replacement, src, m))
			ls = setLabel(ls, e.Dst, v)
		}
		key := string(appendKey(nil, ls))
		o, ok := byKey[key]
		if !ok {
			o = &evalSeries{labels: ls, key: key}
			byKey[key] = o
			out = append(out, o)
		}
		o.points = append(o.points, s.points...)
	}
	for _, s := range out {
		slices.SortFunc(s.points, func(a, b stepPoint) int { return a.i - b.i })
		for j := 1; j < len(s.points); j++ {
			if s.points[j].i == s.points[j-1].i {
				return nil, fmt.Errorf("label_replace: vector cannot contain metrics with the same labelset %s", s.labels)
			}
		}
	}
	return out, nil
}

// setLabel returns a copy of ls with name set to v, or removed when v is "".
func setLabel(ls logmodel.Labels, name, v string) logmodel.Labels {
	out := make(logmodel.Labels, 0, len(ls)+1)
	for _, l := range ls {
		if l.Name != name {
			out = append(out, l)
		}
	}
	if v != "" {
		out = append(out, logmodel.Label{Name: name, Value: v})
		sortLabels(out)
	}
	return out
}
