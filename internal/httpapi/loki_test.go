package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/store"
)

// lokiResponse is Loki's documented query response shape.
type lokiResponse struct {
	Status string `json:"status"`
	Data   struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
		Stats      struct {
			Summary map[string]any `json:"summary"`
		} `json:"stats"`
	} `json:"data"`
}

func (e *env) loki(path string, params url.Values) (int, []byte) {
	e.t.Helper()
	code, b, _ := e.do("a-read", "GET", path+"?"+params.Encode(), nil)
	return code, b
}

func seedLoki(e *env) time.Time {
	base := time.Now().Add(-30 * time.Minute).Truncate(time.Minute)
	for i := 0; i < 60; i++ {
		app := "a"
		if i%3 == 0 {
			app = "b"
		}
		line := fmt.Sprintf("level=info msg=\"request %d\" duration=%dms", i, i*10)
		if i%4 == 0 {
			line = fmt.Sprintf("level=error msg=\"request %d failed\" duration=%dms", i, i*10)
		}
		e.pushJSON("a-write", map[string]string{"app": app, "namespace": "shop"}, base.Add(time.Duration(i)*time.Second), line)
	}
	return base
}

func TestLokiQueryShapes(t *testing.T) {
	e := newEnv(t, noLimits())
	base := seedLoki(e)
	start, end := strconv.FormatInt(base.Add(-time.Minute).UnixNano(), 10), strconv.FormatInt(base.Add(10*time.Minute).UnixNano(), 10)

	// A log query returns streams with string nanosecond timestamps.
	code, b := e.loki("/loki/api/v1/query_range", url.Values{"query": {`{app="a"} |= "error"`}, "start": {start}, "end": {end}, "limit": {"1000"}})
	var r lokiResponse
	if code != 200 || json.Unmarshal(b, &r) != nil || r.Status != "success" || r.Data.ResultType != "streams" {
		t.Fatalf("log query: %d %s", code, b)
	}
	var streams []struct {
		Stream map[string]string `json:"stream"`
		Values [][2]string       `json:"values"`
	}
	if err := json.Unmarshal(r.Data.Result, &streams); err != nil || len(streams) != 1 || streams[0].Stream["app"] != "a" {
		t.Fatalf("streams: %v %s", err, r.Data.Result)
	}
	want := 0
	for i := 0; i < 60; i++ {
		if i%3 != 0 && i%4 == 0 {
			want++
		}
	}
	if len(streams[0].Values) != want {
		t.Fatalf("%d lines; want %d", len(streams[0].Values), want)
	}
	if _, err := strconv.ParseInt(streams[0].Values[0][0], 10, 64); err != nil || r.Data.Stats.Summary == nil {
		t.Fatalf("timestamp %q is not nanoseconds, or no stats", streams[0].Values[0][0])
	}
	// Backward by default, newest first.
	t0, _ := strconv.ParseInt(streams[0].Values[0][0], 10, 64)
	t1, _ := strconv.ParseInt(streams[0].Values[1][0], 10, 64)
	if t0 <= t1 {
		t.Fatalf("default direction is not backward")
	}

	// A metric range query returns a matrix of [float seconds, "value"].
	code, b = e.loki("/loki/api/v1/query_range", url.Values{"query": {`sum by (app) (count_over_time({namespace="shop"} | logfmt | level="error" [10m]))`},
		"start": {start}, "end": {end}, "step": {"300"}})
	if code != 200 || json.Unmarshal(b, &r) != nil || r.Data.ResultType != "matrix" {
		t.Fatalf("matrix: %d %s", code, b)
	}
	var matrix []struct {
		Metric map[string]string `json:"metric"`
		Values [][2]any          `json:"values"`
	}
	if err := json.Unmarshal(r.Data.Result, &matrix); err != nil || len(matrix) != 2 {
		t.Fatalf("matrix result: %v %s", err, r.Data.Result)
	}
	if _, ok := matrix[0].Values[0][0].(float64); !ok {
		t.Fatalf("matrix time is not a number: %s", r.Data.Result)
	}
	if _, ok := matrix[0].Values[0][1].(string); !ok {
		t.Fatalf("matrix value is not a string: %s", r.Data.Result)
	}

	// Instant queries: a vector, and a scalar.
	code, b = e.loki("/loki/api/v1/query", url.Values{"query": {`sum(count_over_time({app="b"}[1h]))`}, "time": {end}})
	var vec []struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	}
	if code != 200 || json.Unmarshal(b, &r) != nil || r.Data.ResultType != "vector" || json.Unmarshal(r.Data.Result, &vec) != nil || len(vec) != 1 || vec[0].Value[1] != "20" {
		t.Fatalf("vector: %d %s", code, b)
	}
	code, b = e.loki("/loki/api/v1/query", url.Values{"query": {`1 + 1`}})
	if code != 200 || json.Unmarshal(b, &r) != nil || r.Data.ResultType != "scalar" || !strings.Contains(string(r.Data.Result), `"2"`) {
		t.Fatalf("scalar: %d %s", code, b)
	}

	// Metadata endpoints.
	check := func(path string, params url.Values, want string) {
		t.Helper()
		code, b := e.loki(path, params)
		if code != 200 || !strings.Contains(string(b), want) {
			t.Fatalf("%s: %d %s; want it to contain %s", path, code, b, want)
		}
	}
	rng := url.Values{"start": {start}, "end": {end}}
	check("/loki/api/v1/labels", rng, `{"status":"success","data":["app","namespace"]}`)
	check("/loki/api/v1/label/app/values", rng, `{"status":"success","data":["a","b"]}`)
	check("/loki/api/v1/series", url.Values{"match[]": {`{app="a"}`}, "start": {start}, "end": {end}}, `{"status":"success","data":[{"app":"a","namespace":"shop"}]}`)
	check("/loki/api/v1/index/stats", url.Values{"query": {`{namespace="shop"}`}, "start": {start}, "end": {end}}, `"entries":60`)
	check("/loki/api/v1/index/volume", url.Values{"query": {`{namespace="shop"}`}, "start": {start}, "end": {end}}, `"resultType":"vector"`)
	check("/loki/api/v1/index/volume_range", url.Values{"query": {`{app=~".+"}`}, "targetLabels": {"app"}, "start": {start}, "end": {end}, "step": {"60"}}, `"resultType":"matrix"`)
	check("/loki/api/v1/status/buildinfo", nil, `"goVersion"`)
	check("/loki/api/v1/format_query", url.Values{"query": {`{app="a"}|="x"`}}, `{"status":"success","data":"{app=\"a\"} |= \"x\""}`)

	// Errors as Loki answers them: 400 with the reason in plain text.
	for _, c := range []struct{ q, limit, want string }{
		{`{app="a"`, "", "parse error"},
		{`{app="a"}`, "5001", "max entries limit"},
		{`sum(rate({app="a"}[1m])) by`, "", "parse error"},
	} {
		p := url.Values{"query": {c.q}}
		if c.limit != "" {
			p.Set("limit", c.limit)
		}
		code, b := e.loki("/loki/api/v1/query_range", p)
		if code != 400 || !strings.Contains(string(b), c.want) {
			t.Fatalf("%q: %d %s", c.q, code, b)
		}
	}

	// The seed's LogQL search endpoint, snake_case.
	code, sb, _ := e.do("a-read", "POST", "/api/v1/logs/search/logql", map[string]any{"query": `{app="a"} |= "error"`, "start": start, "end_time": end, "limit": 3, "direction": "forward"})
	var sr struct {
		ResultType string `json:"result_type"`
		Logs       []struct {
			Message string `json:"message"`
			App     string `json:"app"`
		} `json:"logs"`
	}
	if code != 200 || json.Unmarshal(sb, &sr) != nil || sr.ResultType != "streams" || len(sr.Logs) != 3 || !strings.Contains(sr.Logs[0].Message, "request 4 failed") {
		t.Fatalf("search/logql: %d %s", code, sb)
	}
	code, sb, _ = e.do("a-read", "POST", "/api/v1/logs/search/logql", map[string]any{"query": `{app=`})
	if code != 400 || !strings.Contains(string(sb), "invalid_query") {
		t.Fatalf("bad logql: %d %s", code, sb)
	}
}

