package logql

import (
	"fmt"
	"math"
	"strconv"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// maxDepth bounds the nesting of a query so that a hostile one cannot
// exhaust the stack.
const maxDepth = 200

// ParseExpr parses a LogQL query. Every syntax error is a *ParseError; the
// regular expressions, patterns and templates in the query are checked here.
func ParseExpr(s string) (Expr, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{src: s, toks: toks}
	e, err := p.parseExpr(0)
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tokEOF {
		return nil, p.unexpected("end of input")
	}
	return e, nil
}

// IsMetric reports whether e is a metric query (as opposed to a log query).
func IsMetric(e Expr) bool {
	_, isLog := e.(*LogExpr)
	return !isLog
}

type parser struct {
	src   string
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.i] }

// peekAt returns the token n places ahead, or EOF.
func (p *parser) peekAt(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) errAt(pos int, format string, args ...any) error {
	return newParseError(p.src, pos, fmt.Sprintf(format, args...))
}

// unexpected reports the current token, saying what was expected instead.
func (p *parser) unexpected(expecting string) error {
	t := p.peek()
	return p.errAt(t.pos, "syntax error: unexpected %s, expecting %s", t.describe(), expecting)
}

func (p *parser) expect(k tokKind) (token, error) {
	if p.peek().kind != k {
		return token{}, p.unexpected(k.String())
	}
	return p.next(), nil
}

func (p *parser) isIdent(name string) bool {
	t := p.peek()
	return t.kind == tokIdent && t.text == name
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.errAt(p.peek().pos, "syntax error: query nested too deeply")
	}
	return nil
}

// exprType is the static type of an expression.
type exprType uint8

const (
	typeLog exprType = iota
	typeVector
	typeScalar
)

func typeOf(e Expr) exprType {
	switch e := e.(type) {
	case *LogExpr:
		return typeLog
	case *NumberExpr:
		return typeScalar
	case *BinOpExpr:
		if typeOf(e.LHS) == typeScalar && typeOf(e.RHS) == typeScalar {
			return typeScalar
		}
	}
	return typeVector
}

// binOpAt returns the binary operator at the current token, if any.
func (p *parser) binOpAt() (BinOp, bool) {
	t := p.peek()
	switch t.kind {
	case tokAdd:
		return OpAdd, true
	case tokSub:
		return OpSub, true
	case tokMul:
		return OpMul, true
	case tokDiv:
		return OpDiv, true
	case tokMod:
		return OpMod, true
	case tokPow:
		return OpPow, true
	case tokEqEq:
		return OpEq, true
	case tokNeq:
		return OpNe, true
	case tokGt:
		return OpGt, true
	case tokGte:
		return OpGe, true
	case tokLt:
		return OpLt, true
	case tokLte:
		return OpLe, true
	case tokIdent:
		switch t.text {
		case "and":
			return OpAnd, true
		case "or":
			return OpOr, true
		case "unless":
			return OpUnless, true
		}
	}
	return "", false
}

// parseExpr parses binary operations whose operators bind at least as
// strongly as minPrec (precedence climbing).
func (p *parser) parseExpr(minPrec int) (Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	lhs, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for {
		op, ok := p.binOpAt()
		if !ok || op.precedence() < minPrec {
			return lhs, nil
		}
		opTok := p.next()
		be := &BinOpExpr{Op: op, LHS: lhs}
		if p.isIdent("bool") {
			if !op.isComparison() {
				return nil, p.errAt(p.peek().pos, "syntax error: bool modifier is only allowed on comparison operators")
			}
			p.next()
			be.Bool = true
		}
		if be.Matching, err = p.parseMatching(op); err != nil {
			return nil, err
		}
		next := op.precedence() + 1
		if op == OpPow {
			next = op.precedence() // right-associative
		}
		if be.RHS, err = p.parseExpr(next); err != nil {
			return nil, err
		}
		if err := checkBinOp(be); err != nil {
			return nil, p.errAt(opTok.pos, "%s", err)
		}
		lhs = be
	}
}

func checkBinOp(be *BinOpExpr) error {
	lt, rt := typeOf(be.LHS), typeOf(be.RHS)
	if lt == typeLog || rt == typeLog {
		return fmt.Errorf("binary operation %q needs metric operands, not a log query", be.Op)
	}
	if be.Op.isLogical() && (lt != typeVector || rt != typeVector) {
		return fmt.Errorf("set operator %q is only allowed between vectors", be.Op)
	}
	if be.Matching != nil && (lt != typeVector || rt != typeVector) {
		return fmt.Errorf("vector matching is only allowed between vectors")
	}
	return nil
}

