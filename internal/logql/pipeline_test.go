package logql

import (
	"strings"
	"testing"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// runPipeline runs the pipeline of `{a="b"} <pipeline>` on one line and
// returns "labels line", or "dropped".
func runPipeline(t *testing.T, pipeline, line string) string {
	t.Helper()
	e := mustParse(t, `{a="b"} `+pipeline).(*LogExpr)
	p, err := newPipeline(e.Pipeline, nil, nil)
	if err != nil {
		t.Fatalf("%s: %v", pipeline, err)
	}
	out, ok := p.run(1_700_000_000_123_000_000, []byte(line), logmodel.FromPairs("a", "b"), nil)
	if !ok {
		return "dropped"
	}
	return p.lb.labels().String() + " " + string(out)
}

func TestStages(t *testing.T) {
	f := func(pipeline, line, want string) {
		t.Helper()
		if got := runPipeline(t, pipeline, line); got != want {
			t.Errorf("%s on %q:\ngot  %s\nwant %s", pipeline, line, got, want)
		}
	}
	// Line filters.
	f(`|= "x" or "y"`, "ay", `{a="b"} ay`)
	f(`!= "x" or "y"`, "ay", "dropped")
	f(`|~ "a.b"`, "a\nb", `{a="b"} a`+"\n"+`b`)
	f(`|> "<_>b<_>d"`, "abcd", `{a="b"} abcd`)
	f(`|> "<_>b<_>d"`, "abcde", "dropped")
	f(`|> "ab<_>"`, "xab", "dropped")
	f(`|> "a<_>a"`, "a", "dropped")
	f(`|> "a<_>a"`, "aa", `{a="b"} aa`)
	f(`!> "<_>err<_>"`, "an error", "dropped")
	f(`|= ip("10.0.0.0/8")`, "from 10.1.2.3:8080 to x", `{a="b"} from 10.1.2.3:8080 to x`)
	f(`|= ip("10.0.0.0/8")`, "from 110.1.2.3", "dropped")
	f(`|= ip("2001:db8::/32")`, "peer [2001:db8::1]:443", `{a="b"} peer [2001:db8::1]:443`)
	f(`|= ip("192.168.0.1-192.168.0.9")`, "ip=192.168.0.5", `{a="b"} ip=192.168.0.5`)
	f(`!= ip("192.168.0.1")`, "ip=192.168.0.1.", "dropped")
	// Parsers.
	f(`| json`, `{"a":"x","b":{"c":[1],"d":"e\u00e9\n"}}`, `{a="b", a_extracted="x", b_d="eé\n"}`+` {"a":"x","b":{"c":[1],"d":"e\u00e9\n"}}`)
	f(`| json`, `{"a":1,"a":2}`, `{a="b", a_extracted="1"} {"a":1,"a":2}`)
	f(`| json | drop __error_details__`, `{"a":`, `{__error__="JSONParserErr", a="b"} {"a":`)
	f(`| json x="l[1].m", y="n", z=`+"`"+`o["p q"]`+"`", `{"l":[{},{"m":true}],"o":{"p q":"r"}}`, `{a="b", x="true", z="r"} {"l":[{},{"m":true}],"o":{"p q":"r"}}`)
	f(`| logfmt`, `k=v k=w q="a b" 1x=2`, `{_1x="2", a="b", k="v", q="a b"} k=v k=w q="a b" 1x=2`)
	f(`| logfmt | drop __error_details__`, `k=v =x y="unterminated`, `{a="b", k="v"} k=v =x y="unterminated`)
	f(`| logfmt --strict | drop __error_details__`, `k=v x=a=b`, `{__error__="LogfmtParserErr", a="b", k="v"} k=v x=a=b`)
	f(`| pattern "<ip> - <user> [<_>] \"<method> <path> <_>\" <status>"`, `1.2.3.4 - bob [x] "GET /p HTTP/1.1" 200`,
		`{a="b", ip="1.2.3.4", method="GET", path="/p", status="200", user="bob"} 1.2.3.4 - bob [x] "GET /p HTTP/1.1" 200`)
	f(`| pattern "<x> and <y> end"`, `1 and 2`, `{a="b", x="1", y="2"} 1 and 2`)
	f(`| pattern "start <x>"`, `other`, `{a="b"} other`)
	f("| regexp `(?P<k>\\w+)=(?P<v>\\d+)`", "x abc=12", `{a="b", k="abc", v="12"} x abc=12`)
	f(`| unpack`, `{"_entry":"inner","a":"x","n":1}`, `{a="b", a_extracted="x"} inner`)
	// Label filters.
	f(`| json | n > 1.5 and n <= 2`, `{"n":2}`, `{a="b", n="2"} {"n":2}`)
	f(`| json | n > 1.5 or m`+" = 1", `{"n":2,"m":"x"}`, `{a="b", m="x", n="2"} {"n":2,"m":"x"}`)
	f(`| json | n > 1 | drop __error_details__`, `{"n":"x"}`, `{__error__="LabelFilterErr", a="b", n="x"} {"n":"x"}`)
	f(`| json | missing > 1`, `{"n":1}`, "dropped")
	f(`| json | d >= 1m30s`, `{"d":"2m"}`, `{a="b", d="2m"} {"d":"2m"}`)
	f(`| json | d >= 1m30s`, `{"d":"1m"}`, "dropped")
	f(`| json | s > 1KB and s < 1MiB`, `{"s":"10 kB"}`, `{a="b", s="10 kB"} {"s":"10 kB"}`)
	f(`| json | ip = ip("10.0.0.0/8")`, `{"ip":"10.9.9.9"}`, `{a="b", ip="10.9.9.9"} {"ip":"10.9.9.9"}`)
	f(`| json | ip != ip("10.0.0.0/8")`, `{"ip":"10.9.9.9"}`, "dropped")
	f(`| a=~"b|c", a!~"x.*"`, "l", `{a="b"} l`)
	f(`| a="x" or (a="b" and a!="c")`, "l", `{a="b"} l`)
	// Formatters.
	f(`| line_format "{{.a}}-{{.missing}}-{{ __timestamp__ | unixEpochMillis }}"`, "l", `{a="b"} b--1700000000123`)
	f(`| label_format x="{{.a | upper}}", y=a`, "l", `{x="B", y="b"} l`)
	f(`| label_format a="{{ div 1 0 }}" | drop __error_details__`, "l", `{__error__="TemplateFormatErr", a="b"} l`)
	f(`| drop a`, "l", `{} l`)
	f(`| keep x`, "l", `{} l`)
	f(`| drop a="c"`, "l", `{a="b"} l`)
	f(`| decolorize`, "\x1b[1;31mred\x1b[0m \x1b[Kx", `{a="b"} red x`)
}

func TestTemplateFunctions(t *testing.T) {
	f := func(tmpl, want string) {
		t.Helper()
		st := &templateState{line: []byte("The Line"), ts: 1_700_000_000_000_000_000}
		tp, err := parseTemplate(tmpl, st)
		if err != nil {
			t.Errorf("%s: %v", tmpl, err)
			return
		}
		var b strings.Builder
		if err := tp.Execute(&b, map[string]string{"x": "Hello World", "n": "42", "e": "", "p": "/a/b/", "j": `{"k":[1,2]}`}); err != nil {
			t.Errorf("%s: %v", tmpl, err)
			return
		}
		if got := b.String(); got != want {
			t.Errorf("%s = %q; want %q", tmpl, got, want)
		}
	}
	f(`{{ __line__ | lower }}`, "the line")
	f(`{{ __timestamp__ | unixEpoch }}`, "1700000000")
	f(`{{ .x | ToUpper }} {{ ToLower .x }} {{ Replace .x "o" "0" 1 }}`, "HELLO WORLD hello world Hell0 World")
	f(`{{ Trim .p "/" }} {{ TrimLeft .p "/" }} {{ TrimRight .p "/" }} {{ TrimPrefix .p "/a" }} {{ TrimSuffix .p "b/" }} {{ TrimSpace "  s  " }}`, "a/b a/b/ /a/b /b/ /a/ s")
	f(`{{ .x | replace " " "_" | trunc 5 | upper }}`, "HELLO")
	f(`{{ trunc -5 .x }} {{ substr 6 11 .x }} {{ substr -1 5 .x }}`, "World World Hello")
	f(`{{ title "hello wide world" }}`, "Hello Wide World")
	f(`{{ trim "  a  " }}|{{ trimAll "/" .p }}|{{ trimPrefix "/" .p }}|{{ trimSuffix "/" .p }}`, "a|a/b|a/b/|/a/b")
	f(`{{ if contains "World" .x }}yes{{ end }} {{ hasPrefix "He" .x }} {{ hasSuffix "x" .x }}`, "yes true false")
	f(`{{ repeat 3 "ab" }}|{{ indent 2 "a\nb" }}|{{ nindent 1 "c" }}`, "ababab|  a\n  b|\n c")
	f(`[{{ alignLeft 5 "hi" }}][{{ alignRight 5 "hi" }}][{{ alignLeft 2 "hello" }}][{{ alignRight 2 "hello" }}]`, "[hi   ][   hi][he][lo]")
	f(`{{ .e | default "-" }} {{ .x | default "-" }} {{ default "d" }}`, "- Hello World d")
	f(`{{ b64enc "hi" }} {{ b64dec "aGk=" }} {{ urlencode "a b&c" }} {{ urldecode "a+b%26c" }}`, "aGk= hi a+b%26c a b&c")
	f(`{{ regexReplaceAll "(o)" .x "[$1]" }} {{ regexReplaceAllLiteral "o" .x "$1" }} {{ count "o" .x }}`, "Hell[o] W[o]rld Hell$1 W$1rld 2")
	f(`{{ range $v := (fromJson .j).k }}{{ $v }};{{ end }}`, "1;2;")
	f(`{{ add 1 2 "3" }} {{ sub 5 2 }} {{ mul 2 3 4 }} {{ div 10 3 }} {{ mod 10 3 }} {{ max 1 5 3 }} {{ min 4 2 8 }}`, "6 3 24 3 1 5 2")
	f(`{{ addf 1.5 2 }} {{ subf 5.5 2 1.5 }} {{ mulf 1.5 2 }} {{ divf 10 4 }} {{ maxf 1 2.5 }} {{ minf 1.5 3 }}`, "3.5 2 3 2.5 2.5 1.5")
	f(`{{ ceil 1.2 }} {{ floor 1.8 }} {{ round 123.555555 3 }} {{ round 123.88571428571 5 .2 }} {{ int "7" }} {{ float64 "3.5" }} {{ .n | int | add 1 }}`, "2 1 123.556 123.88572 7 3.5 43")
	f(`{{ duration "1m30s" }} {{ duration_seconds "250ms" }} {{ bytes "2KiB" }}`, "90 0.25 2048")
	f(`{{ date "2006-01-02" (unixToTime "1700000000") }} {{ unixToTime "19675" | unixEpoch }} {{ (toDateInZone "2006-01-02" "UTC" "2021-11-02") | unixEpochNanos }}`, "2023-11-14 1699920000 1635811200000000000")
	f(`{{ printf "%05d|%-3s|" 42 "a" }}{{ eq .n "42" }}`, "00042|a  |true")
}
