package logql

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// parseCases are queries and their canonical form ("" when the query is
// already canonical); they also seed FuzzParse.
var parseCases = [][2]string{
	// Selectors.
	{`{app="foo"}`, ``},
	{`{ app = "foo" , env != "dev", pod=~"api-.*", node!~"n1|n2", }`, `{app="foo", env!="dev", pod=~"api-.*", node!~"n1|n2"}`},
	{"{app=`a\\b`}", ""},
	{`{app="a\"b"}`, "{app=`a\"b`}"},
	{`{app="tab\there"}`, ``},
	{`{app="ünïcode"}`, ``},
	{"{app=\"x\"} # a comment\n", `{app="x"}`},
	// Line filters.
	{`{app="foo"} |= "error"`, ``},
	{`{app="foo"} != "timeout" |~ "err(or)?" !~ "debug"`, ``},
	{`{app="foo"} |= "a" or "b" or "c"`, ``},
	{`{app="foo"} != "a" or "b"`, ``},
	{"{app=\"foo\"} |~ `\\d+ms`", ``},
	{`{app="foo"} |> "<_> GET <path> <_>"`, ``},
	{`{app="foo"} !> "<_>health<_>"`, ``},
	{`{app="foo"} |= ip("10.0.0.0/8") != ip("10.1.0.1-10.1.0.9")`, ``},
	{`{app="foo"} |= "a" or ip("::1")`, ``},
	// Parsers.
	{`{app="foo"} | json`, ``},
	{`{app="foo"} | json a="x.y", b="z[0]", c`, ``},
	{"{app=\"foo\"} | json ua=`headers[\"User-Agent\"]`", ``},
	{`{app="foo"} | logfmt`, ``},
	{`{app="foo"} | logfmt --strict`, ``},
	{`{app="foo"} | logfmt --keep-empty --strict host, ip="fwd"`, `{app="foo"} | logfmt --strict --keep-empty host, ip="fwd"`},
	{`{app="foo"} | pattern "<ip> - <_> <method>"`, ``},
	{`{app="foo"} | regexp "(?P<method>\\w+) (?P<path>\\S+)"`, "{app=\"foo\"} | regexp `(?P<method>\\w+) (?P<path>\\S+)`"},
	{`{app="foo"} | unpack`, ``},
	{`{app="foo"} | decolorize`, ``},
	// Label filters.
	{`{app="foo"} | level="error"`, ``},
	{`{app="foo"} | level == "error"`, `{app="foo"} | level="error"`},
	{`{app="foo"} | level!="info", code=~"5..", path!~"/health.*"`, `{app="foo"} | level!="info" and code=~"5.." and path!~"/health.*"`},
	{`{app="foo"} | status >= 500 and duration > 1.5s or size <= 20MB`, `{app="foo"} | status >= 500 and duration > 1s500ms or size <= 20MB`},
	{`{app="foo"} | status = 200`, `{app="foo"} | status == 200`},
	{`{app="foo"} | status != -1.5e3`, `{app="foo"} | status != -1500`},
	{`{app="foo"} | a=1 or (b=2 and c=3)`, `{app="foo"} | a == 1 or (b == 2 and c == 3)`},
	{`{app="foo"} | (a=1 or b=2) and c=3`, `{app="foo"} | a == 1 or b == 2 and c == 3`},
	{`{app="foo"} | a="1" b="2"`, `{app="foo"} | a="1" and b="2"`},
	{`{app="foo"} | latency > 250ms | size > 1.5KiB`, `{app="foo"} | latency > 250ms | size > 1536B`},
	{`{app="foo"} | size > 2KiB, size < 3kB`, `{app="foo"} | size > 2KiB and size < 3kB`},
	{`{app="foo"} | d < 1h30m`, ``},
	{`{app="foo"} | d > 2d`, `{app="foo"} | d > 2d`},
	{`{app="foo"} | addr = ip("192.168.0.0/16") or addr != ip("::1")`, `{app="foo"} | addr=ip("192.168.0.0/16") or addr!=ip("::1")`},
	{`{app="foo"} | __error__=""`, ``},
	{`{app="foo"} | json | __error__ != "JSONParserErr"`, `{app="foo"} | json | __error__!="JSONParserErr"`},
	{`{app="foo"} | json = "x"`, `{app="foo"} | json="x"`},
	{`{app="foo"} | or="x" and="y"`, `{app="foo"} | or="x" and and="y"`},
	// Formatters and label stages.
	{`{app="foo"} | line_format "{{.a}} {{.b}}"`, ``},
	{`{app="foo"} | line_format "{{ .path | replace \" \" \"_\" | upper }}"`, "{app=\"foo\"} | line_format `{{ .path | replace \" \" \"_\" | upper }}`"},
	{`{app="foo"} | label_format x="{{.a}}", y=z`, ``},
	{`{app="foo"} | drop a, b="v", c=~"x.*"`, ``},
	{`{app="foo"} | keep a, b!="v"`, ``},
	{`{app="foo"} |= "x" | logfmt | level="error" | line_format "{{__line__ | lower}}" |= "y"`, ``},
	// Range aggregations.
	{`count_over_time({app="foo"}[5m])`, ``},
	{`count_over_time({app="foo"} [5m])`, `count_over_time({app="foo"}[5m])`},
	{`rate({app="foo"} |= "error" [1m])`, ``},
	{`rate({app="foo"}[1m] |= "error")`, `rate({app="foo"} |= "error" [1m])`},
	{`bytes_rate({app="foo"}[90s])`, `bytes_rate({app="foo"}[1m30s])`},
	{`bytes_over_time({app="foo"}[1h] offset 5m)`, ``},
	{`absent_over_time({app="foo"}[1w])`, ``},
	{`count_over_time({app="foo"}[5m] offset -1h)`, ``},
	{`count_over_time(({app="foo"} | json)[5m])`, `count_over_time({app="foo"} | json [5m])`},
	{`sum_over_time({app="foo"} | logfmt | unwrap bytes [5m])`, ``},
	{`avg_over_time({app="foo"} | logfmt | unwrap latency | __error__="" [5m]) by (path)`, ``},
	{`max_over_time({app="foo"} | unwrap duration(took) [5m]) without (pod)`, ``},
	{`min_over_time({app="foo"} | unwrap duration_seconds(took) [5m])`, ``},
	{`first_over_time({app="foo"} | unwrap bytes(size) [5m])`, ``},
	{`last_over_time({app="foo"} | unwrap x [5m])`, ``},
	{`stdvar_over_time({app="foo"} | unwrap x [5m])`, ``},
	{`stddev_over_time({app="foo"} | unwrap x [5m])`, ``},
	{`quantile_over_time(0.99, {app="foo"} | json | unwrap latency [5m]) by (host)`, ``},
	{`rate({app="foo"} | unwrap x [5m])`, ``},
	{`rate_counter({app="foo"} | unwrap x [5m])`, ``},
	// Vector aggregations.
	{`sum(rate({app="foo"}[1m]))`, ``},
	{`sum by (host) (rate({app="foo"}[1m]))`, ``},
	{`sum(rate({app="foo"}[1m])) by (host, path)`, `sum by (host, path) (rate({app="foo"}[1m]))`},
	{`sum without (pod) (rate({app="foo"}[1m]))`, ``},
	{`sum by () (rate({app="foo"}[1m]))`, ``},
	{`avg(count_over_time({app="foo"}[1m]))`, ``},
	{`min by (a) (count_over_time({app="foo"}[1m]))`, ``},
	{`max(count_over_time({app="foo"}[1m]))`, ``},
	{`stddev(count_over_time({app="foo"}[1m]))`, ``},
	{`stdvar(count_over_time({app="foo"}[1m]))`, ``},
	{`count(count_over_time({app="foo"}[1m]))`, ``},
	{`topk(5, count_over_time({app="foo"}[1m]))`, ``},
	{`topk by (app) (5, count_over_time({app="foo"}[1m]))`, ``},
	{`bottomk(3, sum by (a) (count_over_time({app="foo"}[1m]))) by (b)`, `bottomk by (b) (3, sum by (a) (count_over_time({app="foo"}[1m])))`},
	{`sort(count_over_time({app="foo"}[1m]))`, ``},
	{`sort_desc(count_over_time({app="foo"}[1m]))`, ``},
	// Binary operations.
	{`1 + 2 * 3`, ``},
	{`(1 + 2) * 3`, ``},
	{`2 ^ 3 ^ 2`, ``},
	{`(2 ^ 3) ^ 2`, ``},
	{`1 - (2 - 3)`, ``},
	{`1 - 2 - 3`, ``},
	{`-1 + +2`, `-1 + 2`},
	{`2 - -1`, ``},
	{`1e+06 % 7`, ``},
	{`0.5 / .25`, `0.5 / 0.25`},
	{`1 > bool 2`, ``},
	{`1 == 1`, ``},
	{`sum(rate({app="foo"}[1m])) / sum(rate({app="bar"}[1m]))`, ``},
	{`count_over_time({app="foo"}[1m]) > 10`, ``},
	{`count_over_time({app="foo"}[1m]) > bool 10`, ``},
	{`10 < count_over_time({app="foo"}[1m])`, ``},
	{`rate({app=~"foo|bar"}[1m]) and rate({app="bar"}[1m])`, ``},
	{`rate({app="a"}[1m]) or rate({app="b"}[1m]) unless rate({app="c"}[1m])`, ``},
	{`(rate({app="a"}[1m]) or rate({app="b"}[1m])) and rate({app="c"}[1m])`, ``},
	{`sum by (machine) (count_over_time({app="foo"}[1m])) / on () sum(count_over_time({app="foo"}[1m]))`, ``},
	{`max by (m) (count_over_time({app="foo"}[1m])) > bool ignoring (m) avg(count_over_time({app="foo"}[1m]))`, ``},
	{`sum by (app, status) (rate({job="http"} | json [5m])) / on (app) group_left sum by (app) (rate({job="http"} | json [5m]))`, ``},
	{`sum by (user) (rate({job="e"}[5m])) * on (user) group_left (org) max_over_time({job="c"} | logfmt | unwrap cost [5m]) by (user, org)`, ``},
	{`vector(1)`, ``},
	{`vector(1) + vector(-2.5)`, ``},
	{`sum(count_over_time({app="foo"}[5m])) or vector(0)`, ``},
	{`label_replace(rate({app="api", service="a:c"} |= "err" [1m]), "foo", "$1", "service", "(.*):.*")`, ``},
	{`label_replace(vector(0), "foo", "bar", "", "")`, ``},
	{`count_over_time({app="foo"}[1m]) + ignoring (x) group_right (y, z) count_over_time({app="bar"}[1m])`, ``},
	{`(count_over_time({app="foo"}[1m]))`, `count_over_time({app="foo"}[1m])`},
	{`rate({app="foo"} | unwrap x | __error__="" | x > 1 [1m])`, `rate({app="foo"} | unwrap x | __error__="" | x > 1 [1m])`},
}