// parseMatching reads on/ignoring (...) [group_left|group_right [(...)]].
func (p *parser) parseMatching(op BinOp) (*VectorMatching, error) {
	if !p.isIdent("on") && !p.isIdent("ignoring") {
		if p.isIdent("group_left") || p.isIdent("group_right") {
			return nil, p.errAt(p.peek().pos, "syntax error: %s needs on or ignoring before it", p.peek().text)
		}
		return nil, nil
	}
	m := &VectorMatching{On: p.next().text == "on"}
	var err error
	if m.Labels, err = p.parseLabelList(); err != nil {
		return nil, err
	}
	if p.isIdent("group_left") || p.isIdent("group_right") {
		t := p.next()
		if op.isLogical() {
			return nil, p.errAt(t.pos, "syntax error: no grouping allowed for %q operation", op)
		}
		m.Card = ManyToOne
		if t.text == "group_right" {
			m.Card = OneToMany
		}
		if p.peek().kind == tokLParen {
			if m.Include, err = p.parseLabelList(); err != nil {
				return nil, err
			}
		}
		for _, l := range m.Include {
			for _, o := range m.Labels {
				if m.On && l == o {
					return nil, p.errAt(t.pos, "label %q must not occur in ON and GROUP clause at once", l)
				}
			}
		}
	}
	return m, nil
}

// parseLabelList reads "(" [name {"," name} [","]] ")"; an empty list is nil.
func (p *parser) parseLabelList() ([]string, error) {
	if _, err := p.expect(tokLParen); err != nil {
		return nil, err
	}
	var names []string
	for p.peek().kind != tokRParen {
		t, err := p.expect(tokIdent)
		if err != nil {
			return nil, err
		}
		names = append(names, t.text)
		if p.peek().kind == tokComma {
			p.next()
			continue
		}
		if p.peek().kind != tokRParen {
			return nil, p.unexpected(", or )")
		}
	}
	p.next()
	return names, nil
}

func (p *parser) parseUnary() (Expr, error) {
	t := p.peek()
	switch t.kind {
	case tokAdd, tokSub, tokNumber:
		v, err := p.parseSignedNumber()
		if err != nil {
			return nil, err
		}
		return &NumberExpr{Value: v}, nil
	case tokLParen:
		p.next()
		e, err := p.parseExpr(0)
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tokRParen); err != nil {
			return nil, err
		}
		return e, nil
	case tokLBrace:
		return p.parseLogExpr(false)
	case tokIdent:
		if p.peekAt(1).kind == tokLParen || p.peekAt(1).kind == tokIdent {
			switch {
			case isRangeOp(t.text):
				return p.parseRangeAgg()
			case isVectorOp(t.text):
				return p.parseVectorAgg()
			case t.text == "vector" && p.peekAt(1).kind == tokLParen:
				return p.parseVector()
			case t.text == "label_replace" && p.peekAt(1).kind == tokLParen:
				return p.parseLabelReplace()
			}
		}
	}
	return nil, p.unexpected("selector, aggregation, function or number")
}

// parseSignedNumber reads a number with an optional sign.
func (p *parser) parseSignedNumber() (float64, error) {
	neg := false
	if k := p.peek().kind; k == tokAdd || k == tokSub {
		neg = p.next().kind == tokSub
	}
	t, err := p.expect(tokNumber)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseFloat(t.text, 64)
	if err != nil {
		return 0, p.errAt(t.pos, "syntax error: number %s out of range", t.text)
	}
	if neg {
		v = -v
	}
	return v, nil
}

func isRangeOp(s string) bool {
	switch RangeOp(s) {
	case RangeCount, RangeRate, RangeRateCtr, RangeBytes, RangeBytesRate, RangeAbsent, RangeSum,
		RangeAvg, RangeMin, RangeMax, RangeFirst, RangeLast, RangeStdvar, RangeStddev, RangeQuantile:
		return true
	}
	return false
}

func isVectorOp(s string) bool {
	switch VectorOp(s) {
	case VecSum, VecAvg, VecMin, VecMax, VecStddev, VecStdvar, VecCount, VecTopK, VecBottomK, VecSort, VecSortDesc:
		return true
	}
	return false
}

func (p *parser) parseGrouping() (*Grouping, error) {
	g := &Grouping{Without: p.next().text == "without"}
	var err error
	g.Labels, err = p.parseLabelList()
	return g, err
}

func (p *parser) isGroupingKeyword() bool { return p.isIdent("by") || p.isIdent("without") }

func (p *parser) parseRangeAgg() (Expr, error) {
	opTok := p.next()
	e := &RangeAggExpr{Op: RangeOp(opTok.text)}
	if _, err := p.expect(tokLParen); err != nil {
		return nil, err
	}
	if e.Op == RangeQuantile {
		v, err := p.parseSignedNumber()
		if err != nil {
			return nil, err
		}
		e.Param = v
		if _, err := p.expect(tokComma); err != nil {
			return nil, err
		}
	}
	r, err := p.parseLogRange()
	if err != nil {
		return nil, err
	}
	e.Range = r
	if _, err := p.expect(tokRParen); err != nil {
		return nil, err
	}
	if p.isGroupingKeyword() {
		if e.Grouping, err = p.parseGrouping(); err != nil {
			return nil, err
		}
	}
	if err := checkRangeAgg(e); err != nil {
		return nil, p.errAt(opTok.pos, "%s", err)
	}
	return e, nil
}