func TestLokiTailWebSocket(t *testing.T) {
	e := newEnv(t, noLimits())
	seedLoki(e)
	ctx, c := dialLokiTail(t, e, url.Values{
		"query": {`{app="a"} |= "tail" | logfmt | line_format "{{.msg}}"`},
		"limit": {"5"}, "start": {strconv.FormatInt(time.Now().Add(-time.Minute).UnixNano(), 10)},
	})
	type frame struct {
		Streams []struct {
			Stream map[string]string `json:"stream"`
			Values [][2]string       `json:"values"`
		} `json:"streams"`
		Dropped []any `json:"dropped_entries"`
	}
	read := func() frame {
		_, msg, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var f frame
		if err := json.Unmarshal(msg, &f); err != nil || f.Dropped == nil {
			t.Fatalf("frame %s: %v", msg, err)
		}
		return f
	}
	if f := read(); len(f.Streams) != 0 {
		t.Fatalf("initial frame %+v; want empty", f)
	}
	var want []string
	for i := 0; i < 30; i++ {
		e.pushJSON("a-write", map[string]string{"app": "a"}, time.Now(), fmt.Sprintf(`level=info msg="tail %d"`, i))
		e.pushJSON("a-write", map[string]string{"app": "b"}, time.Now(), fmt.Sprintf(`level=info msg="tail other %d"`, i))
		want = append(want, fmt.Sprintf("tail %d", i))
	}
	var got []string
	for len(got) < len(want) {
		for _, s := range read().Streams {
			for _, v := range s.Values {
				got = append(got, v[1])
			}
		}
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("tail received %v; want %v", got, want)
	}
}

