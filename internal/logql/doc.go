// Package logql implements LogQL, the query language of Grafana Loki:
// ParseExpr turns a query into an Expr (whose String method prints it back
// in canonical form), and an Engine evaluates log queries (QueryLogs) and
// metric queries (QueryInstant, QueryRange) over entries read from a
// Source. Pushdown tells a store which matchers and line filters it can
// apply itself.
//
// # Language
//
// Log queries are a stream selector and a pipeline:
//
//	{app="api", env!="dev", pod=~"api-.*", node!~"n1|n2"}
//	  |= "error" or "fatal" != "timeout" |~ `\d{3}` !~ "debug" |> "<_> GET <_>" !> "<_>health<_>"
//	  |= ip("10.0.0.0/8")
//	  | json | json status="response.status", first="servers[0]", ua=`headers["User-Agent"]`
//	  | logfmt --strict --keep-empty | logfmt host, ip="fwd"
//	  | pattern "<ip> - <_> <method>" | regexp "(?P<method>\\w+) (?P<path>\\S+)" | unpack
//	  | level="error" or (status >= 500 and duration > 1.5s), size < 20MB | addr = ip("10.0.0.0/8")
//	  | line_format "{{.method}} {{.path | lower}}" | label_format dst=src, msg="{{__line__}}"
//	  | drop tmp, level="debug" | keep app, level | decolorize
//
// Line filters with several values joined by "or" keep a line matching any
// value (|=, |~, |>) or drop a line matching any value (!=, !~, !>). Line
// filter regular expressions are not anchored and "." matches newlines;
// |> and !> patterns match the whole line, <_> (or any <name>) standing for
// any text. Label matchers and label filter regular expressions are fully
// anchored. Label filters chain with "and", "or", "," or juxtaposition,
// left to right without precedence (use parentheses). Numeric, duration and
// byte comparisons pass entries that already carry an error, fail entries
// without the label, and pass with __error__="LabelFilterErr" when the
// value does not convert.
//
// Parsers set labels from the line. Field names are sanitized to label
// names (bytes other than letters, digits and "_" become "_"); a name that
// is already a stream label gets the "_extracted" suffix; within one parser
// the first occurrence of a key wins, and a later parser overrides an
// earlier one. json flattens nested objects with "_" and skips arrays;
// logfmt skips keys without values unless --keep-empty or named;
// --strict stops at the first malformed pair with an error. Failures set
// __error__ (JSONParserErr, LogfmtParserErr, TemplateFormatErr,
// LabelFilterErr, SampleExtractionErr) and __error_details__; the entry
// is kept. Structured metadata is visible to the pipeline as labels (with
// the "_extracted" suffix on a clash with a stream label) and appears in
// result labels, as in Loki.
//
// line_format and label_format use Go's text/template with the labels as
// data (a missing label renders as "") and these functions besides the
// built-in ones:
//
//	line and time:   __line__ __timestamp__ now date toDate toDateInZone
//	                 unixEpoch unixEpochMillis unixEpochNanos unixToTime
//	strings:         lower upper title trunc substr replace trim trimAll
//	                 trimPrefix trimSuffix contains hasPrefix hasSuffix repeat
//	                 indent nindent alignLeft alignRight default b64enc
//	                 b64dec urlencode urldecode fromJson
//	Go-style:        ToLower ToUpper Replace Trim TrimLeft TrimRight
//	                 TrimPrefix TrimSuffix TrimSpace
//	regexps:         regexReplaceAll regexReplaceAllLiteral count
//	conversions:     duration duration_seconds bytes int float64
//	arithmetic:      add sub mul div mod max min addf subf mulf divf maxf
//	                 minf ceil floor round
//
// Metric queries aggregate log ranges and combine vectors:
//
//	count_over_time rate bytes_over_time bytes_rate absent_over_time      ({...} | ... [5m] offset 1h)
//	rate rate_counter sum_ avg_ min_ max_ first_ last_ stdvar_ stddev_over_time
//	quantile_over_time(0.99, ...)                                          (| unwrap x, duration(x), bytes(x))
//	sum avg min max stddev stdvar count topk(k, ...) bottomk sort sort_desc  (by/without before or after)
//	+ - * / % ^ == != > >= < <= (bool) and or unless                       (on/ignoring, group_left/group_right)
//	vector(1)  label_replace(v, "dst", "$1", "src", "(.*)")  numbers
//
// Operators bind as in PromQL: ^ (right-associative), then * / %, + -,
// comparisons, and/unless, or. Range aggregations accept by/without
// (they aggregate across the series of a group); absent_over_time does not.
// A metric query fails with a *PipelineError when a sample carries
// __error__, unless a string label filter on __error__ accepted that error:
// | __error__="" drops errored lines, | __error__!="" keeps (and counts)
// only them; put the filter after unwrap for conversion errors. A range
// aggregation's by() keeps the error labels of such samples. An unwrapped
// label is removed from the sample's labels; entries without the label
// give no sample.
//
// # Evaluation
//
// A range aggregation at step t looks at the entries with timestamps in
// (t-offset-range, t-offset]. Range queries are evaluated at start,
// start+step, ... up to end, without aligning start to the step. Work is
// spread over the Source's workers, each with its own accumulators, which
// are merged at the end; sums (count_over_time, rate, bytes_*,
// sum_over_time, unwrapped rate) are accumulated per set of windows rather
// than per entry, and a sum by (...) over them is applied while scanning,
// where parsers then extract only the labels the query uses.
//
// Not supported: subqueries, the offset modifier outside range
// aggregations, approx_topk, quoted label names, and comparisons of
// strings with > or <.
package logql
