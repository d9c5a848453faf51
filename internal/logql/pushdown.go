package logql

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// Pushdown returns what a store can use to skip data for e: the stream
// matchers and the line filters every needed entry passes. When e holds
// several selectors (a binary operation), only the matchers and filters
// common to all of them are returned. The engine passes the same filters to
// Source.SelectLogs, one selector at a time.
func Pushdown(e Expr) ([]logmodel.Matcher, []logmodel.LineFilter) {
	var logs []*LogExpr
	walkLogExprs(e, func(le *LogExpr) { logs = append(logs, le) })
	if len(logs) == 0 {
		return nil, nil
	}
	matchers := logs[0].Matchers
	filters, _ := pushdownFilters(logs[0].Pipeline)
	for _, le := range logs[1:] {
		matchers = intersect(matchers, le.Matchers)
		f, _ := pushdownFilters(le.Pipeline)
		filters = intersect(filters, f)
	}
	return matchers, filters
}

func intersect[T comparable](a, b []T) []T {
	var out []T
	for _, x := range a {
		for _, y := range b {
			if x == y {
				out = append(out, x)
				break
			}
		}
	}
	return out
}

// walkLogExprs calls fn for each log expression in e.
func walkLogExprs(e Expr, fn func(*LogExpr)) {
	switch e := e.(type) {
	case *LogExpr:
		fn(e)
	case *RangeAggExpr:
		fn(e.Range.Log)
	case *VectorAggExpr:
		walkLogExprs(e.Expr, fn)
	case *BinOpExpr:
		walkLogExprs(e.LHS, fn)
		walkLogExprs(e.RHS, fn)
	case *LabelReplaceExpr:
		walkLogExprs(e.Expr, fn)
	}
}

// pushdownFilters returns the line filters of a pipeline that a source can
// apply, and marks the stages they replace. A line filter can move to the
// source when no stage before it changes the line.
func pushdownFilters(stages []Stage) ([]logmodel.LineFilter, []bool) {
	skip := make([]bool, len(stages))
	var out []logmodel.LineFilter
	for i, s := range stages {
		switch s := s.(type) {
		case *LineFormat, *UnpackParser, *Decolorize:
			return out, skip
		case *LineFilterExpr:
			if fs, ok := sourceFilters(s); ok {
				out = append(out, fs...)
				skip[i] = true
			}
		}
	}
	return out, skip
}

// sourceFilters translates a line filter for the source, if it can be.
func sourceFilters(f *LineFilterExpr) ([]logmodel.LineFilter, bool) {
	for _, v := range f.Values {
		if v.IP {
			return nil, false
		}
	}
	var res []string
	switch f.Op {
	case LineContains, LineNotContains:
		if len(f.Values) == 1 || f.Op == LineNotContains {
			out := make([]logmodel.LineFilter, len(f.Values))
			for i, v := range f.Values {
				out[i] = logmodel.LineFilter{Type: logmodel.LineContains, Value: v.Value}
				if f.Op == LineNotContains {
					out[i].Type = logmodel.LineNotContains
				}
			}
			return out, true
		}
		for _, v := range f.Values {
			if !utf8.ValidString(v.Value) {
				return nil, false
			}
			res = append(res, regexp.QuoteMeta(v.Value))
		}
	case LineMatch, LineNotMatch:
		for _, v := range f.Values {
			res = append(res, "(?:"+v.Value+")")
		}
	default:
		for _, v := range f.Values {
			re, ok := patternRegexp(v.Value)
			if !ok {
				return nil, false
			}
			res = append(res, re)
		}
	}
	typ := logmodel.LineRegexp
	if f.Op.negated() {
		typ = logmodel.LineNotRegexp
	}
	if typ == logmodel.LineNotRegexp {
		out := make([]logmodel.LineFilter, len(res))
		for i, r := range res {
			out[i] = logmodel.LineFilter{Type: typ, Value: lineRegexp(r)}
		}
		return out, true
	}
	return []logmodel.LineFilter{{Type: typ, Value: lineRegexp(strings.Join(res, "|"))}}, true
}

// patternRegexp returns a regular expression equivalent to a |> pattern.
func patternRegexp(s string) (string, bool) {
	if !utf8.ValidString(s) {
		return "", false
	}
	p, err := compilePattern(s, false)
	if err != nil {
		return "", false
	}
	var b strings.Builder
	b.WriteString("^")
	for _, part := range p.parts {
		if part.isCapture() {
			b.WriteString(".*")
		} else {
			b.WriteString(regexp.QuoteMeta(string(part.lit)))
		}
	}
	b.WriteString("$")
	return b.String(), true
}
