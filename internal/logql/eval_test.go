package logql

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
)

// loghubDir holds real log samples, outside the repository.
const loghubDir = "../../../shared/data/loghub"

const (
	t0  = int64(1_700_000_000) * int64(time.Second) // the first entry of each app
	gap = int64(250 * time.Millisecond)             // between entries of one app
)

// rec is a test entry with the fields a reference evaluator needs.
type rec struct {
	app    string
	ts     int64
	line   string
	fields map[string]string // structured fields, for the HDFS apps
}

// fixture is the loghub data as entries of several apps:
//
//	openssh, apache, linux: raw lines (apache with structured metadata
//	  stream=stderr on [error] lines, else stdout);
//	hdfs-json, hdfs-logfmt: HDFS records rendered as JSON and logfmt.
type fixture struct {
	src  *MemSource
	recs map[string][]rec
}

func readLines(t testing.TB, name string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(loghubDir, name))
	if err != nil {
		t.Skipf("loghub data not available: %v", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func readHDFS(t testing.TB) []map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(loghubDir, "HDFS_2k.log_structured.csv"))
	if err != nil {
		t.Skipf("loghub data not available: %v", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, r := range rows[1:] {
		out = append(out, map[string]string{
			"date": r[1], "time": r[2], "pid": r[3], "level": r[4], "component": r[5], "msg": r[6],
		})
	}
	return out
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	fx := &fixture{src: &MemSource{Parallelism: 2}, recs: map[string][]rec{}}
	add := func(app, line string, fields map[string]string, meta logmodel.Labels) {
		i := len(fx.recs[app])
		r := rec{app: app, ts: t0 + int64(i)*gap, line: line, fields: fields}
		fx.recs[app] = append(fx.recs[app], r)
		fx.src.Entries = append(fx.src.Entries, Entry{
			Labels:    logmodel.FromPairs("app", app, "env", "test"),
			Timestamp: r.ts, Line: []byte(line), Metadata: meta,
		})
	}
	for _, l := range readLines(t, "OpenSSH_2k.log") {
		add("openssh", l, nil, nil)
	}
	for _, l := range readLines(t, "Linux_2k.log") {
		add("linux", l, nil, nil)
	}
	for _, l := range readLines(t, "Apache_2k.log") {
		stream := "stdout"
		if strings.Contains(l, "[error]") {
			stream = "stderr"
		}
		add("apache", l, nil, logmodel.FromPairs("stream", stream))
	}
	for _, h := range readHDFS(t) {
		pid, _ := strconv.Atoi(h["pid"])
		js, err := json.Marshal(map[string]any{
			"level": h["level"], "component": h["component"], "pid": pid, "msg": h["msg"],
			"meta": map[string]any{"date": h["date"], "tags": []string{"a"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		add("hdfs-json", string(js), h, nil)
		add("hdfs-logfmt", fmt.Sprintf("level=%s component=%s pid=%s took=%sms msg=%s",
			h["level"], h["component"], h["pid"], h["pid"], strconv.Quote(h["msg"])), h, nil)
	}
	// Interleave apps so that workers see them mixed.
	sort.SliceStable(fx.src.Entries, func(i, j int) bool { return fx.src.Entries[i].Timestamp < fx.src.Entries[j].Timestamp })
	return fx
}

var fixtureCache *fixture

func getFixture(t testing.TB) *fixture {
	t.Helper()
	if fixtureCache == nil {
		fixtureCache = newFixture(t)
	}
	return fixtureCache
}

func newTestEngine(t testing.TB, src Source) *Engine {
	t.Helper()
	e, err := NewEngine(src, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mustParse(t testing.TB, q string) Expr {
	t.Helper()
	e, err := ParseExpr(q)
	if err != nil {
		t.Fatalf("ParseExpr(%q): %v", q, err)
	}
	return e
}

// queryLines runs a log query over all the data, forward, without limit,
// and returns "labels line" strings in time order.
func queryLines(t *testing.T, e *Engine, q string) []string {
	t.Helper()
	streams, _, err := e.QueryLogs(context.Background(), mustParse(t, q), t0, t0+int64(time.Hour), logmodel.Forward, 0)
	if err != nil {
		t.Fatalf("QueryLogs(%q): %v", q, err)
	}
	type tl struct {
		ts int64
		s  string
	}
	var all []tl
	for _, s := range streams {
		for _, en := range s.Entries {
			all = append(all, tl{en.Timestamp, s.Labels.String() + " " + en.Line})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].ts < all[j].ts })
	out := make([]string, len(all))
	for i, x := range all {
		out[i] = x.s
	}
	return out
}

func checkLines(t *testing.T, q string, got, want []string) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: the reference selects nothing; the test is too weak", q)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: got %d lines; want %d\nfirst got:  %q\nfirst want: %q", q, len(got), len(want), first(got), first(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: line %d:\ngot  %s\nwant %s", q, i, got[i], want[i])
		}
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// ref selects the records of app for which keep returns a label set and a
// line, rendered as queryLines does.
func ref(fx *fixture, app string, keep func(r rec) (logmodel.Labels, string, bool)) []string {
	var out []string
	for _, r := range fx.recs[app] {
		if ls, line, ok := keep(r); ok {
			out = append(out, ls.String()+" "+line)
		}
	}
	return out
}

func streamLabels(app string, kv ...string) logmodel.Labels {
	return logmodel.FromPairs(append([]string{"app", app, "env", "test"}, kv...)...)
}

func TestLineFilters(t *testing.T) {
	fx := getFixture(t)
	e := newTestEngine(t, fx.src)
	f := func(q, app string, keep func(line string) bool) {
		t.Helper()
		want := ref(fx, app, func(r rec) (logmodel.Labels, string, bool) {
			return streamLabels(app), r.line, keep(r.line)
		})
		checkLines(t, q, queryLines(t, e, q), want)
	}
	f(`{app="openssh"} |= "Failed password" != "invalid user"`, "openssh", func(l string) bool {
		return strings.Contains(l, "Failed password") && !strings.Contains(l, "invalid user")
	})
	f(`{app="openssh"} |= "Accepted" or "Received disconnect"`, "openssh", func(l string) bool {
		return strings.Contains(l, "Accepted") || strings.Contains(l, "Received disconnect")
	})
	f(`{app="openssh"} != "Failed" or "Invalid"`, "openssh", func(l string) bool {
		return !strings.Contains(l, "Failed") && !strings.Contains(l, "Invalid")
	})
	re := regexp.MustCompile(`port \d+ ssh2`)
	f("{app=\"openssh\"} |~ `port \\d+ ssh2` !~ `(?i)root`", "openssh", func(l string) bool {
		return re.MatchString(l) && !strings.Contains(strings.ToLower(l), "root")
	})
	f(`{app="openssh"} |> "<_> sshd[<pid>]: Invalid user <user> from <ip>"`, "openssh", func(l string) bool {
		i := strings.Index(l, " sshd[")
		j := strings.Index(l, "]: Invalid user ")
		return i >= 0 && j > i && strings.Contains(l[j:], " from ")
	})
	f(`{app="openssh"} !> "<_>[preauth]"`, "openssh", func(l string) bool { return !strings.HasSuffix(l, "[preauth]") })
	f(`{app="openssh"} |= ip("173.234.31.0/24")`, "openssh", func(l string) bool { return strings.Contains(l, "173.234.31.") })
	f(`{app="linux"} |= ip("218.188.2.4")`, "linux", func(l string) bool {
		return regexp.MustCompile(`(^|[^0-9.])218\.188\.2\.4($|[^0-9])`).MatchString(l)
	})
	// A filter after line_format applies to the new line.
	q := `{app="openssh"} | line_format "{{ __line__ | upper }}" |= "FAILED"`
	checkLines(t, q, queryLines(t, e, q), ref(fx, "openssh", func(r rec) (logmodel.Labels, string, bool) {
		u := strings.ToUpper(r.line)
		return streamLabels("openssh"), u, strings.Contains(u, "FAILED")
	}))
}

func TestLimitAndDirection(t *testing.T) {
	fx := getFixture(t)
	e := newTestEngine(t, fx.src)
	for _, dir := range []logmodel.Direction{logmodel.Forward, logmodel.Backward} {
		for _, q := range []string{`{app="openssh"} |= "Failed"`, `{app="openssh"} | logfmt | x!="y" |= "Failed"`} {
			streams, stats, err := e.QueryLogs(context.Background(), mustParse(t, q), t0, t0+int64(time.Hour), dir, 7)
			if err != nil {
				t.Fatal(err)
			}
			var want []rec
			for _, r := range fx.recs["openssh"] {
				if strings.Contains(r.line, "Failed") {
					want = append(want, r)
				}
			}
			if dir == logmodel.Backward {
				want = want[len(want)-7:]
				for i, j := 0, len(want)-1; i < j; i, j = i+1, j-1 {
					want[i], want[j] = want[j], want[i]
				}
			} else {
				want = want[:7]
			}
			if len(streams) != 1 || len(streams[0].Entries) != 7 || stats.EntriesReturned != 7 {
				t.Fatalf("%s %v: got %d streams, stats %+v; want 1 stream of 7", q, dir, len(streams), stats)
			}
			for i, en := range streams[0].Entries {
				if en.Timestamp != want[i].ts || en.Line != want[i].line {
					t.Fatalf("%s %v: entry %d = %d %q; want %d %q", q, dir, i, en.Timestamp, en.Line, want[i].ts, want[i].line)
				}
			}
		}
	}
}

func TestParsers(t *testing.T) {
	fx := getFixture(t)
	e := newTestEngine(t, fx.src)
	q := `{app="hdfs-json"} | json | level="WARN"`
	checkLines(t, q, queryLines(t, e, q), ref(fx, "hdfs-json", func(r rec) (logmodel.Labels, string, bool) {
		h := r.fields
		return streamLabels("hdfs-json", "level", h["level"], "component", h["component"], "pid", h["pid"],
			"msg", h["msg"], "meta_date", h["date"]), r.line, h["level"] == "WARN"
	}))
	q = `{app="hdfs-json"} | json lvl="level", d="meta.date", tag="meta.tags[0]", tags="meta.tags" | lvl="WARN"`
	checkLines(t, q, queryLines(t, e, q), ref(fx, "hdfs-json", func(r rec) (logmodel.Labels, string, bool) {
		return streamLabels("hdfs-json", "lvl", r.fields["level"], "d", r.fields["date"], "tag", "a", "tags", `["a"]`),
			r.line, r.fields["level"] == "WARN"
	}))
	q = `{app="hdfs-logfmt"} | logfmt | level="INFO" and pid > 200 | took < 1s`
	checkLines(t, q, queryLines(t, e, q), ref(fx, "hdfs-logfmt", func(r rec) (logmodel.Labels, string, bool) {
		h := r.fields
		pid, _ := strconv.Atoi(h["pid"])
		return streamLabels("hdfs-logfmt", "level", h["level"], "component", h["component"], "pid", h["pid"],
			"took", h["pid"]+"ms", "msg", h["msg"]), r.line, h["level"] == "INFO" && pid > 200 && pid < 1000
	}))
	q = `{app="hdfs-logfmt"} | logfmt --strict c="component", pid | pid >= 500`
	checkLines(t, q, queryLines(t, e, q), ref(fx, "hdfs-logfmt", func(r rec) (logmodel.Labels, string, bool) {
		pid, _ := strconv.Atoi(r.fields["pid"])
		return streamLabels("hdfs-logfmt", "c", r.fields["component"], "pid", r.fields["pid"]), r.line, pid >= 500
	}))
	apache := regexp.MustCompile(`^\[([^\]]*)\] \[([^\]]*)\] (.*)$`)
	q = `{app="apache"} | pattern "[<_>] [<level>] <msg>" | level="error" | drop msg`
	checkLines(t, q, queryLines(t, e, q), ref(fx, "apache", func(r rec) (logmodel.Labels, string, bool) {
		m := apache.FindStringSubmatch(r.line)
		return streamLabels("apache", "level", "error", "stream", "stderr"), r.line, m != nil && m[2] == "error"
	}))
	ssh := regexp.MustCompile(`sshd\[(\d+)\]: (\w+)`)
	q = "{app=\"openssh\"} | regexp `sshd\\[(?P<pid>\\d+)\\]: (?P<word>\\w+)` | word=\"Accepted\" | keep pid, word"
	checkLines(t, q, queryLines(t, e, q), ref(fx, "openssh", func(r rec) (logmodel.Labels, string, bool) {
		m := ssh.FindStringSubmatch(r.line)
		if m == nil || m[2] != "Accepted" {
			return nil, "", false
		}
		return logmodel.FromPairs("pid", m[1], "word", m[2]), r.line, true
	}))
	// json on text lines sets the error label; only string filters drop it.
	q = `{app="openssh"} |= "Accepted" | json | pid > 1 | __error__="JSONParserErr" | drop __error_details__`
	checkLines(t, q, queryLines(t, e, q), ref(fx, "openssh", func(r rec) (logmodel.Labels, string, bool) {
		return streamLabels("openssh", "__error__", "JSONParserErr"), r.line, strings.Contains(r.line, "Accepted")
	}))
}

func TestFormatters(t *testing.T) {
	fx := getFixture(t)
	e := newTestEngine(t, fx.src)
	q := `{app="hdfs-logfmt"} | logfmt | level="WARN"
		| line_format "{{.level | lower}} {{ printf \"%05d\" (int .pid) }} {{ .component | trimPrefix \"dfs.\" | ToUpper }}"
		| label_format lvl="{{ ToLower .level }}", comp=component, n=` + "`{{ add .pid 1 }}`" + `
		| keep lvl, comp, n`
	checkLines(t, q, queryLines(t, e, q), ref(fx, "hdfs-logfmt", func(r rec) (logmodel.Labels, string, bool) {
		h := r.fields
		pid, _ := strconv.Atoi(h["pid"])
		line := fmt.Sprintf("%s %05d %s", strings.ToLower(h["level"]), pid, strings.ToUpper(strings.TrimPrefix(h["component"], "dfs.")))
		return logmodel.FromPairs("lvl", strings.ToLower(h["level"]), "comp", h["component"], "n", strconv.Itoa(pid+1)),
			line, h["level"] == "WARN"
	}))
	q = `{app="hdfs-json"} | json | level="WARN" | line_format "{{ regexReplaceAll \"blk_-?[0-9]+\" .msg \"BLK\" | default \"-\" }}" | keep level`
	blk := regexp.MustCompile(`blk_-?[0-9]+`)
	checkLines(t, q, queryLines(t, e, q), ref(fx, "hdfs-json", func(r rec) (logmodel.Labels, string, bool) {
		return logmodel.FromPairs("level", "WARN"), blk.ReplaceAllString(r.fields["msg"], "BLK"), r.fields["level"] == "WARN"
	}))
}

// step evaluates a reference at each step of [start, end].
type refPoint struct {
	labels string
	t      int64
	v      float64
}

// matrixPoints flattens a Matrix, Vector or Scalar to sorted points.
func valuePoints(t *testing.T, v Value) []refPoint {
	t.Helper()
	var out []refPoint
	switch v := v.(type) {
	case Matrix:
		for _, s := range v {
			for _, p := range s.Points {
				out = append(out, refPoint{s.Labels.String(), p.T, p.V})
			}
		}
	case Vector:
		for _, s := range v {
			out = append(out, refPoint{s.Labels.String(), s.T, s.V})
		}
	case Scalar:
		out = append(out, refPoint{"scalar", v.T, v.V})
	default:
		t.Fatalf("unexpected value %T", v)
	}
	sortPoints(out)
	return out
}

func sortPoints(p []refPoint) {
	sort.Slice(p, func(i, j int) bool {
		if p[i].labels != p[j].labels {
			return p[i].labels < p[j].labels
		}
		return p[i].t < p[j].t
	})
}

func checkPoints(t *testing.T, q string, got, want []refPoint) {
	t.Helper()
	sortPoints(want)
	if len(want) == 0 {
		t.Fatalf("%s: the reference is empty; the test is too weak", q)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: got %d points; want %d\ngot  %v\nwant %v", q, len(got), len(want), head(got), head(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.labels != w.labels || g.t != w.t || !approxEqual(g.v, w.v) {
			t.Fatalf("%s: point %d: got %s@%d=%v; want %s@%d=%v", q, i, g.labels, g.t, g.v, w.labels, w.t, w.v)
		}
	}
}

func head(p []refPoint) []refPoint { return p[:min(len(p), 4)] }

func approxEqual(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return a == b || math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}

func rangeQuery(t *testing.T, e *Engine, q string, start, end int64, step time.Duration) []refPoint {
	t.Helper()
	v, err := e.QueryRange(context.Background(), mustParse(t, q), start, end, step)
	if err != nil {
		t.Fatalf("QueryRange(%q): %v", q, err)
	}
	return valuePoints(t, v)
}

func instantQuery(t *testing.T, e *Engine, q string, ts int64) Value {
	t.Helper()
	v, err := e.QueryInstant(context.Background(), mustParse(t, q), ts)
	if err != nil {
		t.Fatalf("QueryInstant(%q): %v", q, err)
	}
	return v
}

// windowRef computes, at each step, a value per group over the records of
// app in the window (t-offset-rng, t-offset].
func windowRef(fx *fixture, app string, start, end int64, step, rng, offset time.Duration,
	group func(r rec) (string, bool), agg func(rs []rec) float64) []refPoint {
	var out []refPoint
	for t := start; t <= end; t += int64(step) {
		groups := map[string][]rec{}
		hi, lo := t-int64(offset), t-int64(offset)-int64(rng)
		for _, r := range fx.recs[app] {
			if r.ts > lo && r.ts <= hi {
				if g, ok := group(r); ok {
					groups[g] = append(groups[g], r)
				}
			}
		}
		for g, rs := range groups {
			out = append(out, refPoint{g, t, agg(rs)})
		}
	}
	return out
}

func count(rs []rec) float64 { return float64(len(rs)) }

func TestRangeAggregations(t *testing.T) {
	fx := getFixture(t)
	e := newTestEngine(t, fx.src)
	start, end := t0+int64(30*time.Second), t0+int64(9*time.Minute)
	byLevel := func(r rec) (string, bool) { return logmodel.FromPairs("level", r.fields["level"]).String(), true }

	q := `sum by (level) (count_over_time({app="hdfs-logfmt"} | logfmt [1m]))`
	checkPoints(t, q, rangeQuery(t, e, q, start, end, 30*time.Second),
		windowRef(fx, "hdfs-logfmt", start, end, 30*time.Second, time.Minute, 0, byLevel, count))

	q = `sum(rate({app="openssh"} |= "Failed" [2m])) by (app)`
	checkPoints(t, q, rangeQuery(t, e, q, start, end, 45*time.Second),
		windowRef(fx, "openssh", start, end, 45*time.Second, 2*time.Minute, 0, func(r rec) (string, bool) {
			return `{app="openssh"}`, strings.Contains(r.line, "Failed")
		}, func(rs []rec) float64 { return float64(len(rs)) / 120 }))

	q = `count_over_time({app="openssh"} |= "Failed" [1m])`
	checkPoints(t, q, rangeQuery(t, e, q, start, end, 10*time.Second),
		windowRef(fx, "openssh", start, end, 10*time.Second, time.Minute, 0, func(r rec) (string, bool) {
			return streamLabels("openssh").String(), strings.Contains(r.line, "Failed")
		}, count))

	// Step larger than the range leaves gaps between windows.
	q = `bytes_over_time({app="apache"}[20s])`
	checkPoints(t, q, rangeQuery(t, e, q, start, end, time.Minute),
		windowRef(fx, "apache", start, end, time.Minute, 20*time.Second, 0, func(r rec) (string, bool) {
			stream := "stdout"
			if strings.Contains(r.line, "[error]") {
				stream = "stderr"
			}
			return streamLabels("apache", "stream", stream).String(), true
		}, func(rs []rec) float64 {
			n := 0
			for _, r := range rs {
				n += len(r.line)
			}
			return float64(n)
		}))

	q = `count_over_time({app="openssh"}[1m] offset 2m)`
	checkPoints(t, q, rangeQuery(t, e, q, start, end, 30*time.Second),
		windowRef(fx, "openssh", start, end, 30*time.Second, time.Minute, 2*time.Minute, func(r rec) (string, bool) {
			return streamLabels("openssh").String(), true
		}, count))

	pid := func(r rec) float64 { v, _ := strconv.ParseFloat(r.fields["pid"], 64); return v }
	q = `quantile_over_time(0.9, {app="hdfs-logfmt"} | logfmt | unwrap pid [2m]) by (level)`
	checkPoints(t, q, rangeQuery(t, e, q, start, end, time.Minute),
		windowRef(fx, "hdfs-logfmt", start, end, time.Minute, 2*time.Minute, 0, byLevel, func(rs []rec) float64 {
			vals := make([]float64, len(rs))
			for i, r := range rs {
				vals[i] = pid(r)
			}
			sort.Float64s(vals)
			rank := 0.9 * float64(len(vals)-1)
			lo := math.Floor(rank)
			hi := math.Min(lo+1, float64(len(vals)-1))
			return vals[int(lo)]*(1-(rank-lo)) + vals[int(hi)]*(rank-lo)
		}))

	aggs := map[string]func(rs []rec) float64{
		"sum_over_time": func(rs []rec) float64 {
			s := 0.0
			for _, r := range rs {
				s += pid(r)
			}
			return s
		},
		"avg_over_time": func(rs []rec) float64 {
			s := 0.0
			for _, r := range rs {
				s += pid(r)
			}
			return s / float64(len(rs))
		},
		"max_over_time": func(rs []rec) float64 {
			m := math.Inf(-1)
			for _, r := range rs {
				m = math.Max(m, pid(r))
			}
			return m
		},
		"min_over_time": func(rs []rec) float64 {
			m := math.Inf(1)
			for _, r := range rs {
				m = math.Min(m, pid(r))
			}
			return m
		},
		"first_over_time": func(rs []rec) float64 { return pid(rs[0]) },
		"last_over_time":  func(rs []rec) float64 { return pid(rs[len(rs)-1]) },
		"stddev_over_time": func(rs []rec) float64 {
			mean := 0.0
			for _, r := range rs {
				mean += pid(r)
			}
			mean /= float64(len(rs))
			v := 0.0
			for _, r := range rs {
				v += (pid(r) - mean) * (pid(r) - mean)
			}
			return math.Sqrt(v / float64(len(rs)))
		},
	}
	for op, agg := range aggs {
		// duration(took) reads "148ms" as 0.148 seconds: scale back.
		q = op + `({app="hdfs-logfmt"} | logfmt | unwrap duration(took) [90s])`
		scaled := func(rs []rec) float64 { return agg(rs) / 1000 }
		checkPoints(t, q, rangeQuery(t, e, q, start, end, time.Minute),
			windowRef(fx, "hdfs-logfmt", start, end, time.Minute, 90*time.Second, 0, func(r rec) (string, bool) {
				h := r.fields
				return streamLabels("hdfs-logfmt", "level", h["level"], "component", h["component"], "pid", h["pid"], "msg", h["msg"]).String(), true
			}, scaled))
	}
}

func TestVectorAggregationsAndBinOps(t *testing.T) {
	fx := getFixture(t)
	e := newTestEngine(t, fx.src)
	ts := t0 + int64(6*time.Minute)
	win := func(app string, rng time.Duration, group func(r rec) (string, bool)) map[string]float64 {
		m := map[string]float64{}
		for _, p := range windowRef(fx, app, ts, ts, time.Second, rng, 0, group, count) {
			m[p.labels] = p.v
		}
		return m
	}
	comp := func(r rec) (string, bool) { return r.fields["component"], true }
	counts := win("hdfs-json", 5*time.Minute, comp)

	// topk orders by value, descending.
	q := `topk(3, sum by (component) (count_over_time({app="hdfs-json"} | json [5m])))`
	v := instantQuery(t, e, q, ts).(Vector)
	type kv struct {
		k string
		v float64
	}
	var all []kv
	for k, c := range counts {
		all = append(all, kv{k, c})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].v != all[j].v {
			return all[i].v > all[j].v
		}
		return logmodel.FromPairs("component", all[i].k).String() < logmodel.FromPairs("component", all[j].k).String()
	})
	if len(v) != 3 {
		t.Fatalf("%s: got %d samples; want 3", q, len(v))
	}
	for i, s := range v {
		if s.Labels.Get("component") != all[i].k || s.V != all[i].v {
			t.Errorf("%s: sample %d = %s %v; want %s %v", q, i, s.Labels, s.V, all[i].k, all[i].v)
		}
	}

	// group_left: the share of each (level, component) in its level.
	both := win("hdfs-json", 5*time.Minute, func(r rec) (string, bool) { return r.fields["level"] + "/" + r.fields["component"], true })
	levels := win("hdfs-json", 5*time.Minute, func(r rec) (string, bool) { return r.fields["level"], true })
	q = `sum by (level, component) (count_over_time({app="hdfs-json"} | json [5m]))
		/ on (level) group_left sum by (level) (count_over_time({app="hdfs-json"} | json [5m]))`
	var want []refPoint
	for k, c := range both {
		lvl, cmp, _ := strings.Cut(k, "/")
		want = append(want, refPoint{logmodel.FromPairs("level", lvl, "component", cmp).String(), ts, c / levels[lvl]})
	}
	checkPoints(t, q, valuePoints(t, instantQuery(t, e, q, ts)), want)

	// ignoring with comparison and bool.
	q = `sum by (level, app) (count_over_time({app="hdfs-json"} | json [5m])) > bool ignoring (level) sum by (app) (count_over_time({app="hdfs-json"} | json [5m])) / 10`
	total := 0.0
	for _, c := range levels {
		total += c
	}
	if len(levels) != 2 {
		t.Fatalf("expected two levels in the window, got %v", levels)
	}
	// Both levels map to {app="hdfs-json"} after ignoring(level) in a
	// one-to-one match, so the result labels collide: an error.
	if _, err := e.QueryInstant(context.Background(), mustParse(t, q), ts); err == nil {
		t.Errorf("%s: succeeded; want a matching error", q)
	}
	q = `sum by (level, app) (count_over_time({app="hdfs-json"} | json [5m])) > bool ignoring (level) group_left sum by (app) (count_over_time({app="hdfs-json"} | json [5m])) / 10`
	want = nil
	for lvl, c := range levels {
		b := 0.0
		if c > total/10 {
			b = 1
		}
		want = append(want, refPoint{logmodel.FromPairs("app", "hdfs-json", "level", lvl).String(), ts, b})
	}
	checkPoints(t, q, valuePoints(t, instantQuery(t, e, q, ts)), want)

	// Arithmetic, precedence and filtering comparisons with scalars.
	q = `sum by (level) (count_over_time({app="hdfs-json"} | json [5m])) * 2 + 1 > 100`
	want = nil
	for lvl, c := range levels {
		if c*2+1 > 100 {
			want = append(want, refPoint{logmodel.FromPairs("level", lvl).String(), ts, c*2 + 1})
		}
	}
	checkPoints(t, q, valuePoints(t, instantQuery(t, e, q, ts)), want)

	q = `avg(sum by (level) (count_over_time({app="hdfs-json"} | json [5m]))) - min(sum by (level) (count_over_time({app="hdfs-json"} | json [5m]))) ^ 1`
	mn := math.Inf(1)
	for _, c := range levels {
		mn = math.Min(mn, c)
	}
	checkPoints(t, q, valuePoints(t, instantQuery(t, e, q, ts)), []refPoint{{"{}", ts, total/float64(len(levels)) - mn}})

	// Set operators.
	q = `sum by (level) (count_over_time({app="hdfs-json"} | json | level="WARN" [5m])) or sum by (level) (count_over_time({app="hdfs-json"} | json [5m]))`
	want = nil
	for lvl, c := range levels {
		want = append(want, refPoint{logmodel.FromPairs("level", lvl).String(), ts, c})
	}
	checkPoints(t, q, valuePoints(t, instantQuery(t, e, q, ts)), want)
	q = `sum by (level) (count_over_time({app="hdfs-json"} | json [5m])) unless sum by (level) (count_over_time({app="hdfs-json"} | json | level="WARN" [5m]))`
	checkPoints(t, q, valuePoints(t, instantQuery(t, e, q, ts)), []refPoint{{`{level="INFO"}`, ts, levels["INFO"]}})

	// Scalars only.
	checkPoints(t, "1 + 2 * 3 ^ 2", valuePoints(t, instantQuery(t, e, "1 + 2 * 3 ^ 2", ts)), []refPoint{{"scalar", ts, 19}})
	checkPoints(t, "2 > 1", valuePoints(t, instantQuery(t, e, "2 > 1", ts)), []refPoint{{"scalar", ts, 1}})

	// vector() stands in for nothing.
	q = `sum(count_over_time({app="nothing"}[5m])) or vector(0)`
	checkPoints(t, q, valuePoints(t, instantQuery(t, e, q, ts)), []refPoint{{"{}", ts, 0}})

	// label_replace.
	q = `label_replace(sum by (component) (count_over_time({app="hdfs-json"} | json [5m])), "pkg", "$1", "component", "dfs\\.(\\w+).*")`
	want = nil
	pkg := regexp.MustCompile(`^dfs\.(\w+).*$`)
	for c, n := range counts {
		ls := logmodel.FromPairs("component", c)
		if m := pkg.FindStringSubmatch(c); m != nil {
			ls = logmodel.FromPairs("component", c, "pkg", m[1])
		}
		want = append(want, refPoint{ls.String(), ts, n})
	}
	checkPoints(t, q, valuePoints(t, instantQuery(t, e, q, ts)), want)

	// Other vector aggregations.
	q = `count(sum by (component) (count_over_time({app="hdfs-json"} | json [5m])))`
	checkPoints(t, q, valuePoints(t, instantQuery(t, e, q, ts)), []refPoint{{"{}", ts, float64(len(counts))}})
	q = `max without (component) (sum by (component, level) (count_over_time({app="hdfs-json"} | json [5m])))`
	maxBy := map[string]float64{}
	for k, c := range both {
		lvl, _, _ := strings.Cut(k, "/")
		maxBy[lvl] = math.Max(maxBy[lvl], c)
	}
	want = nil
	for lvl, c := range maxBy {
		want = append(want, refPoint{logmodel.FromPairs("level", lvl).String(), ts, c})
	}
	checkPoints(t, q, valuePoints(t, instantQuery(t, e, q, ts)), want)

	q = `sort(sum by (component) (count_over_time({app="hdfs-json"} | json [5m])))`
	sv := instantQuery(t, e, q, ts).(Vector)
	if len(sv) != len(counts) || !sort.SliceIsSorted(sv, func(i, j int) bool { return sv[i].V < sv[j].V }) {
		t.Errorf("%s: not sorted by value: %v", q, sv)
	}
}

func TestAbsentOverTime(t *testing.T) {
	fx := getFixture(t)
	e := newTestEngine(t, fx.src)
	q := `absent_over_time({app="nothing", env=~"t.*"}[1m])`
	ts := t0 + int64(time.Minute)
	checkPoints(t, q, valuePoints(t, instantQuery(t, e, q, ts)), []refPoint{{`{app="nothing"}`, ts, 1}})
	// The openssh app logs for 500s from t0: absent before and after.
	q = `absent_over_time({app="openssh"} |= "Failed" [30s])`
	start, end := t0-int64(2*time.Minute), t0+int64(12*time.Minute)
	var want []refPoint
	for ts := start; ts <= end; ts += int64(30 * time.Second) {
		present := false
		for _, r := range fx.recs["openssh"] {
			if r.ts > ts-int64(30*time.Second) && r.ts <= ts && strings.Contains(r.line, "Failed") {
				present = true
			}
		}
		if !present {
			want = append(want, refPoint{`{app="openssh"}`, ts, 1})
		}
	}
	checkPoints(t, q, rangeQuery(t, e, q, start, end, 30*time.Second), want)
}

func TestPipelineErrors(t *testing.T) {
	fx := getFixture(t)
	e := newTestEngine(t, fx.src)
	ts := t0 + int64(5*time.Minute)
	_, err := e.QueryInstant(context.Background(), mustParse(t, `sum(count_over_time({app="openssh"} | json [1m]))`), ts)
	var pe *PipelineError
	if !errors.As(err, &pe) || pe.Labels.Get("__error__") != "JSONParserErr" {
		t.Fatalf("got %v; want a PipelineError with JSONParserErr", err)
	}
	n := 0.0
	for _, r := range fx.recs["openssh"] {
		if r.ts > ts-int64(time.Minute) && r.ts <= ts {
			n++
		}
	}
	q := `sum(count_over_time({app="openssh"} | json | __error__!="" [1m]))`
	checkPoints(t, q, valuePoints(t, instantQuery(t, e, q, ts)), []refPoint{{"{}", ts, n}})
	q = `sum(count_over_time({app="openssh"} | json | __error__="" [1m])) or vector(-1)`
	checkPoints(t, q, valuePoints(t, instantQuery(t, e, q, ts)), []refPoint{{"{}", ts, -1}})
	// A conversion error after unwrap, then filtered.
	_, err = e.QueryInstant(context.Background(), mustParse(t, `sum(sum_over_time({app="hdfs-logfmt"} | logfmt | unwrap msg [1m]))`), ts)
	if !errors.As(err, &pe) || pe.Labels.Get("__error__") != "SampleExtractionErr" {
		t.Fatalf("got %v; want a PipelineError with SampleExtractionErr", err)
	}
	q = `sum(sum_over_time({app="hdfs-logfmt"} | logfmt | unwrap msg | __error__="" [1m])) or vector(0)`
	checkPoints(t, q, valuePoints(t, instantQuery(t, e, q, ts)), []refPoint{{"{}", ts, 0}})
}

func TestExtractedAndMetadata(t *testing.T) {
	src := &MemSource{Entries: []Entry{
		{Labels: logmodel.FromPairs("app", "x", "level", "stream"), Timestamp: 10, Line: []byte(`{"level":"info","a":{"b.c":1,"d":[1,2]},"e":null,"1x":true}`),
			Metadata: logmodel.FromPairs("app", "meta", "trace", "t1")},
		{Labels: logmodel.FromPairs("app", "x", "level", "stream"), Timestamp: 20, Line: []byte("level=warn level=error msg=\"a \\\"q\\\"\" bad key=v empty= =x"),
			Metadata: logmodel.FromPairs("trace", "t2")},
		{Labels: logmodel.FromPairs("app", "x", "level", "stream"), Timestamp: 30, Line: []byte(`{"_entry":"inner line","pod":"p1","n":5}`)},
		{Labels: logmodel.FromPairs("app", "x", "level", "stream"), Timestamp: 40, Line: []byte("\x1b[31mred\x1b[0m plain")},
	}}
	e := newTestEngine(t, src)
	f := func(q string, want ...string) {
		t.Helper()
		got := queryLinesRange(t, e, q)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:\ngot  %q\nwant %q", q, got, want)
		}
	}
	f(`{app="x"} |= "info" | json`,
		`{_1x="true", a_b_c="1", app="x", app_extracted="meta", e="", level="stream", level_extracted="info", trace="t1"} {"level":"info","a":{"b.c":1,"d":[1,2]},"e":null,"1x":true}`)
	f(`{app="x"} |= "warn" | logfmt`,
		`{app="x", key="v", level="stream", level_extracted="warn", msg="a \"q\"", trace="t2"} level=warn level=error msg="a \"q\"" bad key=v empty= =x`)
	f(`{app="x"} |= "warn" | logfmt --keep-empty | keep bad, empty`,
		`{bad="", empty=""} level=warn level=error msg="a \"q\"" bad key=v empty= =x`)
	f(`{app="x"} |= "warn" | logfmt --strict | keep __error__ | drop __error_details__`,
		`{__error__="LogfmtParserErr"} level=warn level=error msg="a \"q\"" bad key=v empty= =x`)
	f(`{app="x"} |= "_entry" | unpack | keep pod`, `{pod="p1"} inner line`)
	f(`{app="x"} |= "plain" | decolorize | keep app`, `{app="x"} red plain`)
	f(`{app="x"} | trace="t2" | label_format level=trace | keep level`,
		`{level="t2"} level=warn level=error msg="a \"q\"" bad key=v empty= =x`)
}

// queryLinesRange is queryLines over all time.
func queryLinesRange(t *testing.T, e *Engine, q string) []string {
	t.Helper()
	streams, _, err := e.QueryLogs(context.Background(), mustParse(t, q), 0, math.MaxInt64, logmodel.Forward, 0)
	if err != nil {
		t.Fatalf("QueryLogs(%q): %v", q, err)
	}
	var out []string
	for _, s := range streams {
		for _, en := range s.Entries {
			out = append(out, s.Labels.String()+" "+en.Line)
		}
	}
	return out
}

func TestPushdown(t *testing.T) {
	f := func(q string, wantMatchers, wantFilters string) {
		t.Helper()
		ms, fs := Pushdown(mustParse(t, q))
		if got := fmt.Sprint(ms); got != wantMatchers {
			t.Errorf("Pushdown(%s) matchers = %s; want %s", q, got, wantMatchers)
		}
		if got := fmt.Sprint(fs); got != wantFilters {
			t.Errorf("Pushdown(%s) filters = %s; want %s", q, got, wantFilters)
		}
	}
	f(`{a="b", c=~"d.*"} |= "x" != "y" |~ "z+" !~ "w" | json |= "after parser" | line_format "{{.a}}" |= "after format"`,
		`[a="b" c=~"d.*"]`, `[{contains x} {notcontains y} {regex (?s)(?:z+)} {notregex (?s)(?:w)} {contains after parser}]`)
	f(`{a="b"} |= "x" or "y.z" != "u" or "v" |> "<_>GET <_>"`, `[a="b"]`,
		`[{regex (?s)x|y\.z} {notcontains u} {notcontains v} {regex (?s)^.*GET .*$}]`)
	f(`{a="b"} |= ip("1.2.3.4") | unpack |= "x"`, `[a="b"]`, `[]`)
	f(`sum(rate({a="b", c="d"} |= "x" |= "y" [1m])) / sum(rate({a="b"} |= "y" [1m]))`, `[a="b"]`, `[{contains y}]`)
	f(`vector(1)`, `[]`, `[]`)
}

func TestEngineErrors(t *testing.T) {
	e := newTestEngine(t, &MemSource{})
	ctx := context.Background()
	if _, err := e.QueryRange(ctx, mustParse(t, `{a="b"}`), 0, 10, time.Second); !errors.Is(err, ErrBadQuery) {
		t.Errorf("QueryRange(log query) = %v; want ErrBadQuery", err)
	}
	if _, _, err := e.QueryLogs(ctx, mustParse(t, `vector(1)`), 0, 10, logmodel.Forward, 10); !errors.Is(err, ErrBadQuery) {
		t.Errorf("QueryLogs(metric query) = %v; want ErrBadQuery", err)
	}
	if _, err := e.QueryRange(ctx, mustParse(t, `vector(1)`), 0, int64(time.Hour), time.Millisecond); !errors.Is(err, ErrLimit) {
		t.Errorf("QueryRange(too many points) = %v; want ErrLimit", err)
	}
	if _, err := e.QueryRange(ctx, mustParse(t, `vector(1)`), 0, 10, 0); !errors.Is(err, ErrBadQuery) {
		t.Errorf("QueryRange(step 0) = %v; want ErrBadQuery", err)
	}
	if _, err := NewEngine(&MemSource{}, Config{MaxSeries: -1}); err == nil {
		t.Errorf("NewEngine(MaxSeries -1) succeeded; want an error")
	}
	src := &MemSource{}
	for i := range 10 {
		src.Entries = append(src.Entries, Entry{Labels: logmodel.FromPairs("a", "b", "i", strconv.Itoa(i)), Timestamp: 5})
	}
	small, _ := NewEngine(src, Config{MaxSeries: 5})
	if _, err := small.QueryInstant(ctx, mustParse(t, `count_over_time({a="b"}[1m])`), 10); !errors.Is(err, ErrLimit) {
		t.Errorf("QueryInstant(10 series, max 5) = %v; want ErrLimit", err)
	}
	// sum by pushes the grouping into the scan, so the limit is not hit.
	if v, err := small.QueryInstant(ctx, mustParse(t, `sum(count_over_time({a="b"}[1m]))`), 10); err != nil || v.(Vector)[0].V != 10 {
		t.Errorf("QueryInstant(sum over 10 series) = %v, %v; want 10", v, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.QueryInstant(cctx, mustParse(t, `count_over_time({a="b"}[1m])`), 10); !errors.Is(err, context.Canceled) {
		t.Errorf("QueryInstant(cancelled) = %v; want context.Canceled", err)
	}
}

func TestRangeQueryScalarAndVector(t *testing.T) {
	e := newTestEngine(t, &MemSource{})
	got := rangeQuery(t, e, `vector(2) * 3`, 0, int64(2*time.Second), time.Second)
	checkPoints(t, "vector", got, []refPoint{{"{}", 0, 6}, {"{}", 1e9, 6}, {"{}", 2e9, 6}})
	got = rangeQuery(t, e, `4 / 2`, 0, int64(time.Second), time.Second)
	checkPoints(t, "scalar", got, []refPoint{{"{}", 0, 2}, {"{}", 1e9, 2}})
}

func TestRateCounter(t *testing.T) {
	src := &MemSource{}
	// A counter increasing by 10 every 10s, with a reset at 50s.
	vals := []float64{0, 10, 20, 30, 40, 5, 15}
	for i, v := range vals {
		src.Entries = append(src.Entries, Entry{Labels: logmodel.FromPairs("a", "b"), Timestamp: int64(i) * 10e9,
			Line: []byte("v=" + strconv.FormatFloat(v, 'f', -1, 64))})
	}
	e := newTestEngine(t, src)
	v := instantQuery(t, e, `rate_counter({a="b"} | logfmt | unwrap v [60s])`, 60e9).(Vector)
	// Samples at 10..60s: increase 10+10+10+(40 reset)+5+10 = 45 over 50s,
	// extrapolated to 60s: the first sample is 10s after the window start (a
	// gap equal to the average, within 1.1x), so 45 * 60/50 / 60.
	if len(v) != 1 || !approxEqual(v[0].V, 45.0*60/50/60) {
		t.Fatalf("rate_counter = %v; want %v", v, 45.0*60/50/60)
	}
}
