package logql

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"text/template/parse"
	"time"
	"unicode"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// maxTemplateOutput caps the strings that repeat, indent and the align
// functions may build, so that a query cannot exhaust memory.
const maxTemplateOutput = 1 << 20

var errTemplateTooLarge = errors.New("template output too large")

// templateState is what the functions of one worker's templates read: the
// current line and timestamp, and compiled regular expressions.
type templateState struct {
	line    []byte
	ts      int64
	regexps map[string]*regexp.Regexp
}

func (st *templateState) regexp(expr string) (*regexp.Regexp, error) {
	if re, ok := st.regexps[expr]; ok {
		return re, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	if st.regexps == nil || len(st.regexps) > 64 {
		st.regexps = map[string]*regexp.Regexp{}
	}
	st.regexps[expr] = re
	return re, nil
}

// parseTemplate parses a line_format or label_format template with the
// LogQL functions bound to st. A missing label renders as "".
func parseTemplate(text string, st *templateState) (*template.Template, error) {
	t, err := template.New("").Option("missingkey=zero").Funcs(templateFuncs(st)).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("invalid template: %w", err)
	}
	return t, nil
}

// templateFuncNames holds the names of the template functions, built-in
// ones included, for checking templates without binding them.
var templateFuncNames = sync.OnceValue(func() map[string]any {
	names := map[string]any{}
	for n := range templateFuncs(&templateState{}) {
		names[n] = true
	}
	for _, n := range []string{"and", "call", "html", "index", "slice", "js", "len", "not", "or",
		"print", "printf", "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne"} {
		names[n] = true
	}
	return names
})

// checkTemplate reports whether text is a valid template.
func checkTemplate(text string) error {
	if _, err := parse.Parse("", text, "", "", templateFuncNames()); err != nil {
		return fmt.Errorf("invalid template: %w", err)
	}
	return nil
}

