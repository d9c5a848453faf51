package logql

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// stage is one compiled pipeline step. process returns the (possibly new)
// line and whether the entry is kept; a returned line is valid until the
// stage's next call. Stages belong to one worker and are never shared.
type stage interface {
	process(ts int64, line []byte, lb *labelsBuilder) ([]byte, bool)
}

// pipeline runs the stages of one log expression for one worker.
type pipeline struct {
	stages []stage
	lb     labelsBuilder
}

// run processes one entry; when it returns true, the final line is returned
// and p.lb holds the labels.
func (p *pipeline) run(ts int64, line []byte, stream, meta logmodel.Labels) ([]byte, bool) {
	p.lb.reset(stream, meta)
	for _, s := range p.stages {
		var ok bool
		if line, ok = s.process(ts, line, &p.lb); !ok {
			return nil, false
		}
	}
	return line, true
}

// newPipeline compiles stages for one worker, leaving out those whose index
// is set in skip (line filters the source already applied). out is the set
// of labels the caller reads after the pipeline (nil for all of them).
func newPipeline(stages []Stage, skip []bool, out labelHints) (*pipeline, error) {
	hints := stageHints(stages, out)
	p := &pipeline{}
	for i, s := range stages {
		if i < len(skip) && skip[i] {
			continue
		}
		cs, err := compileStage(s, hints[i])
		if err != nil {
			return nil, err
		}
		p.stages = append(p.stages, cs)
	}
	return p, nil
}

// stageHints returns, for each stage, the labels that the stages after it
// and the caller use.
func stageHints(stages []Stage, out labelHints) []labelHints {
	hints := make([]labelHints, len(stages))
	need := out
	for i := len(stages) - 1; i >= 0; i-- {
		hints[i] = need
		if need == nil {
			continue
		}
		next := labelHints{}
		for n := range need {
			next[n] = true
		}
		switch s := stages[i].(type) {
		case *LineFormat:
			next = nil // a template may read any label
		case *LabelFormat:
			for _, it := range s.Items {
				if !it.Rename {
					next = nil
					break
				}
				next[it.Dst], next[it.Src] = true, true
			}
		case *DropLabels:
			addRefs(next, s.Labels)
		case *KeepLabels:
			addRefs(next, s.Labels)
		case *LabelFilterStage:
			addFilterLabels(next, s.Filter)
		}
		need = next
	}
	return hints
}

func addRefs(h labelHints, refs []LabelRef) {
	for _, r := range refs {
		h[r.Name] = true
	}
}

// addFilterLabels adds the labels a label filter reads.
func addFilterLabels(h labelHints, f LabelFilter) {
	switch f := f.(type) {
	case *MatcherFilter:
		h[f.Matcher.Name] = true
	case *NumericFilter:
		h[f.Name] = true
	case *DurationFilter:
		h[f.Name] = true
	case *BytesFilter:
		h[f.Name] = true
	case *IPFilter:
		h[f.Name] = true
	case *BinaryFilter:
		addFilterLabels(h, f.Left)
		addFilterLabels(h, f.Right)
	}
}

func compileStage(s Stage, hints labelHints) (stage, error) {
	switch s := s.(type) {
	case *LineFilterExpr:
		return compileLineFilter(s)
	case *JSONParser:
		return newJSONParser(s.Fields, hints)
	case *LogfmtParser:
		return newLogfmtParser(s, hints), nil
	case *PatternParser:
		pat, err := compilePattern(s.Pattern, true)
		if err != nil {
			return nil, err
		}
		return &patternStage{pat: pat}, nil
	case *RegexpParser:
		return compileRegexpParser(s.Regexp)
	case *UnpackParser:
		return &unpackStage{}, nil
	case *LineFormat:
		return newLineFormat(s.Template)
	case *LabelFormat:
		return newLabelFormat(s)
	case *DropLabels:
		return newDropKeep(s.Labels, false)
	case *KeepLabels:
		return newDropKeep(s.Labels, true)
	case *Decolorize:
		return &decolorizeStage{}, nil
	case *LabelFilterStage:
		f, err := compileLabelFilter(s.Filter)
		if err != nil {
			return nil, err
		}
		return labelFilterStage{f}, nil
	}
	return nil, fmt.Errorf("BUG: unknown stage %T", s)
}