func TestParseRoundTrip(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if want == "" {
			want = in
		}
		e, err := ParseExpr(in)
		if err != nil {
			t.Errorf("ParseExpr(%q): %v", in, err)
			return
		}
		if got := e.String(); got != want {
			t.Errorf("ParseExpr(%q).String()\ngot  %s\nwant %s", in, got, want)
			return
		}
		e2, err := ParseExpr(want)
		if err != nil {
			t.Errorf("re-parse %q: %v", want, err)
			return
		}
		if !reflect.DeepEqual(e, e2) {
			t.Errorf("re-parse of %q gives a different AST:\n%#v\n%#v", want, e, e2)
		}
	}
	for _, c := range parseCases {
		f(c[0], c[1])
	}
}

func TestParseAST(t *testing.T) {
	e, err := ParseExpr(`sum by (a) (rate({app="x"} |= "e" or "f" | json b="c.d" | b > 2 [5m] offset 1m)) * 2`)
	if err != nil {
		t.Fatal(err)
	}
	want := &BinOpExpr{
		Op: OpMul,
		LHS: &VectorAggExpr{Op: VecSum, Grouping: &Grouping{Labels: []string{"a"}}, Expr: &RangeAggExpr{
			Op: RangeRate,
			Range: &LogRange{
				Log: &LogExpr{
					Matchers: []logmodel.Matcher{{Type: logmodel.MatchEqual, Name: "app", Value: "x"}},
					Pipeline: []Stage{
						&LineFilterExpr{Op: LineContains, Values: []LineFilterValue{{Value: "e"}, {Value: "f"}}},
						&JSONParser{Fields: []ParserField{{Label: "b", Path: "c.d"}}},
						&LabelFilterStage{Filter: &NumericFilter{Name: "b", Op: CmpGt, Value: 2}},
					},
				},
				Range:  5 * 60e9,
				Offset: 60e9,
			},
		}},
		RHS: &NumberExpr{Value: 2},
	}
	if !reflect.DeepEqual(e, want) {
		t.Fatalf("got %#v\nwant %#v", e, want)
	}
	if !IsMetric(e) {
		t.Errorf("IsMetric = false; want true")
	}
	if le, _ := ParseExpr(`{a="b"} |= "x"`); IsMetric(le) {
		t.Errorf("IsMetric(log query) = true; want false")
	}
}