func templateFuncs(st *templateState) template.FuncMap {
	return template.FuncMap{
		"__line__":      func() string { return string(st.line) },
		"__timestamp__": func() time.Time { return time.Unix(0, st.ts).UTC() },

		// Go's strings functions, kept for compatibility with early Loki.
		"ToLower":    strings.ToLower,
		"ToUpper":    strings.ToUpper,
		"Replace":    strings.Replace,
		"Trim":       strings.Trim,
		"TrimLeft":   strings.TrimLeft,
		"TrimRight":  strings.TrimRight,
		"TrimPrefix": strings.TrimPrefix,
		"TrimSuffix": strings.TrimSuffix,
		"TrimSpace":  strings.TrimSpace,

		// Strings, with the subject last so that they chain in pipelines.
		"lower":      strings.ToLower,
		"upper":      strings.ToUpper,
		"title":      title,
		"trunc":      trunc,
		"substr":     substr,
		"replace":    func(old, repl, s string) string { return strings.ReplaceAll(s, old, repl) },
		"trim":       strings.TrimSpace,
		"trimAll":    func(cut, s string) string { return strings.Trim(s, cut) },
		"trimPrefix": func(prefix, s string) string { return strings.TrimPrefix(s, prefix) },
		"trimSuffix": func(suffix, s string) string { return strings.TrimSuffix(s, suffix) },
		"contains":   func(sub, s string) bool { return strings.Contains(s, sub) },
		"hasPrefix":  func(prefix, s string) bool { return strings.HasPrefix(s, prefix) },
		"hasSuffix":  func(suffix, s string) bool { return strings.HasSuffix(s, suffix) },
		"repeat":     repeat,
		"indent":     func(n int, s string) (string, error) { return indent(n, s) },
		"nindent": func(n int, s string) (string, error) {
			v, err := indent(n, s)
			return "\n" + v, err
		},
		"alignLeft":  alignLeft,
		"alignRight": alignRight,
		"default":    defaultValue,
		"b64enc":     func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
		"b64dec": func(s string) (string, error) {
			b, err := base64.StdEncoding.DecodeString(s)
			return string(b), err
		},
		"urlencode": url.QueryEscape,
		"urldecode": url.QueryUnescape,
		"fromJson": func(s string) any {
			var v any
			if json.Unmarshal([]byte(s), &v) != nil {
				return ""
			}
			return v
		},

		// Regular expressions.
		"regexReplaceAll": func(expr, s, repl string) (string, error) {
			re, err := st.regexp(expr)
			if err != nil {
				return "", err
			}
			return re.ReplaceAllString(s, repl), nil
		},
		"regexReplaceAllLiteral": func(expr, s, repl string) (string, error) {
			re, err := st.regexp(expr)
			if err != nil {
				return "", err
			}
			return re.ReplaceAllLiteralString(s, repl), nil
		},
		"count": func(expr, s string) (int, error) {
			re, err := st.regexp(expr)
			if err != nil {
				return 0, err
			}
			return len(re.FindAllStringIndex(s, -1)), nil
		},

		// Dates and durations.
		"now":              time.Now,
		"date":             date,
		"toDate":           func(layout, s string) (time.Time, error) { return time.ParseInLocation(layout, s, time.Local) },
		"toDateInZone":     toDateInZone,
		"unixEpoch":        func(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) },
		"unixEpochMillis":  func(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) },
		"unixEpochNanos":   func(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) },
		"unixToTime":       unixToTime,
		"duration":         durationSeconds,
		"duration_seconds": durationSeconds,
		"bytes": func(s string) (float64, error) {
			b, err := parseBytes(s)
			return float64(b), err
		},

		// Arithmetic: the plain forms work on int64, the "f" forms on float64.
		"add": func(vs ...any) int64 {
			var sum int64
			for _, v := range vs {
				sum += toInt64(v)
			}
			return sum
		},
		"sub": func(a, b any) int64 { return toInt64(a) - toInt64(b) },
		"mul": func(a any, vs ...any) int64 {
			p := toInt64(a)
			for _, v := range vs {
				p *= toInt64(v)
			}
			return p
		},
		"div": func(a, b any) (int64, error) {
			d := toInt64(b)
			if d == 0 {
				return 0, errors.New("division by zero")
			}
			return toInt64(a) / d, nil
		},
		"mod": func(a, b any) (int64, error) {
			d := toInt64(b)
			if d == 0 {
				return 0, errors.New("division by zero")
			}
			return toInt64(a) % d, nil
		},
		"max":     func(a any, vs ...any) int64 { return foldInt(a, vs, func(x, y int64) bool { return y > x }) },
		"min":     func(a any, vs ...any) int64 { return foldInt(a, vs, func(x, y int64) bool { return y < x }) },
		"addf":    func(a any, vs ...any) float64 { return foldFloat(a, vs, func(x, y float64) float64 { return x + y }) },
		"subf":    func(a any, vs ...any) float64 { return foldFloat(a, vs, func(x, y float64) float64 { return x - y }) },
		"mulf":    func(a any, vs ...any) float64 { return foldFloat(a, vs, func(x, y float64) float64 { return x * y }) },
		"divf":    func(a any, vs ...any) float64 { return foldFloat(a, vs, func(x, y float64) float64 { return x / y }) },
		"maxf":    func(a any, vs ...any) float64 { return foldFloat(a, vs, math.Max) },
		"minf":    func(a any, vs ...any) float64 { return foldFloat(a, vs, math.Min) },
		"ceil":    func(a any) float64 { return math.Ceil(toFloat64(a)) },
		"floor":   func(a any) float64 { return math.Floor(toFloat64(a)) },
		"round":   round,
		"int":     func(v any) int { return int(toInt64(v)) },
		"float64": toFloat64,
	}
}

// title upper-cases the first letter of every word.
func title(s string) string {
	prev := ' '
	return strings.Map(func(r rune) rune {
		start := !unicode.IsLetter(prev) && !unicode.IsDigit(prev) && prev != '_' && prev != '\''
		prev = r
		if start {
			return unicode.ToTitle(r)
		}
		return r
	}, s)
}