func checkRangeAgg(e *RangeAggExpr) error {
	switch e.Op {
	case RangeCount, RangeBytes, RangeBytesRate:
		if e.Range.Unwrap != nil {
			return fmt.Errorf("invalid aggregation %s with unwrap", e.Op)
		}
	case RangeRate, RangeAbsent:
	default:
		if e.Range.Unwrap == nil {
			return fmt.Errorf("invalid aggregation %s without unwrap", e.Op)
		}
	}
	if e.Grouping != nil && e.Op == RangeAbsent {
		return fmt.Errorf("grouping not allowed for %s aggregation", e.Op)
	}
	return nil
}

// parseLogRange reads a log expression with its range and offset: the
// range may follow the selector or the pipeline.
func (p *parser) parseLogRange() (*LogRange, error) {
	r := &LogRange{}
	if p.peek().kind == tokLParen {
		// A parenthesized log expression: ({...} | ...)[5m].
		p.next()
		inner, err := p.parseLogRangeNoRange()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tokRParen); err != nil {
			return nil, err
		}
		r = inner
		if err := p.parseRangeAndOffset(r); err != nil {
			return nil, err
		}
		return r, nil
	}
	if p.peek().kind != tokLBrace {
		return nil, p.unexpected("{")
	}
	sel, err := p.parseSelector()
	if err != nil {
		return nil, err
	}
	r.Log = &LogExpr{Matchers: sel}
	hasRange := p.peek().kind == tokLBracket
	if hasRange {
		if err := p.parseRangeAndOffset(r); err != nil {
			return nil, err
		}
	}
	if r.Log.Pipeline, r.Unwrap, err = p.parsePipeline(true); err != nil {
		return nil, err
	}
	if !hasRange {
		if err := p.parseRangeAndOffset(r); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (p *parser) parseLogRangeNoRange() (*LogRange, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	if p.peek().kind == tokLParen {
		p.next()
		r, err := p.parseLogRangeNoRange()
		if err != nil {
			return nil, err
		}
		_, err = p.expect(tokRParen)
		return r, err
	}
	if p.peek().kind != tokLBrace {
		return nil, p.unexpected("{")
	}
	sel, err := p.parseSelector()
	if err != nil {
		return nil, err
	}
	r := &LogRange{Log: &LogExpr{Matchers: sel}}
	r.Log.Pipeline, r.Unwrap, err = p.parsePipeline(true)
	return r, err
}

func (p *parser) parseRangeAndOffset(r *LogRange) error {
	if _, err := p.expect(tokLBracket); err != nil {
		return err
	}
	t, err := p.expect(tokDuration)
	if err != nil {
		return err
	}
	d, _ := parseDuration(t.text) // the lexer checked it
	if d <= 0 {
		return p.errAt(t.pos, "syntax error: range must be positive")
	}
	r.Range = d
	if _, err := p.expect(tokRBracket); err != nil {
		return err
	}
	if p.isIdent("offset") {
		p.next()
		neg := false
		if p.peek().kind == tokSub {
			p.next()
			neg = true
		}
		t, err := p.expect(tokDuration)
		if err != nil {
			return err
		}
		d, _ := parseDuration(t.text)
		if neg {
			d = -d
		}
		r.Offset = d
	}
	return nil
}

func (p *parser) parseVectorAgg() (Expr, error) {
	opTok := p.next()
	e := &VectorAggExpr{Op: VectorOp(opTok.text)}
	var err error
	if p.isGroupingKeyword() {
		if e.Grouping, err = p.parseGrouping(); err != nil {
			return nil, err
		}
	}
	if _, err := p.expect(tokLParen); err != nil {
		return nil, err
	}
	if e.Op == VecTopK || e.Op == VecBottomK {
		t := p.peek()
		v, err := p.parseSignedNumber()
		if err != nil {
			return nil, err
		}
		if v < 1 || v != math.Trunc(v) || v > math.MaxInt32 {
			return nil, p.errAt(t.pos, "syntax error: %s parameter must be a positive integer, not %s", e.Op, formatFloat(v))
		}
		e.Param = v
		if _, err := p.expect(tokComma); err != nil {
			return nil, err
		}
	}
	if e.Expr, err = p.parseExpr(0); err != nil {
		return nil, err
	}
	if _, err := p.expect(tokRParen); err != nil {
		return nil, err
	}
	if p.isGroupingKeyword() {
		if e.Grouping != nil {
			return nil, p.errAt(p.peek().pos, "syntax error: grouping given twice")
		}
		if e.Grouping, err = p.parseGrouping(); err != nil {
			return nil, err
		}
	}
	if e.Grouping != nil && (e.Op == VecSort || e.Op == VecSortDesc) {
		return nil, p.errAt(opTok.pos, "syntax error: grouping not allowed for %s", e.Op)
	}
	if typeOf(e.Expr) != typeVector {
		return nil, p.errAt(opTok.pos, "syntax error: %s expects a vector (a metric query), not a %s", e.Op, typeName(typeOf(e.Expr)))
	}
	return e, nil
}

func typeName(t exprType) string {
	switch t {
	case typeLog:
		return "log query"
	case typeScalar:
		return "scalar"
	}
	return "vector"
}

func (p *parser) parseVector() (Expr, error) {
	p.next()
	p.next() // (
	v, err := p.parseSignedNumber()
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tokRParen); err != nil {
		return nil, err
	}
	return &VectorExpr{Value: v}, nil
}