// TestFlush checks Loki's POST /flush: admin only, 204, and the head's
// entries are in parts afterwards and still answer queries.
func TestFlush(t *testing.T) {
	e := newEnv(t, noLimits())
	base := seedLoki(e)
	if code, b, _ := e.do("a-write", "POST", "/flush", nil); code != http.StatusForbidden {
		t.Fatalf("flush with a write token: %d %s", code, b)
	}
	if code, b, _ := e.do("admin", "POST", "/flush", nil); code != http.StatusNoContent {
		t.Fatalf("flush: %d %s", code, b)
	}
	if ss := e.st.Stats(""); ss.HeadEntries != 0 || ss.Parts == 0 {
		t.Fatalf("after flush: %d head entries, %d parts", ss.HeadEntries, ss.Parts)
	}
	end := strconv.FormatInt(base.Add(10*time.Minute).UnixNano(), 10)
	code, b := e.loki("/loki/api/v1/query_range", url.Values{"query": {`sum(count_over_time({app=~"a|b"}[1h]))`}, "start": {end}, "end": {end}})
	if code != 200 || !strings.Contains(string(b), `"60"`) {
		t.Fatalf("count after flush: %d %s", code, b)
	}
}

// BenchmarkLokiQueryRange measures q1 of the benchmark, the last 100 lines
// of one stream, through /loki/api/v1/query_range (HTTP on loopback,
// authentication, LogQL, JSON) and straight from the store, so that the
// difference is the API's cost.
func BenchmarkLokiQueryRange(b *testing.B) {
	e := newEnv(b, noLimits())
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	lines := make([]string, 12_500)
	for i := range lines {
		lines[i] = fmt.Sprintf("081109 %06d 148 INFO dfs.DataNode$PacketResponder: PacketResponder %d for block blk_%d terminating", i, i%3, i*7919)
	}
	for i := 0; i < len(lines); i += 2500 {
		e.pushJSON("a-write", map[string]string{"namespace": "ns-3", "pod": "app-3-7", "container": "c1"}, base.Add(time.Duration(i)*time.Millisecond), lines[i:i+2500]...)
	}
	if err := e.st.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	start, end := base.Add(-time.Minute).UnixNano(), base.Add(time.Hour).UnixNano()
	q := url.Values{"query": {`{namespace="ns-3", pod="app-3-7", container="c1"}`}, "limit": {"100"},
		"start": {strconv.FormatInt(start, 10)}, "end": {strconv.FormatInt(end, 10)}}
	b.Run("http", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if code, body, _ := e.do("a-read", "GET", "/loki/api/v1/query_range?"+q.Encode(), nil); code != http.StatusOK || len(body) < 10000 {
				b.Fatalf("%d %d bytes", code, len(body))
			}
		}
	})
	b.Run("store", func(b *testing.B) {
		ms := []logmodel.Matcher{logmodel.Matcher{Type: logmodel.MatchEqual, Name: "namespace", Value: "ns-3"}, logmodel.Matcher{Type: logmodel.MatchEqual, Name: "pod", Value: "app-3-7"}, logmodel.Matcher{Type: logmodel.MatchEqual, Name: "container", Value: "c1"}}
		b.ReportAllocs()
		for b.Loop() {
			res, err := e.st.Query(context.Background(), store.Query{Tenant: "team-a", Matchers: ms, Start: start, End: end, Direction: logmodel.Backward, Limit: 100})
			if err != nil || len(res.Entries) != 100 {
				b.Fatal(err, len(res.Entries))
			}
		}
	})
}

