package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/logql"
	"github.com/kubelog/kubelog/internal/query"
	"github.com/kubelog/kubelog/internal/timeparse"
)

// The Loki-compatible query API: the same paths, parameters and JSON shapes
// as Grafana Loki's, so that Grafana, logcli and Loki's clients work
// unchanged. Errors are plain text with the status code, as Loki answers.

// lokiParams reads a request's parameters from the query string and, for
// POST, a form body.
func lokiParams(r *http.Request) (func(string) string, error) {
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			return nil, badRequest("bad form body: %v", err)
		}
		return r.Form.Get, nil
	}
	q := r.URL.Query()
	return q.Get, nil
}

// lokiTime parses a Loki time parameter (nanoseconds, float seconds or
// RFC3339), or returns def when it is absent.
func lokiTime(get func(string) string, name string, def int64) (int64, error) {
	s := get(name)
	if s == "" {
		return def, nil
	}
	t, err := timeparse.ParseTime(s)
	if err != nil {
		return 0, badRequest("invalid %s: %v", name, err)
	}
	return t.UnixNano(), nil
}

// lokiRange reads start, end and since, with Loki's defaults: end now and
// start def before end.
func (a *API) lokiRange(get func(string) string, def time.Duration) (int64, int64, error) {
	end, err := lokiTime(get, "end", a.clock.Now().UnixNano())
	if err != nil {
		return 0, 0, err
	}
	back := def
	if s := get("since"); s != "" {
		if back, err = timeparse.ParsePositive(s); err != nil {
			return 0, 0, badRequest("invalid since: %v", err)
		}
	}
	start, err := lokiTime(get, "start", end-int64(back))
	if err != nil {
		return 0, 0, err
	}
	if end < start {
		return 0, 0, badRequest("the end time must not be before the start time")
	}
	return start, end, nil
}

func (a *API) lokiLimit(get func(string) string) (int, error) {
	s := get("limit")
	if s == "" {
		return a.cfg.DefaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, badRequest("invalid limit: %q is not a positive integer", s)
	}
	if n > a.cfg.MaxLimit {
		return 0, badRequest("max entries limit per query exceeded, limit > max_entries_limit_per_query (%d > %d)", n, a.cfg.MaxLimit)
	}
	return n, nil
}

func lokiDirection(get func(string) string) (logmodel.Direction, error) {
	s := strings.ToLower(get("direction"))
	if s == "" {
		return logmodel.Backward, nil
	}
	d, err := logmodel.ParseDirection(s)
	if err != nil {
		return d, badRequest("invalid direction: %q (forward or backward)", s)
	}
	return d, nil
}

