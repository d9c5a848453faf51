package logql

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// Expr is a parsed LogQL query: a *LogExpr (a log query) or one of the
// metric expressions *RangeAggExpr, *VectorAggExpr, *BinOpExpr,
// *NumberExpr, *VectorExpr and *LabelReplaceExpr. String renders canonical
// LogQL that ParseExpr reads back to an equal Expr.
type Expr interface {
	fmt.Stringer
	isExpr()
}

// matcherString renders a matcher in canonical LogQL.
func matcherString(m logmodel.Matcher) string { return m.Name + m.Type.String() + quote(m.Value) }

// LogExpr is a stream selector followed by a log pipeline; on its own it is a
// log query.
type LogExpr struct {
	// Matchers select streams; all must match.
	Matchers []logmodel.Matcher
	// Pipeline runs on each entry, left to right.
	Pipeline []Stage
}

func (*LogExpr) isExpr() {}

// String renders the LogExpr in canonical LogQL.
func (e *LogExpr) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, m := range e.Matchers {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(matcherString(m))
	}
	b.WriteByte('}')
	for _, s := range e.Pipeline {
		b.WriteByte(' ')
		b.WriteString(s.String())
	}
	return b.String()
}

// Stage is one step of a log pipeline: *LineFilterExpr, *JSONParser,
// *LogfmtParser, *PatternParser, *RegexpParser, *UnpackParser, *LineFormat,
// *LabelFormat, *DropLabels, *KeepLabels, *Decolorize or *LabelFilterStage.
type Stage interface {
	fmt.Stringer
	isStage()
}

// LineFilterOp is the operator of a line filter.
type LineFilterOp uint8

// The line filter operators.
const (
	LineContains    LineFilterOp = iota // |=
	LineNotContains                     // !=
	LineMatch                           // |~ (not anchored; "." matches newlines)
	LineNotMatch                        // !~
	LinePattern                         // |> (a pattern with <_> wildcards matching the whole line)
	LineNotPattern                      // !>
)

// String returns the operator as written in LogQL.
func (op LineFilterOp) String() string {
	return [...]string{"|=", "!=", "|~", "!~", "|>", "!>"}[op]
}

func (op LineFilterOp) negated() bool {
	return op == LineNotContains || op == LineNotMatch || op == LineNotPattern
}

// LineFilterExpr keeps or drops lines by their content. With several values
// (|= "a" or "b") a positive filter keeps lines matching any value and a
// negative one drops lines matching any value.
type LineFilterExpr struct {
	Op     LineFilterOp
	Values []LineFilterValue
}

// LineFilterValue is one operand of a line filter: text, a regular
// expression or a pattern by the operator, or with IP set an ip("...")
// address, range or CIDR matched against the addresses in the line.
type LineFilterValue struct {
	Value string
	IP    bool
}

func (*LineFilterExpr) isStage() {}

// String renders the LineFilterExpr in canonical LogQL.
func (f *LineFilterExpr) String() string {
	var b strings.Builder
	b.WriteString(f.Op.String())
	for i, v := range f.Values {
		if i > 0 {
			b.WriteString(" or")
		}
		b.WriteByte(' ')
		if v.IP {
			b.WriteString("ip(" + quote(v.Value) + ")")
		} else {
			b.WriteString(quote(v.Value))
		}
	}
	return b.String()
}

// ParserField is one explicit extraction of the json and logfmt parsers:
// label="path", or a bare label when Path is empty (the label's own name).
type ParserField struct {
	Label string
	Path  string
}

func writeFields(b *strings.Builder, fields []ParserField) {
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte(' ')
		b.WriteString(f.Label)
		if f.Path != "" {
			b.WriteString("=" + quote(f.Path))
		}
	}
}

// JSONParser extracts labels from a JSON line: every scalar field, nested
// objects flattened with "_", or only Fields when set.
type JSONParser struct{ Fields []ParserField }

func (*JSONParser) isStage() {}

// String renders the JSONParser in canonical LogQL.
func (p *JSONParser) String() string {
	var b strings.Builder
	b.WriteString("| json")
	writeFields(&b, p.Fields)
	return b.String()
}

// LogfmtParser extracts labels from a logfmt line. Strict stops at the
// first malformed pair with an error; KeepEmpty keeps keys without values.
type LogfmtParser struct {
	Strict    bool
	KeepEmpty bool
	Fields    []ParserField
}

func (*LogfmtParser) isStage() {}