// lineFilterStage keeps lines that match any value (or, negated, none).
type lineFilterStage struct {
	matchers []func([]byte) bool
	negate   bool
}

func compileLineFilter(f *LineFilterExpr) (stage, error) {
	st := &lineFilterStage{negate: f.Op.negated()}
	for _, v := range f.Values {
		m, err := compileLineFilterValue(f.Op, v)
		if err != nil {
			return nil, err
		}
		st.matchers = append(st.matchers, m)
	}
	return st, nil
}

func (f *lineFilterStage) process(_ int64, line []byte, _ *labelsBuilder) ([]byte, bool) {
	for _, m := range f.matchers {
		if m(line) {
			return line, !f.negate
		}
	}
	return line, f.negate
}

// lineRegexp compiles a line filter regular expression: not anchored, and
// "." matches newlines so that multi-line entries can be searched.
func lineRegexp(re string) string { return "(?s)" + re }

// compileLineFilterValue returns the positive test of one line filter operand.
func compileLineFilterValue(op LineFilterOp, v LineFilterValue) (func([]byte) bool, error) {
	if v.IP {
		m, err := parseIPPattern(v.Value)
		if err != nil {
			return nil, err
		}
		return m.matchLine, nil
	}
	switch op {
	case LineContains, LineNotContains:
		needle := []byte(v.Value)
		return func(line []byte) bool { return bytes.Contains(line, needle) }, nil
	case LineMatch, LineNotMatch:
		re, err := regexp.Compile(lineRegexp(v.Value))
		if err != nil {
			return nil, fmt.Errorf("invalid line filter regular expression: %w", err)
		}
		return re.Match, nil
	}
	pat, err := compilePattern(v.Value, false)
	if err != nil {
		return nil, err
	}
	return pat.matchWhole, nil
}

// compileMatcher readies a matcher to run, naming it in the error of a bad
// regular expression.
func compileMatcher(m logmodel.Matcher) (*logmodel.CompiledMatcher, error) {
	cm, err := m.Compile()
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression in matcher %s: %w", m.Name, errors.Unwrap(err))
	}
	return cm, nil
}

// compileAnchored compiles a fully anchored regular expression.
func compileAnchored(expr string) (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + expr + ")$")
}

// labelFilterFunc tests the labels of an entry; it may set a pipeline error.
type labelFilterFunc func(lb *labelsBuilder) bool

type labelFilterStage struct{ f labelFilterFunc }

func (s labelFilterStage) process(_ int64, line []byte, lb *labelsBuilder) ([]byte, bool) {
	return line, s.f(lb)
}

func compileLabelFilter(f LabelFilter) (labelFilterFunc, error) {
	switch f := f.(type) {
	case *MatcherFilter:
		m, err := compileMatcher(f.Matcher)
		if err != nil {
			return nil, err
		}
		if m.Name == errorLabel {
			// A filter that accepts an error asks to keep the errored
			// entries: metric queries then count them.
			return func(lb *labelsBuilder) bool {
				ok := m.Matches(lb.err)
				if ok && lb.err != "" {
					lb.preserved = lb.err
				}
				return ok
			}, nil
		}
		return func(lb *labelsBuilder) bool {
			v, _ := lb.get(m.Name)
			return m.Matches(v)
		}, nil
	case *NumericFilter:
		return numericFilter(f.Name, f.Op, f.Value, func(s string) (float64, error) {
			return strconv.ParseFloat(s, 64)
		}), nil
	case *DurationFilter:
		return numericFilter(f.Name, f.Op, float64(f.Value), func(s string) (float64, error) {
			d, err := parseLabelDuration(s)
			return float64(d), err
		}), nil
	case *BytesFilter:
		return numericFilter(f.Name, f.Op, float64(f.Value), func(s string) (float64, error) {
			b, err := parseBytes(s)
			return float64(b), err
		}), nil
	case *IPFilter:
		m, err := parseIPPattern(f.Pattern)
		if err != nil {
			return nil, err
		}
		return func(lb *labelsBuilder) bool {
			v, ok := lb.get(f.Name)
			return ok && m.matchString(v) != f.Negate
		}, nil
	case *BinaryFilter:
		l, err := compileLabelFilter(f.Left)
		if err != nil {
			return nil, err
		}
		r, err := compileLabelFilter(f.Right)
		if err != nil {
			return nil, err
		}
		if f.And {
			return func(lb *labelsBuilder) bool { return l(lb) && r(lb) }, nil
		}
		if readsError(f.Right) {
			// Both sides run, so that a filter on __error__ on the right
			// can keep an errored entry that the left one admits.
			return func(lb *labelsBuilder) bool {
				lok := l(lb)
				return r(lb) || lok
			}, nil
		}
		return func(lb *labelsBuilder) bool { return l(lb) || r(lb) }, nil
	}
	return nil, fmt.Errorf("BUG: unknown label filter %T", f)
}