// BenchmarkLokiCountRange measures q5 of the benchmark, the count of all
// lines, through /loki/api/v1/query_range (one step whose window covers
// the data) and straight from the store's metadata.
func BenchmarkLokiCountRange(b *testing.B) {
	e := newEnv(b, noLimits())
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	var streams []any
	for s := range 400 {
		var vals [][]string
		for i := range 25 {
			vals = append(vals, []string{strconv.FormatInt(base.Add(time.Duration(i*400+s)*time.Millisecond).UnixNano(), 10), fmt.Sprintf("line %d of stream %d", i, s)})
		}
		labels := map[string]string{"cluster": "bench", "namespace": fmt.Sprintf("ns-%d", s%20), "pod": fmt.Sprintf("app-%d", s), "container": "c1"}
		streams = append(streams, map[string]any{"stream": labels, "values": vals})
	}
	if code, body, _ := e.do("a-write", "POST", "/loki/api/v1/push", map[string]any{"streams": streams}, "Content-Type", "application/json"); code != http.StatusNoContent {
		b.Fatalf("push: %d %s", code, body)
	}
	if err := e.st.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	start, end := base.Add(-time.Minute).UnixNano(), base.Add(time.Hour).UnixNano()
	span := strconv.FormatInt((end-start)/int64(time.Second)+1, 10) + "s"
	q := url.Values{"query": {`sum(count_over_time({cluster="bench"}[` + span + `]))`}, "step": {span},
		"start": {strconv.FormatInt(end, 10)}, "end": {strconv.FormatInt(end, 10)}}
	b.Run("http", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if code, body, _ := e.do("a-read", "GET", "/loki/api/v1/query_range?"+q.Encode(), nil); code != http.StatusOK || !strings.Contains(string(body), `"10000"`) {
				b.Fatalf("%d %s", code, body)
			}
		}
	})
	b.Run("store", func(b *testing.B) {
		ms := []logmodel.Matcher{logmodel.Matcher{Type: logmodel.MatchEqual, Name: "cluster", Value: "bench"}}
		b.ReportAllocs()
		for b.Loop() {
			n, _, _, err := e.st.Count(context.Background(), store.Query{Tenant: "team-a", Matchers: ms, Start: start, End: end})
			if err != nil || n != 10000 {
				b.Fatal(err, n)
			}
		}
	})
}