// trunc keeps the first c bytes of s, or the last -c when c is negative.
func trunc(c int, s string) string {
	switch {
	case c < 0 && len(s)+c > 0:
		return s[len(s)+c:]
	case c >= 0 && len(s) > c:
		return s[:c]
	}
	return s
}

// substr returns s[start:end], with a negative start meaning 0 and a
// negative or too large end meaning len(s).
func substr(start, end int, s string) string {
	if start < 0 {
		start = 0
	}
	if end < 0 || end > len(s) {
		end = len(s)
	}
	if start > end {
		return ""
	}
	return s[start:end]
}

func repeat(n int, s string) (string, error) {
	if n <= 0 {
		return "", nil
	}
	if len(s) > 0 && n > maxTemplateOutput/len(s) {
		return "", errTemplateTooLarge
	}
	return strings.Repeat(s, n), nil
}

func indent(n int, s string) (string, error) {
	if n < 0 {
		n = 0
	}
	if n > maxTemplateOutput || (strings.Count(s, "\n")+1)*n > maxTemplateOutput {
		return "", errTemplateTooLarge
	}
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad), nil
}

func alignLeft(n int, s string) (string, error) {
	if n < 0 || n > maxTemplateOutput {
		return "", errTemplateTooLarge
	}
	r := []rune(s)
	if len(r) >= n {
		return string(r[:n]), nil
	}
	return s + strings.Repeat(" ", n-len(r)), nil
}

func alignRight(n int, s string) (string, error) {
	if n < 0 || n > maxTemplateOutput {
		return "", errTemplateTooLarge
	}
	r := []rune(s)
	if len(r) >= n {
		return string(r[len(r)-n:]), nil
	}
	return strings.Repeat(" ", n-len(r)) + s, nil
}

// defaultValue returns d when the given value is missing or empty.
func defaultValue(d any, given ...any) any {
	if len(given) == 0 || isEmpty(given[0]) {
		return d
	}
	return given[0]
}

func isEmpty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case bool:
		return !v
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return toFloat64(v) == 0 && fmt.Sprint(v) == "0"
}

// date formats a time.Time, or Unix seconds, with a Go layout.
func date(layout string, v any) string {
	var t time.Time
	switch v := v.(type) {
	case time.Time:
		t = v
	case *time.Time:
		if v != nil {
			t = *v
		}
	default:
		t = time.Unix(toInt64(v), 0)
	}
	return t.Format(layout)
}

func toDateInZone(layout, zone, s string) (time.Time, error) {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return time.Time{}, err
	}
	return time.ParseInLocation(layout, s, loc)
}

// unixToTime reads an epoch in days (5 digits), seconds (10),
// milliseconds (13), microseconds (16) or nanoseconds (19).
func unixToTime(s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("unixToTime: %w", err)
	}
	switch len(s) {
	case 5:
		return time.Unix(n*86400, 0).UTC(), nil
	case 10:
		return time.Unix(n, 0).UTC(), nil
	case 13:
		return time.UnixMilli(n).UTC(), nil
	case 16:
		return time.UnixMicro(n).UTC(), nil
	case 19:
		return time.Unix(0, n).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("unixToTime: cannot tell the unit of %q", s)
}

func durationSeconds(s string) (float64, error) {
	d, err := parseLabelDuration(s)
	return d.Seconds(), err
}

// round rounds a to p decimal places; roundOn (default .5) is the fraction
// from which it rounds up.
func round(a any, p int, roundOn ...float64) float64 {
	on := .5
	if len(roundOn) > 0 {
		on = roundOn[0]
	}
	v := toFloat64(a)
	pow := math.Pow(10, float64(p))
	digit := pow * v
	_, frac := math.Modf(digit)
	if frac >= on {
		return math.Ceil(digit) / pow
	}
	return math.Floor(digit) / pow
}

func foldInt(a any, vs []any, better func(x, y int64) bool) int64 {
	m := toInt64(a)
	for _, v := range vs {
		if x := toInt64(v); better(m, x) {
			m = x
		}
	}
	return m
}