func TestParseErrors(t *testing.T) {
	f := func(in string, pos, line, col int, msg string) {
		t.Helper()
		_, err := ParseExpr(in)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("ParseExpr(%q) = %v; want a *ParseError", in, err)
			return
		}
		if pe.Pos != pos || pe.Line != line || pe.Col != col || !strings.Contains(pe.Msg, msg) {
			t.Errorf("ParseExpr(%q) error:\ngot  pos %d line %d col %d %q\nwant pos %d line %d col %d containing %q", in, pe.Pos, pe.Line, pe.Col, pe.Msg, pos, line, col, msg)
		}
	}
	f(``, 0, 1, 1, "unexpected end of input, expecting selector")
	f(`{app="foo"`, 10, 1, 11, "unexpected end of input, expecting , or }")
	f(`{app=foo}`, 5, 1, 6, `syntax error: unexpected IDENTIFIER "foo", expecting STRING`)
	f(`{app="foo"} |= bar`, 15, 1, 16, `unexpected IDENTIFIER "bar"`)
	f(`{app="foo"} | json a=b`, 21, 1, 22, `unexpected IDENTIFIER "b", expecting STRING`)
	f(`{}`, 0, 1, 1, "at least one regexp or equality matcher")
	f(`{app=~".*"}`, 0, 1, 1, "at least one regexp or equality matcher")
	f(`{app=~"("}`, 6, 1, 7, "invalid regular expression")
	f(`{app="foo"} |~ "("`, 15, 1, 16, "invalid line filter regular expression")
	f(`{app="foo"} | regexp "(\\w+)"`, 21, 1, 22, "at least one named group")
	f(`{app="foo"} | pattern "<a><b>"`, 22, 1, 23, "must be separated")
	f(`{app="foo"} | pattern "foo"`, 22, 1, 23, "at least one named capture")
	f(`{app="foo"} | line_format "{{.a"`, 26, 1, 27, "invalid template")
	f(`{app="foo"} | line_format "{{ nosuch .a }}"`, 26, 1, 27, `function "nosuch" not defined`)
	f(`{app="foo"} | label_format x=__error__`, 29, 1, 30, "cannot rename __error__")
	f(`{app="foo"} | label_format a="x", a="y"`, 34, 1, 35, "appears more than once")
	f(`{app="foo"} | logfmt --lax`, 21, 1, 22, "unknown logfmt flag")
	f(`{app="foo"} | x > "1"`, 18, 1, 19, "unexpected STRING, expecting NUMBER, DURATION or BYTES")
	f(`{app="foo"} | x =~ 1`, 19, 1, 20, "unexpected NUMBER \"1\", expecting STRING")
	f(`{app="foo"} |~ ip("1.2.3.4")`, 15, 1, 16, "ip() is only allowed with |= and !=")
	f(`{app="foo"} |= ip("300.1.1.1")`, 18, 1, 19, "invalid ip pattern")
	f(`{app="foo"} | unwrap x`, 14, 1, 15, "unwrap is only allowed in range aggregations")
	f(`count_over_time({app="foo"})`, 27, 1, 28, "unexpected ), expecting [")
	f(`count_over_time({app="foo"}[5x])`, 28, 1, 29, "invalid number, duration or size")
	f(`count_over_time({app="foo"} | unwrap x [5m])`, 0, 1, 1, "invalid aggregation count_over_time with unwrap")
	f(`sum_over_time({app="foo"}[5m])`, 0, 1, 1, "invalid aggregation sum_over_time without unwrap")
	f(`absent_over_time({app="foo"}[5m]) by (a)`, 0, 1, 1, "grouping not allowed")
	f(`sum_over_time({app="foo"} | unwrap x | json [5m])`, 39, 1, 40, "only label filters are allowed after unwrap")
	f(`sum by (a) (rate({app="foo"}[1m])) by (b)`, 35, 1, 36, "grouping given twice")
	f(`topk(0, rate({app="foo"}[1m]))`, 5, 1, 6, "positive integer")
	f(`topk(rate({app="foo"}[1m]))`, 5, 1, 6, `unexpected IDENTIFIER "rate", expecting NUMBER`)
	f(`sum(1)`, 0, 1, 1, "expects a vector")
	f(`sum({app="foo"})`, 0, 1, 1, "expects a vector (a metric query), not a log query")
	f(`{app="foo"} + 1`, 12, 1, 13, "needs metric operands")
	f(`1 and 2`, 2, 1, 3, "only allowed between vectors")
	f(`1 + bool 2`, 4, 1, 5, "bool modifier is only allowed on comparison operators")
	f(`rate({app="foo"}[1m]) * group_left rate({app="foo"}[1m])`, 24, 1, 25, "needs on or ignoring")
	f(`rate({a="b"}[1m]) and on (x) group_left rate({a="b"}[1m])`, 29, 1, 30, "no grouping allowed")
	f(`label_replace(vector(1), "1x", "", "", "")`, 0, 1, 1, "invalid destination label name")
	f("{app=\"foo\"}\n  | json\n  | x >", 28, 3, 8, "unexpected end of input")
	f("{app=\"ü\"} |= `x", 14, 1, 14, "unterminated raw string")
	f(`{app="\q"}`, 5, 1, 6, "invalid string")
	f(`{app="foo"} $`, 12, 1, 13, "unexpected character '$'")
	f(`1e999`, 0, 1, 1, `invalid number "1e999"`)
	f(`count_over_time({app="foo"}[0s])`, 28, 1, 29, "range must be positive")
	f(strings.Repeat("(", 300)+"1"+strings.Repeat(")", 300), 200, 1, 201, "nested too deeply")
}

