package httpapi

import (
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/kubelog/kubelog/internal/archive"
	"github.com/kubelog/kubelog/internal/auth"
	"github.com/kubelog/kubelog/internal/logmodel"
	"github.com/kubelog/kubelog/internal/query"
	"github.com/kubelog/kubelog/internal/search"
	"github.com/kubelog/kubelog/internal/store"
	"github.com/kubelog/kubelog/internal/timeparse"
)

// levels are the normalised levels an entry can carry.
var levels = []string{"trace", "debug", "info", "notice", "warn", "error", "fatal", "unknown"}

// logsResponse is the answer of GET /api/v1/logs and POST /search.
type logsResponse struct {
	Logs       []logmodel.EntryJSON `json:"logs"`
	HasMore    bool                 `json:"has_more"`
	NextCursor string               `json:"next_cursor"`
	Stats      queryStats           `json:"stats"`
}

type queryStats struct {
	ScannedBytes  int64   `json:"scanned_bytes"`
	ScannedLines  int64   `json:"scanned_lines"`
	BlocksScanned int     `json:"blocks_scanned"`
	BlocksSkipped int     `json:"blocks_skipped"`
	TookMs        float64 `json:"took_ms"`
	// QueryStats counts the archived objects read with include_archive.
	*archive.QueryStats
}

// filterParams are the filters shared by GET / and POST /search.
type filterParams struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	Container string `json:"container"`
	Level     string `json:"level"`
	Search    string `json:"search"`
	Regex     string `json:"regex"`
}

// pageParams are the time range and paging of a query.
type pageParams struct {
	StartTime string `json:"start_time"`
	EndTime   string `json:"end_time"`
	Since     string `json:"since"`
	Limit     *int   `json:"limit"`
	Direction string `json:"direction"`
	Cursor    string `json:"cursor"`
}

// buildQuery turns the shared parameters into a store query, naming the
// field of any bad value.
func (a *API) buildQuery(tenant string, f filterParams, p pageParams) (store.Query, error) {
	q := store.Query{Tenant: tenant, Direction: logmodel.Backward, Limit: a.cfg.DefaultLimit}
	for _, lf := range []struct{ name, value string }{
		{"cluster", f.Cluster}, {"namespace", f.Namespace}, {"pod", f.Pod}, {"container", f.Container},
	} {
		q.Matchers = append(q.Matchers, listMatcher(lf.name, lf.value)...)
	}
	if f.Level != "" {
		var vals []string
		for _, v := range strings.Split(f.Level, ",") {
			v = strings.ToLower(strings.TrimSpace(v))
			if !validLevel(v) {
				return q, badRequest("level: %q is not one of %s", v, strings.Join(levels, ", "))
			}
			vals = append(vals, v)
		}
		q.MetaFilters = append(q.MetaFilters, logmodel.Matcher{Type: logmodel.MatchRegexp, Name: logmodel.MetaLevel, Value: strings.Join(vals, "|")})
	}
	if f.Search != "" {
		q.LineFilters = append(q.LineFilters, logmodel.LineFilter{Type: logmodel.LineContainsFold, Value: f.Search})
	}
	if f.Regex != "" {
		if _, err := regexp.Compile(f.Regex); err != nil {
			return q, badRequest("regex: %v", err)
		}
		q.LineFilters = append(q.LineFilters, logmodel.LineFilter{Type: logmodel.LineRegexp, Value: f.Regex})
	}
	start, end, err := a.parseRange(p.StartTime, p.EndTime, p.Since)
	if err != nil {
		return q, err
	}
	q.Start, q.End = start, end
	if p.Limit != nil {
		switch {
		case *p.Limit <= 0:
			return q, badRequest("limit: must be positive, got %d", *p.Limit)
		case *p.Limit > a.cfg.MaxLimit:
			return q, badRequest("limit: %d is over the maximum of %d", *p.Limit, a.cfg.MaxLimit)
		}
		q.Limit = *p.Limit
	}
	if p.Direction != "" {
		d, err := logmodel.ParseDirection(strings.ToLower(p.Direction))
		if err != nil {
			return q, badRequest("direction: %v", err)
		}
		q.Direction = d
	}
	if p.Cursor != "" {
		tok, err := logmodel.ParsePageToken(p.Cursor)
		if err != nil {
			return q, badRequest("cursor: not a next_cursor returned by this API")
		}
		if tok.Direction != q.Direction {
			return q, badRequest("cursor: it continues a %s query, but direction is %s", tok.Direction, q.Direction)
		}
		q.After = &tok
	}
	return q, nil
}

func validLevel(v string) bool {
	for _, l := range levels {
		if v == l {
			return true
		}
	}
	return false
}

