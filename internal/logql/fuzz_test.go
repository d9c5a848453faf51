package logql

import (
	"context"
	"reflect"
	"strconv"
	"testing"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// FuzzParse checks that parsing never panics and that every parsed query
// prints to canonical LogQL that parses back to the same AST and prints the
// same again.
func FuzzParse(f *testing.F) {
	for _, c := range parseCases {
		f.Add(c[0])
	}
	for _, s := range []string{
		`{a="b"} | json | line_format "{{ .x | default \"-\" }}"`,
		`{a="b"} |> "<a> <_>" | pattern "<a> <b>" | x > 1 or y < -2`,
		"{a=`\\x`} | regexp `(?P<n>.)`",
		`sum(rate({a="b"}[1m])) by (x) > on (x) group_left (y) 1`,
		`{a="b"} | logfmt --strict --keep-empty a, b="c"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		e, err := ParseExpr(in)
		if err != nil {
			return
		}
		s := e.String()
		e2, err := ParseExpr(s)
		if err != nil {
			t.Fatalf("canonical form of %q does not parse: %q: %v", in, s, err)
		}
		if !reflect.DeepEqual(e, e2) {
			t.Fatalf("canonical form of %q parses differently: %q\n%#v\n%#v", in, s, e, e2)
		}
		if s2 := e2.String(); s2 != s {
			t.Fatalf("canonical form of %q is not stable:\n%q\n%q", in, s, s2)
		}
	})
}

// FuzzPipeline runs the line parsers and filters on arbitrary lines: they
// must not panic, and a label set must stay sorted with unique names.
func FuzzPipeline(f *testing.F) {
	for _, s := range []string{
		`{"a":"x","b":{"c":[1,{"d":2}],"e":"\u00e9\ud83d\ude00"},"f":null}`,
		`k=v q="a \"b\"" bad =x y="unterminated`,
		`{"_entry":"inner","pod":"p"}`,
		"\x1b[31mred\x1b[0m 10.1.2.3:80 [2001:db8::1]",
		`1.2.3.4 - bob [x] "GET /p HTTP/1.1" 200`,
	} {
		f.Add([]byte(s))
	}
	var pipes []*pipeline
	for _, q := range []string{
		`| json`, `| json a="b.c[1].d", e=` + "`" + `x["y"]` + "`",
		`| logfmt`, `| logfmt --strict --keep-empty`, `| unpack`,
		`| pattern "<ip> - <user> [<_>] \"<method> <_>\" <status>"`,
		"| regexp `(?P<k>\\w+)=(?P<v>\\S*)`", `| decolorize`,
		`|= ip("10.0.0.0/8") or ip("2001:db8::/32")`, `|> "<_> - <_>"`,
		`| json | line_format "{{.a}} {{__line__}}" | label_format x="{{.k | upper}}"`,
	} {
		e, err := ParseExpr(`{a="b"} ` + q)
		if err != nil {
			f.Fatal(err)
		}
		p, err := newPipeline(e.(*LogExpr).Pipeline, nil, nil)
		if err != nil {
			f.Fatal(err)
		}
		pipes = append(pipes, p)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		for _, p := range pipes {
			if _, ok := p.run(1, line, logmodel.FromPairs("a", "b"), logmodel.FromPairs("m", "n")); !ok {
				continue
			}
			ls := p.lb.labels()
			for i := 1; i < len(ls); i++ {
				if ls[i-1].Name >= ls[i].Name {
					t.Fatalf("labels not sorted and unique: %v", ls)
				}
			}
		}
	})
}

// FuzzEval evaluates arbitrary queries over a few entries: no query may
// panic the engine.
func FuzzEval(f *testing.F) {
	for _, c := range parseCases {
		f.Add(c[0])
	}
	src := &MemSource{Parallelism: 2}
	for i := range 40 {
		var line string
		switch i % 4 {
		case 0:
			line = `{"level":"error","n":` + strconv.Itoa(i) + `,"d":"1.5s","s":"2KB","ip":"10.0.0.1"}`
		case 1:
			line = "level=info n=" + strconv.Itoa(i) + ` msg="a b" d=20ms`
		case 2:
			line = "1.2.3.4 - bob [x] \"GET /p HTTP/1.1\" 200 \x1b[31mred\x1b[0m"
		default:
			line = "plain text with error " + strconv.Itoa(i)
		}
		src.Entries = append(src.Entries, Entry{
			Labels:    logmodel.FromPairs("app", "foo", "pod", "p"+strconv.Itoa(i%3)),
			Timestamp: int64(i) * 15e9, Line: []byte(line), Metadata: logmodel.FromPairs("trace", strconv.Itoa(i%2)),
		})
	}
	e, err := NewEngine(src, Config{MaxSeries: 1000, MaxPoints: 100})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in string) {
		expr, err := ParseExpr(in)
		if err != nil {
			return
		}
		ctx := context.Background()
		if !IsMetric(expr) {
			_, _, _ = e.QueryLogs(ctx, expr, 0, 600e9, logmodel.Backward, 5)
			return
		}
		_, _ = e.QueryInstant(ctx, expr, 300e9)
		_, _ = e.QueryRange(ctx, expr, 0, 600e9, 60e9)
	})
}