// TestLogQLSearchKeepsCursorsAndOrder checks that POST search/logql gives
// each entry its cursor, the same as GET /api/v1/logs, and orders an entry
// on a whole second before a later one in the same second (which sorting
// RFC3339 strings gets wrong: "…:00Z" > "…:00.5Z").
func TestLogQLSearchKeepsCursorsAndOrder(t *testing.T) {
	e := newEnv(t, noLimits())
	sec := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	labels := map[string]string{"app": "c", "namespace": "n"}
	for _, at := range []time.Time{sec, sec.Add(500 * time.Millisecond), sec.Add(time.Second)} {
		e.pushJSON("a-rw", labels, at, "line at "+at.Format(time.RFC3339Nano))
	}
	want := e.logs("a-read", "namespace=n&direction=forward&start_time="+sec.Add(-time.Minute).Format(time.RFC3339))
	if len(want.Logs) != 3 {
		t.Fatalf("GET /api/v1/logs: %+v", want)
	}
	for _, dir := range []string{"forward", "backward"} {
		code, b, _ := e.do("a-read", "POST", "/api/v1/logs/search/logql", map[string]any{"query": `{app="c"}`,
			"start_time": sec.Add(-time.Minute).Format(time.RFC3339), "end_time": sec.Add(time.Minute).Format(time.RFC3339), "direction": dir})
		var got struct {
			Logs []struct{ Timestamp, Message, Cursor string } `json:"logs"`
		}
		if code != 200 || json.Unmarshal(b, &got) != nil || len(got.Logs) != 3 {
			t.Fatalf("%s: %d %s", dir, code, b)
		}
		for i, l := range got.Logs {
			w := want.Logs[i]
			if dir == "backward" {
				w = want.Logs[2-i]
			}
			if l.Cursor == "" || l.Cursor != w.Cursor || l.Message != w.Message {
				t.Errorf("%s entry %d: %+v; want %+v", dir, i, l, w)
			}
		}
	}
}

// TestLokiTailDedupByCursor: the tail skips a live entry only when it is the
// same entry as one of the initial answer (its cursor), so an entry of another
// stream with the same timestamp and line still arrives.
func TestLokiTailDedupByCursor(t *testing.T) {
	e := newEnv(t, noLimits())
	ts := time.Now().Add(-time.Second)
	e.pushJSON("a-write", map[string]string{"app": "a", "pod": "1"}, ts, "same line")
	ctx, c := dialLokiTail(t, e, url.Values{
		"query": {`{app="a"}`}, "limit": {"10"},
		"start": {strconv.FormatInt(ts.Add(-time.Minute).UnixNano(), 10)},
	})
	read := func() map[string][]string {
		_, msg, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var f struct {
			Streams []struct {
				Stream map[string]string `json:"stream"`
				Values [][2]string       `json:"values"`
			} `json:"streams"`
		}
		if err := json.Unmarshal(msg, &f); err != nil {
			t.Fatalf("frame %s: %v", msg, err)
		}
		got := map[string][]string{}
		for _, s := range f.Streams {
			for _, v := range s.Values {
				got[s.Stream["pod"]] = append(got[s.Stream["pod"]], v[0]+" "+v[1])
			}
		}
		return got
	}
	want := strconv.FormatInt(ts.UnixNano(), 10) + " same line"
	if got := read(); len(got) != 1 || len(got["1"]) != 1 || got["1"][0] != want {
		t.Fatalf("initial frame %v; want pod 1's %q", got, want)
	}
	e.pushJSON("a-write", map[string]string{"app": "a", "pod": "2"}, ts, "same line")
	if got := read(); len(got) != 1 || len(got["2"]) != 1 || got["2"][0] != want {
		t.Fatalf("live frame %v; want pod 2's %q", got, want)
	}
}

// dialLokiTail opens /loki/api/v1/tail with params and a read token; the
// connection closes and the context ends with the test.
func dialLokiTail(t *testing.T, e *env, params url.Values) (context.Context, *websocket.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/loki/api/v1/tail?" + params.Encode()
	c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + e.tokens["a-read"]}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(websocket.StatusNormalClosure, "") })
	return ctx, c
}