func TestParseErrorMessage(t *testing.T) {
	_, err := ParseExpr(`{app=foo}`)
	want := `parse error at line 1, col 6: syntax error: unexpected IDENTIFIER "foo", expecting STRING`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v; want %s", err, want)
	}
}

func TestUnits(t *testing.T) {
	f := func(in string, want string) {
		t.Helper()
		d, err := parseDuration(in)
		if err != nil {
			t.Errorf("parseDuration(%q): %v", in, err)
			return
		}
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(parseDuration(%q)) = %q; want %q", in, got, want)
		}
	}
	f("90s", "1m30s")
	f("1.5h", "1h30m")
	f("8d", "1w1d")
	f("1y", "1y")
	f("1ms1us1ns", "1ms1us1ns")
	f("2µs", "2us")
	f("0.5s", "500ms")
	f("292y", "292y")
	for _, bad := range []string{"", "5", "5x", "1.2.3s", "m", "999999999999y"} {
		if _, err := parseDuration(bad); err == nil {
			t.Errorf("parseDuration(%q) succeeded; want an error", bad)
		}
	}
	b := func(in string, want uint64, canon string) {
		t.Helper()
		got, err := parseBytes(in)
		if err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
		if s := formatBytes(got); s != canon {
			t.Errorf("formatBytes(%d) = %q; want %q", got, s, canon)
		}
	}
	b("20MB", 20_000_000, "20MB")
	b("1.5KiB", 1536, "1536B")
	b("2KiB", 2048, "2KiB")
	b("3k", 3000, "3kB")
	b("5 MiB", 5<<20, "5MiB")
	b("0B", 0, "0B")
	b("1", 1, "1B")
}