// lokiStep parses step as a duration or float seconds; the default gives
// about 250 points, at least one second, as Loki does.
func lokiStep(get func(string) string, start, end int64) (time.Duration, error) {
	s := get("step")
	if s == "" {
		s = get("interval")
	}
	if s == "" {
		step := time.Duration(math.Ceil(float64(end-start)/250/1e9)) * time.Second
		return max(step, time.Second), nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f <= 0 {
			return 0, badRequest("zero or negative query resolution step widths are not accepted. Try a positive integer")
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := timeparse.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, badRequest("invalid step: %q is not a duration or a number of seconds", s)
	}
	return d, nil
}

func parseLogQL(s string) (logql.Expr, error) {
	if strings.TrimSpace(s) == "" {
		return nil, badRequest("query must not be empty")
	}
	e, err := logql.ParseExpr(s)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	return e, nil
}

// queryError maps engine errors: anything about the query is a 400.
func queryError(err error) error {
	var pe *logql.PipelineError
	if errors.As(err, &pe) || errors.Is(err, logql.ErrBadQuery) || errors.Is(err, logql.ErrLimit) {
		return badRequest("%v", err)
	}
	return err
}

// lokiEnvelope is Loki's response wrapper.
type lokiEnvelope struct {
	Status string `json:"status"`
	Data   any    `json:"data"`
}

type lokiStream struct {
	Stream map[string]string `json:"stream"`
	Values [][2]string       `json:"values"`
}

type lokiSeries struct {
	Metric map[string]string `json:"metric"`
	Values [][2]any          `json:"values"`
}

type lokiSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func lokiSeconds(ns int64) float64 { return float64(ns) / 1e9 }

func lokiValue(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// renderValue turns an engine result into Loki's resultType and result.
func renderValue(v logql.Value) (string, any, int64) {
	switch v := v.(type) {
	case logql.Streams:
		out := make([]lokiStream, 0, len(v))
		var n int64
		for _, s := range v {
			ls := lokiStream{Stream: s.Labels.Map(), Values: make([][2]string, 0, len(s.Entries))}
			for _, e := range s.Entries {
				ls.Values = append(ls.Values, [2]string{strconv.FormatInt(e.Timestamp, 10), e.Line})
			}
			n += int64(len(s.Entries))
			out = append(out, ls)
		}
		return "streams", out, n
	case logql.Matrix:
		out := make([]lokiSeries, 0, len(v))
		for _, s := range v {
			ls := lokiSeries{Metric: s.Labels.Map(), Values: make([][2]any, 0, len(s.Points))}
			for _, p := range s.Points {
				ls.Values = append(ls.Values, [2]any{lokiSeconds(p.T), lokiValue(p.V)})
			}
			out = append(out, ls)
		}
		return "matrix", out, 0
	case logql.Vector:
		out := make([]lokiSample, 0, len(v))
		for _, s := range v {
			out = append(out, lokiSample{Metric: s.Labels.Map(), Value: [2]any{lokiSeconds(s.T), lokiValue(s.V)}})
		}
		return "vector", out, 0
	case logql.Scalar:
		return "scalar", [2]any{lokiSeconds(v.T), lokiValue(v.V)}, 0
	}
	return "", nil, 0
}

// lokiRequest is what both query endpoints read.
type lokiRequest struct {
	get   func(string) string
	expr  logql.Expr
	limit int
	dir   logmodel.Direction
	eng   *logql.Engine
}

// parseLokiQuery reads the parameters the query endpoints share.
func (a *API) parseLokiQuery(r *http.Request) (*lokiRequest, error) {
	get, err := lokiParams(r)
	if err != nil {
		return nil, err
	}
	q := &lokiRequest{get: get}
	if q.expr, err = parseLogQL(get("query")); err != nil {
		return nil, err
	}
	if q.limit, err = a.lokiLimit(get); err != nil {
		return nil, err
	}
	if q.dir, err = lokiDirection(get); err != nil {
		return nil, err
	}
	withArchive, err := a.parseIncludeArchive(get("include_archive"))
	if err != nil {
		return nil, err
	}
	if q.eng, err = a.query.LogQL(tenantOf(r), withArchive); err != nil {
		return nil, err
	}
	return q, nil
}

// lokiQuery serves GET|POST /loki/api/v1/query (instant).
func (a *API) lokiQuery(w http.ResponseWriter, r *http.Request) error {
	q, err := a.parseLokiQuery(r)
	if err != nil {
		return err
	}
	ts, err := lokiTime(q.get, "time", a.clock.Now().UnixNano())
	if err != nil {
		return err
	}
	start := time.Now()
	var v logql.Value
	var st logql.Stats
	if logql.IsMetric(q.expr) {
		v, err = q.eng.QueryInstant(r.Context(), q.expr, ts)
	} else {
		// An instant log query reads the hour before its time, as Loki does.
		v, st, err = q.eng.QueryLogs(r.Context(), q.expr, ts-int64(time.Hour), ts+1, q.dir, q.limit)
	}
	if err != nil {
		return queryError(err)
	}
	return a.writeLokiResult(w, v, st, start)
}

func (a *API) writeLokiResult(w http.ResponseWriter, v logql.Value, st logql.Stats, start time.Time) error {
	writeLokiQueryResult(w, v, st, time.Since(start))
	return nil
}

// lokiQueryRange serves GET|POST /loki/api/v1/query_range.
func (a *API) lokiQueryRange(w http.ResponseWriter, r *http.Request) error {
	q, err := a.parseLokiQuery(r)
	if err != nil {
		return err
	}
	start, end, err := a.lokiRange(q.get, time.Hour)
	if err != nil {
		return err
	}
	began := time.Now()
	var v logql.Value
	var st logql.Stats
	if logql.IsMetric(q.expr) {
		step, err := lokiStep(q.get, start, end)
		if err != nil {
			return err
		}
		if (end-start)/int64(step) > 11_000 {
			return badRequest("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")
		}
		if v, err = q.eng.QueryRange(r.Context(), q.expr, start, end, step); err != nil {
			return queryError(err)
		}
	} else if v, st, err = q.eng.QueryLogs(r.Context(), q.expr, start, end, q.dir, q.limit); err != nil {
		return queryError(err)
	}
	return a.writeLokiResult(w, v, st, began)
}

// selectorMatchers parses an optional stream selector into store matchers.
func selectorMatchers(s string) ([]logmodel.Matcher, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	e, err := logql.ParseExpr(s)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	ms, _ := logql.Pushdown(e)
	return ms, nil
}

// lokiLabelQuery reads the range (six hours back by default, as Loki) and
// the optional selector of the label endpoints.
func (a *API) lokiLabelQuery(r *http.Request) (start, end int64, ms []logmodel.Matcher, err error) {
	_, start, end, ms, err = a.lokiSelection(r, 6*time.Hour)
	return start, end + 1, ms, err
}

// lokiSelection reads the parameters of a request that selects streams over
// a range: the range (lookback before end by default, end inclusive) and the
// matchers of its optional query.
func (a *API) lokiSelection(r *http.Request, lookback time.Duration) (get func(string) string, start, end int64, ms []logmodel.Matcher, err error) {
	if get, err = lokiParams(r); err != nil {
		return nil, 0, 0, nil, err
	}
	if start, end, err = a.lokiRange(get, lookback); err != nil {
		return nil, 0, 0, nil, err
	}
	ms, err = selectorMatchers(get("query"))
	return get, start, end, ms, err
}

// lokiLabels serves GET|POST /loki/api/v1/labels.
func (a *API) lokiLabels(w http.ResponseWriter, r *http.Request) error {
	start, end, ms, err := a.lokiLabelQuery(r)
	if err != nil {
		return err
	}
	names, err := a.query.LabelNames(r.Context(), tenantOf(r), ms, start, end)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, lokiEnvelope{Status: "success", Data: names})
	return nil
}

// lokiLabelValues serves GET|POST /loki/api/v1/label/{name}/values.
func (a *API) lokiLabelValues(w http.ResponseWriter, r *http.Request) error {
	start, end, ms, err := a.lokiLabelQuery(r)
	if err != nil {
		return err
	}
	vals, err := a.query.LabelValues(r.Context(), tenantOf(r), r.PathValue("name"), ms, start, end)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, lokiEnvelope{Status: "success", Data: vals})
	return nil
}