// listMatcher matches a label against one value or a comma-separated list:
// no matcher for an empty value, else one.
func listMatcher(name, value string) []logmodel.Matcher {
	value = strings.TrimSpace(value)
	if value == "" {
		return nil
	}
	if !strings.Contains(value, ",") {
		return []logmodel.Matcher{{Type: logmodel.MatchEqual, Name: name, Value: value}}
	}
	var alts []string
	for _, v := range strings.Split(value, ",") {
		if v = strings.TrimSpace(v); v != "" {
			alts = append(alts, regexp.QuoteMeta(v))
		}
	}
	return []logmodel.Matcher{{Type: logmodel.MatchRegexp, Name: name, Value: strings.Join(alts, "|")}}
}

// parseRange reads start_time, end_time and since. Without them the range is
// everything stored; since counts back from end_time (or now).
func (a *API) parseRange(startS, endS, sinceS string) (int64, int64, error) {
	var start, end int64
	if endS != "" {
		t, err := timeparse.ParseTime(endS)
		if err != nil {
			return 0, 0, badRequest("end_time: %v", err)
		}
		end = t.UnixNano()
	}
	if startS != "" {
		t, err := timeparse.ParseTime(startS)
		if err != nil {
			return 0, 0, badRequest("start_time: %v", err)
		}
		start = t.UnixNano()
	}
	if sinceS != "" {
		if startS != "" {
			return 0, 0, badRequest("since: give since or start_time, not both")
		}
		d, err := timeparse.ParsePositive(sinceS)
		if err != nil {
			return 0, 0, badRequest("since: %v", err)
		}
		ref := end
		if ref == 0 {
			ref = a.clock.Now().UnixNano()
		}
		start = ref - int64(d)
	}
	if end != 0 && start >= end {
		return 0, 0, badRequest("start_time: must be before end_time")
	}
	if end == 0 {
		end = math.MaxInt64
	}
	return start, end, nil
}

// getLogs serves GET /api/v1/logs (and /api/v1/logs/).
func (a *API) getLogs(w http.ResponseWriter, r *http.Request) error {
	v := queryOf(r)
	f := filterParams{
		Cluster: v.Get("cluster"), Namespace: v.Get("namespace"), Pod: v.Get("pod"), Container: v.Get("container"),
		Level: v.Get("level"), Search: v.Get("search"), Regex: v.Get("regex"),
	}
	p := pageParams{StartTime: v.Get("start_time"), EndTime: v.Get("end_time"), Since: v.Get("since"), Direction: v.Get("direction"), Cursor: v.Get("cursor")}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return badRequest("limit: %q is not a whole number", s)
		}
		p.Limit = &n
	}
	q, err := a.buildQuery(tenantOf(r), f, p)
	if err != nil {
		return err
	}
	withArchive, err := a.parseIncludeArchive(v.Get("include_archive"))
	if err != nil {
		return err
	}
	page, err := a.query.Logs(r.Context(), q, withArchive)
	if err != nil {
		return err
	}
	return a.answerQuery(w, page)
}