func foldFloat(a any, vs []any, f func(x, y float64) float64) float64 {
	acc := toFloat64(a)
	for _, v := range vs {
		acc = f(acc, toFloat64(v))
	}
	return acc
}

// toFloat64 converts numbers, numeric strings and booleans; anything else is 0.
func toFloat64(v any) float64 {
	switch v := v.(type) {
	case float64:
		return v
	case float32:
		return float64(v)
	case int:
		return float64(v)
	case int64:
		return float64(v)
	case int32:
		return float64(v)
	case uint64:
		return float64(v)
	case uint:
		return float64(v)
	case bool:
		if v {
			return 1
		}
		return 0
	case string:
		f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return f
	case json.Number:
		f, _ := v.Float64()
		return f
	}
	return 0
}

// toInt64 converts like toFloat64, truncating toward zero.
func toInt64(v any) int64 {
	switch v := v.(type) {
	case int:
		return int64(v)
	case int64:
		return v
	case string:
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			return n
		}
	}
	f := toFloat64(v)
	if math.IsNaN(f) || f > math.MaxInt64 || f < math.MinInt64 {
		return 0
	}
	return int64(f)
}

// lineFormatStage rewrites the line with a template.
type lineFormatStage struct {
	tmpl *template.Template
	st   *templateState
	data map[string]string
	buf  bytes.Buffer
}

func newLineFormat(text string) (stage, error) {
	st := &templateState{}
	t, err := parseTemplate(text, st)
	if err != nil {
		return nil, err
	}
	return &lineFormatStage{tmpl: t, st: st, data: map[string]string{}}, nil
}

// fillTemplateData sets data to the current labels of lb.
func fillTemplateData(data map[string]string, lb *labelsBuilder) {
	clear(data)
	for _, l := range lb.cur {
		data[l.Name] = l.Value
	}
	if lb.err != "" {
		data[errorLabel] = lb.err
	}
	if lb.errDetails != "" {
		data[errorDetailsLabel] = lb.errDetails
	}
}

func (f *lineFormatStage) process(ts int64, line []byte, lb *labelsBuilder) ([]byte, bool) {
	f.st.line, f.st.ts = line, ts
	fillTemplateData(f.data, lb)
	f.buf.Reset()
	if err := f.tmpl.Execute(&f.buf, f.data); err != nil {
		lb.setErr(errTemplate, err.Error())
		return line, true
	}
	return f.buf.Bytes(), true
}

// labelFormatStage renames labels and sets them from templates; every
// template sees the labels as they were before the stage.
type labelFormatStage struct {
	items []LabelFormatItem
	tmpls []*template.Template // nil for renames
	st    *templateState
	data  map[string]string
	buf   bytes.Buffer
	sets  []logmodel.Label
}

func newLabelFormat(lf *LabelFormat) (stage, error) {
	s := &labelFormatStage{items: lf.Items, st: &templateState{}, data: map[string]string{}}
	for _, it := range lf.Items {
		var t *template.Template
		if !it.Rename {
			var err error
			if t, err = parseTemplate(it.Src, s.st); err != nil {
				return nil, err
			}
		}
		s.tmpls = append(s.tmpls, t)
	}
	return s, nil
}

func (s *labelFormatStage) process(ts int64, line []byte, lb *labelsBuilder) ([]byte, bool) {
	s.st.line, s.st.ts = line, ts
	fillTemplateData(s.data, lb)
	s.sets = s.sets[:0]
	for i, it := range s.items {
		if it.Rename {
			v, ok := s.data[it.Src]
			if !ok {
				continue
			}
			if it.Src != it.Dst {
				lb.del(it.Src)
			}
			s.sets = append(s.sets, logmodel.Label{Name: it.Dst, Value: v})
			continue
		}
		s.buf.Reset()
		if err := s.tmpls[i].Execute(&s.buf, s.data); err != nil {
			lb.setErr(errTemplate, err.Error())
			continue
		}
		s.sets = append(s.sets, logmodel.Label{Name: it.Dst, Value: s.buf.String()})
	}
	for _, l := range s.sets {
		lb.set(l.Name, l.Value)
	}
	return line, true
}