// lokiSeries serves GET|POST /loki/api/v1/series with match[] selectors.
func (a *API) lokiSeries(w http.ResponseWriter, r *http.Request) error {
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			return badRequest("bad form body: %v", err)
		}
	} else {
		r.Form = r.URL.Query()
	}
	get := r.Form.Get
	start, end, err := a.lokiRange(get, 6*time.Hour)
	if err != nil {
		return err
	}
	selectors := r.Form["match[]"]
	if len(selectors) == 0 {
		selectors = r.Form["match"]
	}
	if len(selectors) == 0 {
		selectors = []string{""}
	}
	seen := map[string]bool{}
	out := []map[string]string{}
	for _, sel := range selectors {
		ms, err := selectorMatchers(sel)
		if err != nil {
			return err
		}
		series, err := a.query.Series(r.Context(), tenantOf(r), ms, start, end+1)
		if err != nil {
			return err
		}
		for _, s := range series {
			if k := s.String(); !seen[k] {
				seen[k] = true
				out = append(out, s.Map())
			}
		}
	}
	writeJSON(w, http.StatusOK, lokiEnvelope{Status: "success", Data: out})
	return nil
}

// lokiIndexStats serves GET|POST /loki/api/v1/index/stats.
func (a *API) lokiIndexStats(w http.ResponseWriter, r *http.Request) error {
	_, start, end, ms, err := a.lokiSelection(r, time.Hour)
	if err != nil {
		return err
	}
	st, err := a.query.IndexStats(r.Context(), tenantOf(r), ms, start, end+1)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"streams": st.Streams, "chunks": st.Chunks, "entries": st.Entries, "bytes": st.Bytes})
	return nil
}