func (a *API) answerQuery(w http.ResponseWriter, p *query.Page) error {
	out := logsResponse{Logs: make([]logmodel.EntryJSON, len(p.Entries)), HasMore: p.HasMore}
	for i := range p.Entries {
		out.Logs[i] = p.Entries[i].ToJSON()
	}
	if p.HasMore {
		out.NextCursor = p.Next.String()
	}
	out.Stats = queryStats{
		ScannedBytes:  p.Stats.RawBytesScanned,
		ScannedLines:  p.Stats.EntriesScanned + p.Stats.HeadEntriesScanned,
		BlocksScanned: p.Stats.BlocksScanned,
		BlocksSkipped: p.Stats.BlocksSkippedBloom,
		TookMs:        float64(p.Took.Microseconds()) / 1000,
		QueryStats:    p.Archive,
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// parseIncludeArchive reads the include_archive parameter.
func (a *API) parseIncludeArchive(s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, badRequest("include_archive: %q is not true or false", s)
	}
	if b && !a.query.HasArchive() {
		return false, badRequest("include_archive: archiving is not configured on this server")
	}
	return b, nil
}

// searchRequest is the body of POST /api/v1/logs/search.
type searchRequest struct {
	Query   string       `json:"query"`
	Filters filterParams `json:"filters"`
	pageParams
	IncludeArchive bool `json:"include_archive"`
}

// postSearch serves POST /api/v1/logs/search.
func (a *API) postSearch(w http.ResponseWriter, r *http.Request) error {
	var req searchRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	q, err := a.buildQuery(tenantOf(r), req.Filters, req.pageParams)
	if err != nil {
		return err
	}
	expr, err := search.Parse(req.Query)
	if err != nil {
		return &Error{Status: http.StatusBadRequest, ID: "invalid_query", Message: "query: " + err.Error()}
	}
	if req.IncludeArchive {
		if _, err := a.parseIncludeArchive("true"); err != nil {
			return err
		}
	}
	p, err := a.query.Search(r.Context(), q, expr, req.IncludeArchive)
	if err != nil {
		return err
	}
	return a.answerQuery(w, p)
}

// listing groups the tenant's streams in a range by the key function.
func (a *API) listing(r *http.Request, matchers []logmodel.Matcher, key func(ls logmodel.Labels) (query.Group, bool)) ([]query.Group, error) {
	v := queryOf(r)
	start, end, err := a.parseRange(v.Get("start_time"), v.Get("end_time"), v.Get("since"))
	if err != nil {
		return nil, err
	}
	matchers = append(matchers, listMatcher("cluster", v.Get("cluster"))...)
	return a.query.Groups(r.Context(), tenantOf(r), matchers, start, end, key)
}

// getNamespaces serves GET /api/v1/logs/namespaces.
func (a *API) getNamespaces(w http.ResponseWriter, r *http.Request) error {
	if id := queryOf(r).Get("cluster_id"); id != "" {
		return a.liveNamespaces(w, r, id)
	}
	out, err := a.listing(r, nil, func(ls logmodel.Labels) (query.Group, bool) {
		ns := ls.Get("namespace")
		return query.Group{Name: ns}, ns != ""
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"namespaces": out, "total": len(out)})
	return nil
}

// getPods serves GET /api/v1/logs/pods?namespace=.
func (a *API) getPods(w http.ResponseWriter, r *http.Request) error {
	if id := queryOf(r).Get("cluster_id"); id != "" {
		return a.livePods(w, r, id)
	}
	out, err := a.listing(r, listMatcher("namespace", queryOf(r).Get("namespace")), func(ls logmodel.Labels) (query.Group, bool) {
		pod := ls.Get("pod")
		return query.Group{Name: pod, Namespace: ls.Get("namespace")}, pod != ""
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"pods": out, "total": len(out)})
	return nil
}

// getContainers serves GET /api/v1/logs/containers?namespace=&pod=.
func (a *API) getContainers(w http.ResponseWriter, r *http.Request) error {
	if id := queryOf(r).Get("cluster_id"); id != "" {
		return a.liveContainers(w, r, id)
	}
	var ms []logmodel.Matcher
	for _, name := range []string{"namespace", "pod"} {
		ms = append(ms, listMatcher(name, queryOf(r).Get(name))...)
	}
	out, err := a.listing(r, ms, func(ls logmodel.Labels) (query.Group, bool) {
		c := ls.Get("container")
		return query.Group{Name: c, Namespace: ls.Get("namespace"), Pod: ls.Get("pod")}, c != ""
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"containers": out, "total": len(out)})
	return nil
}

// statsResponse is the answer of GET /api/v1/logs/stats.
type statsResponse struct {
	StartTime   string            `json:"start_time,omitempty"`
	EndTime     string            `json:"end_time,omitempty"`
	TotalLines  uint64            `json:"total_lines"`
	TotalBytes  uint64            `json:"total_bytes"`
	ByLevel     map[string]uint64 `json:"by_level"`
	ByNamespace map[string]uint64 `json:"by_namespace"`
	TopPods     []query.PodCount  `json:"top_pods"`
	Interval    string            `json:"interval,omitempty"`
	Histogram   []histogramBucket `json:"histogram,omitempty"`
}

type histogramBucket struct {
	Time  string `json:"time"`
	Lines uint64 `json:"lines"`
}

// getStats serves GET /api/v1/logs/stats: counts by level, namespace and the
// top pods over a range, with an optional histogram (interval=1m).
func (a *API) getStats(w http.ResponseWriter, r *http.Request) error {
	v := queryOf(r)
	q, err := a.buildQuery(tenantOf(r), filterParams{Cluster: v.Get("cluster"), Namespace: v.Get("namespace"), Pod: v.Get("pod"), Container: v.Get("container"), Level: v.Get("level")},
		pageParams{StartTime: v.Get("start_time"), EndTime: v.Get("end_time"), Since: v.Get("since")})
	if err != nil {
		return err
	}
	var interval int64
	if s := v.Get("interval"); s != "" {
		d, err := timeparse.ParseDuration(s)
		if err != nil || d < time.Second {
			return badRequest("interval: %q is not a duration of at least 1s", s)
		}
		interval = int64(d)
	}
	top := 10
	if s := v.Get("top"); s != "" {
		if top, err = strconv.Atoi(s); err != nil || top < 1 || top > 1000 {
			return badRequest("top: must be a whole number from 1 to 1000")
		}
	}
	if interval > 0 && q.Start == 0 {
		return badRequest("interval: needs start_time or since, to bound the histogram")
	}
	req := query.StatsRequest{Query: q, Interval: time.Duration(interval), Top: top}
	if interval > 0 {
		end := q.End
		if end == math.MaxInt64 {
			end = a.clock.Now().UnixNano()
		}
		n := (end - q.Start + interval - 1) / interval
		if n > 10_000 {
			return badRequest("interval: %s over this range gives %d buckets; the maximum is 10000", time.Duration(interval), n)
		}
		req.Buckets = int(n)
	}
	st, err := a.query.Stats(r.Context(), req)
	if err != nil {
		return err
	}
	out := statsResponse{TotalLines: st.TotalLines, TotalBytes: st.TotalBytes, ByLevel: st.ByLevel, ByNamespace: st.ByNamespace, TopPods: st.TopPods}
	if q.Start > 0 {
		out.StartTime = logmodel.FormatTime(q.Start)
	}
	if q.End != math.MaxInt64 {
		out.EndTime = logmodel.FormatTime(q.End)
	}
	if interval > 0 {
		out.Interval = time.Duration(interval).String()
		for i, n := range st.Histogram {
			out.Histogram = append(out.Histogram, histogramBucket{Time: logmodel.FormatTime(q.Start + int64(i)*interval), Lines: n})
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getLogMetrics serves GET /api/v1/logs/metrics: the seed's JSON metrics for
// the acting tenant (admins see every tenant with all=true).
func (a *API) getLogMetrics(w http.ResponseWriter, r *http.Request) error {
	v := queryOf(r)
	sinceS := v.Get("since")
	if sinceS == "" {
		sinceS = "5m"
	}
	since, err := timeparse.ParsePositive(sinceS)
	if err != nil {
		return badRequest("since: %v", err)
	}
	var ms []logmodel.Matcher
	for _, f := range []struct{ param, label string }{{"cluster_id", "cluster"}, {"namespace", "namespace"}} {
		ms = append(ms, listMatcher(f.label, v.Get(f.param))...)
	}
	tenants := []string{tenantOf(r)}
	if v.Get("all") == "true" {
		if !info(r).principal.Scopes.Has(auth.ScopeAdmin) {
			return forbidden("all=true needs an admin token")
		}
		tenants = a.query.Tenants()
	}
	now := a.clock.Now().UnixNano()
	type tenantMetrics struct {
		tenantRates
		WindowLines   uint64  `json:"window_lines"`
		WindowBytes   uint64  `json:"window_bytes"`
		WindowRate    float64 `json:"window_lines_per_second"`
		ActiveStreams int     `json:"active_streams"`
		ErrorLines    uint64  `json:"error_lines"`
	}
	out := []tenantMetrics{}
	for _, t := range tenants {
		m := tenantMetrics{tenantRates: a.ingest.snapshot(t)}
		win, err := a.query.Window(r.Context(), t, ms, since, now)
		if err != nil {
			return err
		}
		m.WindowLines, m.WindowBytes, m.ActiveStreams, m.ErrorLines = win.Lines, win.Bytes, win.Streams, win.ErrorLines
		m.WindowRate = float64(m.WindowLines) / since.Seconds()
		out = append(out, m)
	}
	writeJSON(w, http.StatusOK, map[string]any{"since": since.String(), "tenants": out})
	return nil
}

// getStorageInfo serves GET /api/v1/logs/storage/info. The server's path
// and the totals of every tenant are for admin tokens only.
func (a *API) getStorageInfo(w http.ResponseWriter, r *http.Request) error {
	tenant := tenantOf(r)
	s := a.query.Storage(tenant)
	out := map[string]any{
		"tenant":            tenant,
		"bytes":             s.PartBytes,
		"raw_bytes":         s.RawBytes,
		"parts":             s.Parts,
		"entries":           s.Entries,
		"streams":           s.Streams,
		"compression_ratio": s.CompressionRatio,
		"retention":         a.query.Retention(tenant).String(),
		"oldest_time":       timeOrEmpty(s.OldestTime),
		"newest_time":       timeOrEmpty(s.NewestTime),
	}
	if isAdmin(r) {
		all := a.query.Storage("")
		out["path"] = all.Dir
		out["disk"] = map[string]any{
			"part_bytes":    all.PartBytes,
			"wal_bytes":     all.WALBytes,
			"total_bytes":   all.DiskBytes,
			"corrupt_parts": all.CorruptParts,
		}
	}
	if a.archive != nil {
		dests, err := a.archiveStorageInfo(r)
		if err != nil {
			return err
		}
		out["archive_destinations"] = dests
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func timeOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
