package logql

import (
	"fmt"
	"math"
	"slices"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// arith applies an arithmetic operator.
func arith(op BinOp, a, b float64) float64 {
	switch op {
	case OpAdd:
		return a + b
	case OpSub:
		return a - b
	case OpMul:
		return a * b
	case OpDiv:
		return a / b
	case OpMod:
		return math.Mod(a, b)
	case OpPow:
		return math.Pow(a, b)
	}
	panic("BUG: not an arithmetic operator: " + string(op))
}

func compareOp(op BinOp, a, b float64) bool {
	switch op {
	case OpEq:
		return a == b
	case OpNe:
		return a != b
	case OpGt:
		return a > b
	case OpGe:
		return a >= b
	case OpLt:
		return a < b
	case OpLe:
		return a <= b
	}
	panic("BUG: not a comparison operator: " + string(op))
}

// elemOp applies op to one pair of values: the result and whether to keep
// it. Comparisons without bool keep the left value when true.
func elemOp(op BinOp, returnBool bool, a, b float64) (float64, bool) {
	if !op.isComparison() {
		return arith(op, a, b), true
	}
	ok := compareOp(op, a, b)
	if returnBool {
		if ok {
			return 1, true
		}
		return 0, true
	}
	return a, ok
}

func (ev *evaluator) binOp(e *BinOpExpr) (evalValue, error) {
	l, err := ev.eval(e.LHS)
	if err != nil {
		return evalValue{}, err
	}
	r, err := ev.eval(e.RHS)
	if err != nil {
		return evalValue{}, err
	}
	switch {
	case l.scalar && r.scalar:
		if e.Op.isComparison() {
			v, _ := elemOp(e.Op, true, l.v, r.v)
			return evalValue{scalar: true, v: v}, nil
		}
		return evalValue{scalar: true, v: arith(e.Op, l.v, r.v)}, nil
	case l.scalar || r.scalar:
		return evalValue{m: vectorScalar(e, l, r)}, nil
	}
	m, err := ev.vectorVector(e, l.m, r.m)
	return evalValue{m: m}, err
}

// vectorScalar applies op between each sample of the vector side and the
// scalar. A comparison keeps the vector's value.
func vectorScalar(e *BinOpExpr, l, r evalValue) matrixValue {
	vec, scalarLeft := l.m, l.scalar
	if scalarLeft {
		vec = r.m
	}
	var out matrixValue
	for _, s := range vec {
		o := &evalSeries{labels: s.labels, key: s.key}
		for _, p := range s.points {
			a, b := p.v, r.v
			if scalarLeft {
				a, b = l.v, p.v
			}
			v, keep := elemOp(e.Op, e.Bool, a, b)
			if !keep {
				continue
			}
			if e.Op.isComparison() && !e.Bool {
				v = p.v
			}
			o.points = append(o.points, stepPoint{i: p.i, v: v})
		}
		out = append(out, o)
	}
	return out.nonEmpty()
}

// matcher computes the match signature of label sets.
type sigFunc func(ls logmodel.Labels) string

func signature(m *VectorMatching) sigFunc {
	return func(ls logmodel.Labels) string {
		var buf []byte
		for _, l := range ls {
			if m == nil || slices.Contains(m.Labels, l.Name) == m.On {
				buf = appendKey(buf, []logmodel.Label{l})
			}
		}
		return string(buf)
	}
}

func (ev *evaluator) vectorVector(e *BinOpExpr, lhs, rhs matrixValue) (matrixValue, error) {
	sig := signature(e.Matching)
	sigs := map[*evalSeries]string{}
	for _, s := range lhs {
		sigs[s] = sig(s.labels)
	}
	for _, s := range rhs {
		sigs[s] = sig(s.labels)
	}
	ls, rs := lhs.byStep(ev.n), rhs.byStep(ev.n)
	out := newSeriesSet()
	for i := range ev.n {
		var err error
		if e.Op.isLogical() {
			setOp(e.Op, ls[i], rs[i], sigs, out, i)
		} else {
			err = matchOp(e, ls[i], rs[i], sigs, out, i)
		}
		if err != nil {
			return nil, err
		}
	}
	return out.order, nil
}

// setOp implements and, or and unless at one step.
func setOp(op BinOp, l, r []stepSample, sigs map[*evalSeries]string, out *seriesSet, i int) {
	rsig := map[string]bool{}
	for _, s := range r {
		rsig[sigs[s.s]] = true
	}
	lsig := map[string]bool{}
	for _, s := range l {
		lsig[sigs[s.s]] = true
		if op == OpOr || rsig[sigs[s.s]] == (op == OpAnd) {
			out.add(s.s.key, s.s.labels, i, s.v)
		}
	}
	if op == OpOr {
		for _, s := range r {
			if !lsig[sigs[s.s]] {
				out.add(s.s.key, s.s.labels, i, s.v)
			}
		}
	}
}

// matchOp implements arithmetic and comparisons between vectors at one
// step, with one-to-one, many-to-one or one-to-many matching.
func matchOp(e *BinOpExpr, l, r []stepSample, sigs map[*evalSeries]string, out *seriesSet, i int) error {
	card := OneToOne
	if e.Matching != nil {
		card = e.Matching.Card
	}
	many, one := l, r
	if card == OneToMany {
		many, one = r, l
	}
	oneBySig := map[string]stepSample{}
	for _, s := range one {
		sg := sigs[s.s]
		if prev, dup := oneBySig[sg]; dup {
			side := "right"
			if card == OneToMany {
				side = "left"
			}
			return fmt.Errorf("found duplicate series for the match group %s on the %s hand-side of the operation: [%s, %s]; many-to-many matching not allowed: matching labels must be unique on one side",
				sigLabels(s.s.labels, e.Matching), side, prev.s.labels, s.s.labels)
		}
		oneBySig[sg] = s
	}
	matched := map[string]bool{} // one-to-one: signatures already used on the many side
	seen := map[string]bool{}    // result label sets
	for _, m := range many {
		sg := sigs[m.s]
		o, ok := oneBySig[sg]
		if !ok {
			continue
		}
		if card == OneToOne {
			if matched[sg] {
				return fmt.Errorf("multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)")
			}
			matched[sg] = true
		}
		a, b := m.v, o.v
		if card == OneToMany {
			a, b = o.v, m.v
		}
		v, keep := elemOp(e.Op, e.Bool, a, b)
		if !keep {
			continue
		}
		ls := resultLabels(m.s.labels, o.s.labels, e.Matching, card)
		key := string(appendKey(nil, ls))
		if seen[key] {
			return fmt.Errorf("multiple matches for labels: grouping labels must ensure unique matches")
		}
		seen[key] = true
		out.add(key, ls, i, v)
	}
	return nil
}

// sigLabels renders the labels a match is made on, for errors.
func sigLabels(ls logmodel.Labels, m *VectorMatching) logmodel.Labels {
	var out logmodel.Labels
	for _, l := range ls {
		if m == nil || slices.Contains(m.Labels, l.Name) == m.On {
			out = append(out, l)
		}
	}
	return out
}

// resultLabels returns the labels of a matched result: those of the many
// side, reduced to the match labels for one-to-one matching with on (or
// without the ignored ones), plus the group_x labels of the one side.
func resultLabels(many, one logmodel.Labels, m *VectorMatching, card Cardinality) logmodel.Labels {
	if m == nil {
		return many
	}
	out := logmodel.Labels{}
	for _, l := range many {
		if card == OneToOne && slices.Contains(m.Labels, l.Name) != m.On {
			continue
		}
		if slices.Contains(m.Include, l.Name) {
			continue
		}
		out = append(out, l)
	}
	for _, name := range m.Include {
		if v := one.Get(name); v != "" {
			out = append(out, logmodel.Label{Name: name, Value: v})
		}
	}
	sortLabels(out)
	return dedupSorted(out)
}