// String renders the LogfmtParser in canonical LogQL.
func (p *LogfmtParser) String() string {
	var b strings.Builder
	b.WriteString("| logfmt")
	if p.Strict {
		b.WriteString(" --strict")
	}
	if p.KeepEmpty {
		b.WriteString(" --keep-empty")
	}
	writeFields(&b, p.Fields)
	return b.String()
}

// PatternParser extracts labels with a pattern such as `<ip> - <_> "<method> <path>"`.
type PatternParser struct{ Pattern string }

func (*PatternParser) isStage() {}

// String renders the PatternParser in canonical LogQL.
func (p *PatternParser) String() string { return "| pattern " + quote(p.Pattern) }

// RegexpParser extracts the named groups of a regular expression.
type RegexpParser struct{ Regexp string }

func (*RegexpParser) isStage() {}

// String renders the RegexpParser in canonical LogQL.
func (p *RegexpParser) String() string { return "| regexp " + quote(p.Regexp) }

// UnpackParser extracts the string fields of a JSON line packed by Promtail
// and replaces the line with its "_entry" field.
type UnpackParser struct{}

func (*UnpackParser) isStage() {}

// String renders the UnpackParser in canonical LogQL.
func (*UnpackParser) String() string { return "| unpack" }

// LineFormat rewrites the line with a Go text/template.
type LineFormat struct{ Template string }

func (*LineFormat) isStage() {}

// String renders the LineFormat in canonical LogQL.
func (f *LineFormat) String() string { return "| line_format " + quote(f.Template) }

// LabelFormatItem sets label Dst: to the value of label Src when Rename is
// set (dropping Src), else to the result of the template Src.
type LabelFormatItem struct {
	Dst    string
	Src    string
	Rename bool
}

// LabelFormat renames, adds or rewrites labels.
type LabelFormat struct{ Items []LabelFormatItem }

func (*LabelFormat) isStage() {}

// String renders the LabelFormat in canonical LogQL.
func (f *LabelFormat) String() string {
	var b strings.Builder
	b.WriteString("| label_format")
	for i, it := range f.Items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(" " + it.Dst + "=")
		if it.Rename {
			b.WriteString(it.Src)
		} else {
			b.WriteString(quote(it.Src))
		}
	}
	return b.String()
}

// LabelRef names a label for drop and keep: a bare Name, or with Matcher set
// the label only when its value matches.
type LabelRef struct {
	Name    string
	Matcher *logmodel.Matcher
}

func writeLabelRefs(b *strings.Builder, refs []LabelRef) {
	for i, r := range refs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte(' ')
		if r.Matcher != nil {
			b.WriteString(matcherString(*r.Matcher))
		} else {
			b.WriteString(r.Name)
		}
	}
}

// DropLabels removes labels.
type DropLabels struct{ Labels []LabelRef }

func (*DropLabels) isStage() {}

// String renders the DropLabels in canonical LogQL.
func (d *DropLabels) String() string {
	var b strings.Builder
	b.WriteString("| drop")
	writeLabelRefs(&b, d.Labels)
	return b.String()
}

// KeepLabels removes every label but those listed (and the error labels).
type KeepLabels struct{ Labels []LabelRef }

func (*KeepLabels) isStage() {}

// String renders the KeepLabels in canonical LogQL.
func (k *KeepLabels) String() string {
	var b strings.Builder
	b.WriteString("| keep")
	writeLabelRefs(&b, k.Labels)
	return b.String()
}

// Decolorize removes ANSI color sequences from the line.
type Decolorize struct{}

func (*Decolorize) isStage() {}

// String renders the Decolorize in canonical LogQL.
func (*Decolorize) String() string { return "| decolorize" }

// LabelFilterStage keeps the entries whose labels pass Filter.
type LabelFilterStage struct{ Filter LabelFilter }

func (*LabelFilterStage) isStage() {}

// String renders the LabelFilterStage in canonical LogQL.
func (s *LabelFilterStage) String() string { return "| " + s.Filter.String() }

// LabelFilter is a predicate on labels: *MatcherFilter, *NumericFilter,
// *DurationFilter, *BytesFilter, *IPFilter or *BinaryFilter.
type LabelFilter interface {
	fmt.Stringer
	isLabelFilter()
}

// CmpOp is a numeric comparison.
type CmpOp uint8

// The numeric comparisons.
const (
	CmpEq CmpOp = iota // == (or =)
	CmpNe              // !=
	CmpGt              // >
	CmpGe              // >=
	CmpLt              // <
	CmpLe              // <=
)