// readsError reports whether a filter tests __error__.
func readsError(f LabelFilter) bool {
	switch f := f.(type) {
	case *MatcherFilter:
		return f.Matcher.Name == errorLabel
	case *BinaryFilter:
		return readsError(f.Left) || readsError(f.Right)
	}
	return false
}

// numericFilter compares a label converted by conv. As in Loki, an entry
// that already has an error passes (only string filters can drop errors), a
// missing label fails, and a conversion failure passes with LabelFilterErr.
func numericFilter(name string, op CmpOp, want float64, conv func(string) (float64, error)) labelFilterFunc {
	return func(lb *labelsBuilder) bool {
		if lb.hasErr() {
			return true
		}
		v, ok := lb.get(name)
		if !ok {
			return false
		}
		got, err := conv(v)
		if err != nil {
			lb.setErr(errLabelFilter, err.Error())
			return true
		}
		return op.compare(got, want)
	}
}

// parseLabelDuration reads a label value as a duration: Go syntax, plus the
// d, w and y units.
func parseLabelDuration(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	d, err := parseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	return d, nil
}

// dropKeepStage implements drop and keep.
type dropKeepStage struct {
	names    []string
	matchers []*logmodel.CompiledMatcher // nil for a bare name
	keep     bool
	scratch  []logmodel.Label
}

func newDropKeep(refs []LabelRef, keep bool) (stage, error) {
	s := &dropKeepStage{keep: keep}
	for _, r := range refs {
		var cm *logmodel.CompiledMatcher
		if r.Matcher != nil {
			var err error
			if cm, err = compileMatcher(*r.Matcher); err != nil {
				return nil, err
			}
		}
		s.names = append(s.names, r.Name)
		s.matchers = append(s.matchers, cm)
	}
	return s, nil
}

// selects reports whether the stage names label l.
func (s *dropKeepStage) selects(name, value string) bool {
	for i, n := range s.names {
		if n == name && (s.matchers[i] == nil || s.matchers[i].Matches(value)) {
			return true
		}
	}
	return false
}

func (s *dropKeepStage) process(_ int64, line []byte, lb *labelsBuilder) ([]byte, bool) {
	if !s.keep {
		for _, n := range s.names {
			if v, ok := lb.get(n); ok && s.selects(n, v) {
				lb.del(n)
			}
		}
		return line, true
	}
	s.scratch = append(s.scratch[:0], lb.cur...)
	for _, l := range s.scratch {
		if !s.selects(l.Name, l.Value) {
			lb.del(l.Name)
		}
	}
	return line, true
}

// decolorizeStage removes ANSI escape sequences (CSI and two-byte ESC forms).
type decolorizeStage struct{ buf []byte }

func (s *decolorizeStage) process(_ int64, line []byte, _ *labelsBuilder) ([]byte, bool) {
	if bytes.IndexByte(line, 0x1b) < 0 {
		return line, true
	}
	out := s.buf[:0]
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c != 0x1b || i+1 >= len(line) {
			out = append(out, c)
			continue
		}
		if line[i+1] != '[' {
			i++ // ESC and one byte
			continue
		}
		j := i + 2
		for j < len(line) && line[j] >= 0x20 && line[j] <= 0x3f {
			j++
		}
		if j < len(line) && line[j] >= 0x40 && line[j] <= 0x7e {
			i = j
			continue
		}
		out = append(out, line[i:j]...)
		i = j - 1
	}
	s.buf = out
	return out, true
}