// lokiVolume serves GET /loki/api/v1/index/volume and volume_range: bytes
// per series (or per targetLabels) of the selected streams, largest first.
func (a *API) lokiVolume(rangeQuery bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		get, start, end, ms, err := a.lokiSelection(r, time.Hour)
		if err != nil {
			return err
		}
		limit := 100
		if s := get("limit"); s != "" {
			if limit, err = strconv.Atoi(s); err != nil || limit <= 0 {
				return badRequest("invalid limit: %q", s)
			}
		}
		var targets []string
		for _, t := range strings.Split(get("targetLabels"), ",") {
			if t = strings.TrimSpace(t); t != "" {
				targets = append(targets, t)
			}
		}
		if len(targets) == 0 && get("aggregateBy") != "series" {
			for _, m := range ms {
				targets = append(targets, m.Name)
			}
		}
		req := query.VolumeRequest{Tenant: tenantOf(r), Matchers: ms, Start: start, End: end, Targets: targets, Limit: limit}
		if rangeQuery {
			d, err := lokiStep(get, start, end)
			if err != nil {
				return err
			}
			req.Step = int64(d)
			if (end-start)/req.Step > 11_000 {
				return badRequest("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")
			}
		}
		list, err := a.query.Volume(r.Context(), req)
		if err != nil {
			return err
		}
		var result any
		if rangeQuery {
			m := make([]lokiSeries, 0, len(list))
			for _, g := range list {
				s := lokiSeries{Metric: g.Labels.Map()}
				ts := make([]int64, 0, len(g.Points))
				for t := range g.Points {
					ts = append(ts, t)
				}
				sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
				for _, t := range ts {
					s.Values = append(s.Values, [2]any{lokiSeconds(t), strconv.FormatUint(g.Points[t], 10)})
				}
				m = append(m, s)
			}
			result = m
		} else {
			v := make([]lokiSample, 0, len(list))
			for _, g := range list {
				v = append(v, lokiSample{Metric: g.Labels.Map(), Value: [2]any{lokiSeconds(end), strconv.FormatUint(g.Total, 10)}})
			}
			result = v
		}
		rt := "vector"
		if rangeQuery {
			rt = "matrix"
		}
		writeJSON(w, http.StatusOK, lokiEnvelope{Status: "success", Data: struct {
			ResultType string `json:"resultType"`
			Result     any    `json:"result"`
		}{rt, result}})
		return nil
	}
}

// flush serves POST /flush, as Loki's ingesters do: it writes the head to
// durable parts and merges small parts, then answers 204.
func (a *API) flush(w http.ResponseWriter, r *http.Request) error {
	if err := a.query.Compact(r.Context()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// lokiBuildInfo serves GET /loki/api/v1/status/buildinfo.
func (a *API) lokiBuildInfo(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"version": a.cfg.Version, "revision": "", "branch": "",
		"buildUser": "", "buildDate": "", "goVersion": runtime.Version()})
	return nil
}