// String returns the operator as written in LogQL.
func (op CmpOp) String() string { return [...]string{"==", "!=", ">", ">=", "<", "<="}[op] }

func (op CmpOp) compare(a, b float64) bool {
	switch op {
	case CmpEq:
		return a == b
	case CmpNe:
		return a != b
	case CmpGt:
		return a > b
	case CmpGe:
		return a >= b
	case CmpLt:
		return a < b
	}
	return a <= b
}

// MatcherFilter compares a label as a string.
type MatcherFilter struct{ Matcher logmodel.Matcher }

func (*MatcherFilter) isLabelFilter() {}

// String renders the MatcherFilter in canonical LogQL.
func (f *MatcherFilter) String() string { return matcherString(f.Matcher) }

// NumericFilter compares a label read as a float64.
type NumericFilter struct {
	Name  string
	Op    CmpOp
	Value float64
}

func (*NumericFilter) isLabelFilter() {}

// String renders the NumericFilter in canonical LogQL.
func (f *NumericFilter) String() string {
	return f.Name + " " + f.Op.String() + " " + formatFloat(f.Value)
}

// DurationFilter compares a label read as a duration ("1.5s", "2h45m").
type DurationFilter struct {
	Name  string
	Op    CmpOp
	Value time.Duration
}

func (*DurationFilter) isLabelFilter() {}

// String renders the DurationFilter in canonical LogQL.
func (f *DurationFilter) String() string {
	return f.Name + " " + f.Op.String() + " " + formatDuration(f.Value)
}

// BytesFilter compares a label read as a byte size ("20MB", "1.5KiB").
type BytesFilter struct {
	Name  string
	Op    CmpOp
	Value uint64
}

func (*BytesFilter) isLabelFilter() {}

// String renders the BytesFilter in canonical LogQL.
func (f *BytesFilter) String() string {
	return f.Name + " " + f.Op.String() + " " + formatBytes(f.Value)
}

// IPFilter keeps labels holding an IP address within Pattern (an address,
// a range "a-b" or a CIDR); Negate inverts it.
type IPFilter struct {
	Name    string
	Negate  bool
	Pattern string
}

func (*IPFilter) isLabelFilter() {}

// String renders the IPFilter in canonical LogQL.
func (f *IPFilter) String() string {
	op := "="
	if f.Negate {
		op = "!="
	}
	return f.Name + op + "ip(" + quote(f.Pattern) + ")"
}

// BinaryFilter combines two filters with "and" or "or". Chains associate to
// the left with no precedence between "and" and "or", as in Loki.
type BinaryFilter struct {
	And         bool
	Left, Right LabelFilter
}

func (*BinaryFilter) isLabelFilter() {}

// String renders the BinaryFilter in canonical LogQL.
func (f *BinaryFilter) String() string {
	op := " or "
	if f.And {
		op = " and "
	}
	right := f.Right.String()
	if _, ok := f.Right.(*BinaryFilter); ok {
		right = "(" + right + ")"
	}
	return f.Left.String() + op + right
}

// UnwrapConv converts an unwrapped label value to a sample value.
type UnwrapConv uint8

// The unwrap conversions.
const (
	ConvFloat           UnwrapConv = iota // unwrap x: a float
	ConvDuration                          // unwrap duration(x): seconds
	ConvDurationSeconds                   // unwrap duration_seconds(x): seconds
	ConvBytes                             // unwrap bytes(x): bytes
)

// Unwrap takes sample values from a label; Filters are label filters after
// the unwrap, which may drop conversion errors.
type Unwrap struct {
	Label   string
	Conv    UnwrapConv
	Filters []LabelFilter
}

// String renders the Unwrap in canonical LogQL.
func (u *Unwrap) String() string {
	s := "| unwrap "
	switch u.Conv {
	case ConvDuration:
		s += "duration(" + u.Label + ")"
	case ConvDurationSeconds:
		s += "duration_seconds(" + u.Label + ")"
	case ConvBytes:
		s += "bytes(" + u.Label + ")"
	default:
		s += u.Label
	}
	for _, f := range u.Filters {
		s += " | " + f.String()
	}
	return s
}

// LogRange is the argument of a range aggregation: a log expression, its
// optional unwrap, the range and the offset.
type LogRange struct {
	Log    *LogExpr
	Unwrap *Unwrap
	Range  time.Duration
	Offset time.Duration
}