func (p *parser) parseLabelReplace() (Expr, error) {
	fn := p.next()
	p.next() // (
	inner, err := p.parseExpr(0)
	if err != nil {
		return nil, err
	}
	if typeOf(inner) != typeVector {
		return nil, p.errAt(fn.pos, "syntax error: label_replace expects a vector, not a %s", typeName(typeOf(inner)))
	}
	e := &LabelReplaceExpr{Expr: inner}
	for _, dst := range []*string{&e.Dst, &e.Replacement, &e.Src, &e.Regex} {
		if _, err := p.expect(tokComma); err != nil {
			return nil, err
		}
		t, err := p.expect(tokString)
		if err != nil {
			return nil, err
		}
		*dst = t.text
	}
	if _, err := p.expect(tokRParen); err != nil {
		return nil, err
	}
	if !isLabelName(e.Dst) {
		return nil, p.errAt(fn.pos, "invalid destination label name in label_replace(): %q", e.Dst)
	}
	if _, err := compileAnchored(e.Regex); err != nil {
		return nil, p.errAt(fn.pos, "invalid regular expression in label_replace(): %s", err)
	}
	return e, nil
}

// parseSelector reads {matcher, ...}.
func (p *parser) parseSelector() ([]logmodel.Matcher, error) {
	open, err := p.expect(tokLBrace)
	if err != nil {
		return nil, err
	}
	var ms []logmodel.Matcher
	for p.peek().kind != tokRBrace {
		m, err := p.parseMatcher()
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
		if p.peek().kind == tokComma {
			p.next()
			continue
		}
		if p.peek().kind != tokRBrace {
			return nil, p.unexpected(", or }")
		}
	}
	p.next()
	nonEmpty := false
	for _, m := range ms {
		if !matchesEmpty(m) {
			nonEmpty = true
		}
	}
	if !nonEmpty {
		return nil, p.errAt(open.pos, "queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will")
	}
	return ms, nil
}

func matchesEmpty(m logmodel.Matcher) bool {
	switch m.Type {
	case logmodel.MatchEqual:
		return m.Value == ""
	case logmodel.MatchNotEqual:
		return m.Value != ""
	}
	cm, err := compileMatcher(m)
	return err != nil || cm.Matches("")
}

// parseMatcher reads name op "value" with a string operator.
func (p *parser) parseMatcher() (logmodel.Matcher, error) {
	name, err := p.expect(tokIdent)
	if err != nil {
		return logmodel.Matcher{}, err
	}
	var t logmodel.MatchType
	switch p.peek().kind {
	case tokEq:
		t = logmodel.MatchEqual
	case tokNeq:
		t = logmodel.MatchNotEqual
	case tokRe:
		t = logmodel.MatchRegexp
	case tokNre:
		t = logmodel.MatchNotRegexp
	default:
		return logmodel.Matcher{}, p.unexpected("=, !=, =~ or !~")
	}
	p.next()
	v, err := p.expect(tokString)
	if err != nil {
		return logmodel.Matcher{}, err
	}
	m := logmodel.Matcher{Type: t, Name: name.text, Value: v.text}
	if _, err := compileMatcher(m); err != nil {
		return logmodel.Matcher{}, p.errAt(v.pos, "%s", err)
	}
	return m, nil
}

// parseLogExpr reads a log query: a selector and its pipeline.
func (p *parser) parseLogExpr(allowUnwrap bool) (Expr, error) {
	sel, err := p.parseSelector()
	if err != nil {
		return nil, err
	}
	e := &LogExpr{Matchers: sel}
	if e.Pipeline, _, err = p.parsePipeline(allowUnwrap); err != nil {
		return nil, err
	}
	return e, nil
}