// lokiFormatQuery serves GET|POST /loki/api/v1/format_query.
func (a *API) lokiFormatQuery(w http.ResponseWriter, r *http.Request) error {
	get, err := lokiParams(r)
	if err != nil {
		return err
	}
	expr, err := parseLogQL(get("query"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, lokiEnvelope{Status: "success", Data: expr.String()})
	return nil
}

// logqlSearchRequest is the body of POST /api/v1/logs/search/logql.
type logqlSearchRequest struct {
	Query     string `json:"query"`
	StartTime string `json:"start_time"`
	EndTime   string `json:"end_time"`
	Start     string `json:"start"`
	End       string `json:"end"`
	Limit     *int   `json:"limit"`
	Direction string `json:"direction"`
	Step      string `json:"step"`
	// IncludeArchive reads archived objects too.
	IncludeArchive bool `json:"include_archive"`
}

// logqlSearch serves POST /api/v1/logs/search/logql: LogQL with the seed's
// snake_case answer.
func (a *API) logqlSearch(w http.ResponseWriter, r *http.Request) error {
	var req logqlSearchRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.StartTime == "" {
		req.StartTime = req.Start
	}
	if req.EndTime == "" {
		req.EndTime = req.End
	}
	params := map[string]string{"start": req.StartTime, "end": req.EndTime, "direction": req.Direction, "step": req.Step}
	if req.Limit != nil {
		params["limit"] = strconv.Itoa(*req.Limit)
	}
	get := func(k string) string { return params[k] }
	expr, err := logql.ParseExpr(req.Query)
	if err != nil || strings.TrimSpace(req.Query) == "" {
		if err == nil {
			err = errors.New("query must not be empty")
		}
		return &Error{Status: http.StatusBadRequest, ID: "invalid_query", Message: "query: " + err.Error()}
	}
	start, end, err := a.lokiRange(get, time.Hour)
	if err != nil {
		return renameFields(err)
	}
	limit, err := a.lokiLimit(get)
	if err != nil {
		return err
	}
	dir, err := lokiDirection(get)
	if err != nil {
		return err
	}
	if req.IncludeArchive {
		if _, err := a.parseIncludeArchive("true"); err != nil {
			return err
		}
	}
	eng, err := a.query.LogQL(tenantOf(r), req.IncludeArchive)
	if err != nil {
		return err
	}
	began := time.Now()
	out := map[string]any{}
	var st logql.Stats
	if logql.IsMetric(expr) {
		step, err := lokiStep(get, start, end)
		if err != nil {
			return err
		}
		v, err := eng.QueryRange(r.Context(), expr, start, end, step)
		if err != nil {
			return queryError(err)
		}
		type point struct {
			Timestamp string  `json:"timestamp"`
			Value     float64 `json:"value"`
		}
		type series struct {
			Labels map[string]string `json:"labels"`
			Values []point           `json:"values"`
		}
		var ss []series
		for _, s := range v.(logql.Matrix) {
			x := series{Labels: s.Labels.Map()}
			for _, p := range s.Points {
				x.Values = append(x.Values, point{Timestamp: logmodel.FormatTime(p.T), Value: p.V})
			}
			ss = append(ss, x)
		}
		out["result_type"], out["series"] = "matrix", ss
	} else {
		var v logql.Streams
		v, st, err = eng.QueryLogs(r.Context(), expr, start, end, dir, limit)
		if err != nil {
			return queryError(err)
		}
		ents := query.Entries(v, dir)
		logs := make([]logmodel.EntryJSON, len(ents))
		for i := range ents {
			logs[i] = ents[i].ToJSON()
		}
		out["result_type"], out["logs"] = "streams", logs
	}
	out["stats"] = map[string]any{"scanned_lines": st.EntriesProcessed, "scanned_bytes": st.BytesProcessed, "took_ms": float64(time.Since(began).Microseconds()) / 1000}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// renameFields turns Loki parameter names in a range error into the seed's.
func renameFields(err error) error {
	var e *Error
	if errors.As(err, &e) {
		msg := strings.NewReplacer("invalid start", "start_time", "invalid end", "end_time", "the end time", "end_time").Replace(e.Message)
		return &Error{Status: e.Status, ID: e.ID, Message: msg}
	}
	return err
}

// lokiFrame is one message of the Loki tail WebSocket.
type lokiFrame struct {
	Streams        []lokiStream `json:"streams"`
	DroppedEntries []any        `json:"dropped_entries"`
}

func marshalFrame(v logql.Value) ([]byte, int) {
	_, result, n := renderValue(v)
	streams, _ := result.([]lokiStream)
	if streams == nil {
		streams = []lokiStream{}
	}
	b, _ := json.Marshal(lokiFrame{Streams: streams, DroppedEntries: []any{}})
	return b, int(n)
}

var errNotLogQuery = fmt.Errorf("tail needs a log query, not a metric query")