// String renders the LogRange in canonical LogQL.
func (r *LogRange) String() string {
	var b strings.Builder
	b.WriteString(r.Log.String())
	if r.Unwrap != nil {
		b.WriteByte(' ')
		b.WriteString(r.Unwrap.String())
	}
	if len(r.Log.Pipeline) > 0 || r.Unwrap != nil {
		b.WriteByte(' ')
	}
	b.WriteString("[" + formatDuration(r.Range) + "]")
	if r.Offset != 0 {
		b.WriteString(" offset " + formatDuration(r.Offset))
	}
	return b.String()
}

// Grouping is a by (...) or without (...) clause.
type Grouping struct {
	Without bool
	Labels  []string
}

// String renders the Grouping in canonical LogQL.
func (g *Grouping) String() string {
	kw := "by"
	if g.Without {
		kw = "without"
	}
	return kw + " (" + strings.Join(g.Labels, ", ") + ")"
}

// RangeOp is a range aggregation function.
type RangeOp string

// The range aggregation functions.
const (
	RangeCount     RangeOp = "count_over_time"
	RangeRate      RangeOp = "rate"
	RangeRateCtr   RangeOp = "rate_counter"
	RangeBytes     RangeOp = "bytes_over_time"
	RangeBytesRate RangeOp = "bytes_rate"
	RangeAbsent    RangeOp = "absent_over_time"
	RangeSum       RangeOp = "sum_over_time"
	RangeAvg       RangeOp = "avg_over_time"
	RangeMin       RangeOp = "min_over_time"
	RangeMax       RangeOp = "max_over_time"
	RangeFirst     RangeOp = "first_over_time"
	RangeLast      RangeOp = "last_over_time"
	RangeStdvar    RangeOp = "stdvar_over_time"
	RangeStddev    RangeOp = "stddev_over_time"
	RangeQuantile  RangeOp = "quantile_over_time"
)

// RangeAggExpr applies a function to each window of a log range.
type RangeAggExpr struct {
	Op RangeOp
	// Param is φ of quantile_over_time.
	Param    float64
	Range    *LogRange
	Grouping *Grouping
}

func (*RangeAggExpr) isExpr() {}

// String renders the RangeAggExpr in canonical LogQL.
func (e *RangeAggExpr) String() string {
	s := string(e.Op) + "("
	if e.Op == RangeQuantile {
		s += formatFloat(e.Param) + ", "
	}
	s += e.Range.String() + ")"
	if e.Grouping != nil {
		s += " " + e.Grouping.String()
	}
	return s
}

// VectorOp is a vector aggregation operator.
type VectorOp string

// The vector aggregation operators.
const (
	VecSum      VectorOp = "sum"
	VecAvg      VectorOp = "avg"
	VecMin      VectorOp = "min"
	VecMax      VectorOp = "max"
	VecStddev   VectorOp = "stddev"
	VecStdvar   VectorOp = "stdvar"
	VecCount    VectorOp = "count"
	VecTopK     VectorOp = "topk"
	VecBottomK  VectorOp = "bottomk"
	VecSort     VectorOp = "sort"
	VecSortDesc VectorOp = "sort_desc"
)

// VectorAggExpr aggregates the samples of a vector at each step.
type VectorAggExpr struct {
	Op VectorOp
	// Param is k of topk and bottomk.
	Param    float64
	Expr     Expr
	Grouping *Grouping
}

func (*VectorAggExpr) isExpr() {}

// String renders the VectorAggExpr in canonical LogQL.
func (e *VectorAggExpr) String() string {
	s := string(e.Op)
	if e.Grouping != nil {
		s += " " + e.Grouping.String() + " "
	}
	s += "("
	if e.Op == VecTopK || e.Op == VecBottomK {
		s += formatFloat(e.Param) + ", "
	}
	return s + e.Expr.String() + ")"
}

// BinOp is a binary operator.
type BinOp string

// The binary operators.
const (
	OpAdd    BinOp = "+"
	OpSub    BinOp = "-"
	OpMul    BinOp = "*"
	OpDiv    BinOp = "/"
	OpMod    BinOp = "%"
	OpPow    BinOp = "^"
	OpEq     BinOp = "=="
	OpNe     BinOp = "!="
	OpGt     BinOp = ">"
	OpGe     BinOp = ">="
	OpLt     BinOp = "<"
	OpLe     BinOp = "<="
	OpAnd    BinOp = "and"
	OpOr     BinOp = "or"
	OpUnless BinOp = "unless"
)

// precedence returns the binding strength of op, as in PromQL.
func (op BinOp) precedence() int {
	switch op {
	case OpOr:
		return 1
	case OpAnd, OpUnless:
		return 2
	case OpEq, OpNe, OpGt, OpGe, OpLt, OpLe:
		return 3
	case OpAdd, OpSub:
		return 4
	case OpMul, OpDiv, OpMod:
		return 5
	}
	return 6 // ^
}

func (op BinOp) isComparison() bool { return op.precedence() == 3 }

func (op BinOp) isLogical() bool { return op == OpAnd || op == OpOr || op == OpUnless }

// Cardinality says which side of a vector match may have several series.
type Cardinality uint8

// The match cardinalities.
const (
	OneToOne  Cardinality = iota
	ManyToOne             // group_left
	OneToMany             // group_right
)

// VectorMatching is the on/ignoring and group_left/group_right modifier of
// a binary operation.
type VectorMatching struct {
	// On matches on Labels only; otherwise on all labels but Labels.
	On      bool
	Labels  []string
	Card    Cardinality
	Include []string
}

// String renders the VectorMatching in canonical LogQL.
func (m *VectorMatching) String() string {
	kw := "ignoring"
	if m.On {
		kw = "on"
	}
	s := kw + " (" + strings.Join(m.Labels, ", ") + ")"
	switch m.Card {
	case ManyToOne:
		s += " group_left"
	case OneToMany:
		s += " group_right"
	}
	if len(m.Include) > 0 {
		s += " (" + strings.Join(m.Include, ", ") + ")"
	}
	return s
}

// BinOpExpr is a binary operation between two metric expressions.
type BinOpExpr struct {
	Op       BinOp
	LHS, RHS Expr
	// Bool makes a comparison return 0 or 1 instead of filtering.
	Bool     bool
	Matching *VectorMatching
}

func (*BinOpExpr) isExpr() {}

// String renders the BinOpExpr in canonical LogQL.
func (e *BinOpExpr) String() string {
	p := e.Op.precedence()
	s := wrapOperand(e.LHS, p, e.Op == OpPow) + " " + string(e.Op)
	if e.Bool {
		s += " bool"
	}
	if e.Matching != nil {
		s += " " + e.Matching.String()
	}
	return s + " " + wrapOperand(e.RHS, p, e.Op != OpPow)
}

// wrapOperand parenthesizes a binary operand that would otherwise bind
// differently; sameNeedsParens is set on the side where an operator of equal
// precedence must be wrapped (the right for left-associative operators).
func wrapOperand(e Expr, p int, sameNeedsParens bool) string {
	if b, ok := e.(*BinOpExpr); ok {
		if q := b.Op.precedence(); q < p || (q == p && sameNeedsParens) {
			return "(" + b.String() + ")"
		}
	}
	return e.String()
}

// NumberExpr is a number literal, a scalar.
type NumberExpr struct{ Value float64 }

func (*NumberExpr) isExpr() {}

// String renders the NumberExpr in canonical LogQL.
func (e *NumberExpr) String() string { return formatFloat(e.Value) }

// VectorExpr is vector(s): a vector of one sample without labels.
type VectorExpr struct{ Value float64 }

func (*VectorExpr) isExpr() {}

// String renders the VectorExpr in canonical LogQL.
func (e *VectorExpr) String() string { return "vector(" + formatFloat(e.Value) + ")" }

// LabelReplaceExpr is label_replace(v, dst, replacement, src, regex).
type LabelReplaceExpr struct {
	Expr        Expr
	Dst         string
	Replacement string
	Src         string
	Regex       string
}

func (*LabelReplaceExpr) isExpr() {}

// String renders the LabelReplaceExpr in canonical LogQL.
func (e *LabelReplaceExpr) String() string {
	return "label_replace(" + e.Expr.String() + ", " + quote(e.Dst) + ", " + quote(e.Replacement) +
		", " + quote(e.Src) + ", " + quote(e.Regex) + ")"
}

// quote renders s as a LogQL string: in backticks when that avoids escapes
// and s has no control characters, else double-quoted with Go escapes.
func quote(s string) string {
	if strings.ContainsAny(s, "\\\"") && !strings.Contains(s, "`") && utf8.ValidString(s) {
		raw := true
		for _, r := range s {
			if r < 0x20 || r == 0x7f || !strconv.IsPrint(r) {
				raw = false
				break
			}
		}
		if raw {
			return "`" + s + "`"
		}
	}
	return strconv.Quote(s)
}
