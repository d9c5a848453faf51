package httpapi

import (
	"strconv"
	"sync"
	"time"

	"github.com/kubelog/kubelog/internal/query"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"
)

// apiMetrics are the API's Prometheus metrics.
type apiMetrics struct {
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	rateLimited  *prometheus.CounterVec
	ingestLines  *prometheus.CounterVec
	ingestBytes  *prometheus.CounterVec
	ingestErrors *prometheus.CounterVec
}

func newAPIMetrics(reg prometheus.Registerer, q *query.Engine) (*apiMetrics, error) {
	m := &apiMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubelog_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kubelog_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubelog_http_rate_limited_requests_total", Help: "Requests refused by a rate limit.",
		}, []string{"tenant", "class"}),
		ingestLines: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubelog_ingest_lines_total", Help: "Log lines accepted.",
		}, []string{"tenant"}),
		ingestBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubelog_ingest_bytes_total", Help: "Log line bytes accepted.",
		}, []string{"tenant"}),
		ingestErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubelog_ingest_rejected_lines_total", Help: "Log lines rejected at ingest.",
		}, []string{"tenant"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.rateLimited, m.ingestLines, m.ingestBytes, m.ingestErrors, &storeCollector{q: q}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *apiMetrics) observe(route string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}

// storeCollector exports the store's figures at scrape time.
type storeCollector struct{ q *query.Engine }

var (
	storeDescs = map[string]*prometheus.Desc{
		"parts":        prometheus.NewDesc("kubelog_store_parts", "Parts on disk.", nil, nil),
		"entries":      prometheus.NewDesc("kubelog_store_entries", "Entries stored, in parts and head.", nil, nil),
		"streams":      prometheus.NewDesc("kubelog_store_streams", "Streams known.", nil, nil),
		"disk":         prometheus.NewDesc("kubelog_store_disk_bytes", "Bytes on disk (parts and WAL).", nil, nil),
		"raw":          prometheus.NewDesc("kubelog_store_raw_bytes", "Raw line bytes stored.", nil, nil),
		"ratio":        prometheus.NewDesc("kubelog_store_compression_ratio", "Raw bytes over part bytes.", nil, nil),
		"head":         prometheus.NewDesc("kubelog_store_head_entries", "Entries in the in-memory head.", nil, nil),
		"corrupt":      prometheus.NewDesc("kubelog_store_corrupt_parts_total", "Parts set aside as corrupt.", nil, nil),
		"wal_errors":   prometheus.NewDesc("kubelog_store_wal_errors_total", "WAL write or fsync failures.", nil, nil),
		"torn":         prometheus.NewDesc("kubelog_store_wal_torn_tails_total", "Torn WAL tails cut at startup.", nil, nil),
		"flushes":      prometheus.NewDesc("kubelog_store_flushes_total", "Heads flushed to parts.", nil, nil),
		"merges":       prometheus.NewDesc("kubelog_store_merges_total", "Part merges.", nil, nil),
		"flushwaits":   prometheus.NewDesc("kubelog_store_flush_waits_total", "Times appends were held back until a head was flushed.", nil, nil),
		"flushwaited":  prometheus.NewDesc("kubelog_store_flush_wait_seconds_total", "Time appends were held back until a head was flushed.", nil, nil),
		"retention":    prometheus.NewDesc("kubelog_store_retention_deleted_parts_total", "Parts deleted by retention.", nil, nil),
		"appended":     prometheus.NewDesc("kubelog_store_appended_entries_total", "Entries appended since start.", nil, nil),
		"appendedsize": prometheus.NewDesc("kubelog_store_appended_bytes_total", "Line bytes appended since start.", nil, nil),
	}
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range storeDescs {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.q.Storage("")
	g := func(k string, v float64) {
		ch <- prometheus.MustNewConstMetric(storeDescs[k], prometheus.GaugeValue, v)
	}
	n := func(k string, v float64) {
		ch <- prometheus.MustNewConstMetric(storeDescs[k], prometheus.CounterValue, v)
	}
	g("parts", float64(s.Parts))
	g("entries", float64(s.Entries))
	g("streams", float64(s.Streams))
	g("disk", float64(s.DiskBytes))
	g("raw", float64(s.RawBytes))
	g("ratio", s.CompressionRatio)
	g("head", float64(s.HeadEntries))
	n("corrupt", float64(s.CorruptParts))
	n("wal_errors", float64(s.WALErrors))
	n("torn", float64(s.WALTornTails))
	n("flushes", float64(s.Flushes))
	n("merges", float64(s.Merges))
	n("flushwaits", float64(s.FlushWaits))
	n("flushwaited", s.FlushWaitSeconds)
	n("retention", float64(s.RetentionParts))
	n("appended", float64(s.AppendedEntries))
	n("appendedsize", float64(s.AppendedBytes))
}

// ingestMeter keeps per-tenant ingest counters and a one-minute window of
// per-second counts, for the JSON metrics endpoint.
type ingestMeter struct {
	clock clock.PassiveClock

	mu      sync.Mutex // guards tenants
	tenants map[string]*tenantMeter
}

type tenantMeter struct {
	lines, bytes, rejected, failedPushes, rateLimited uint64
	window                                            [60]secondCount
}

type secondCount struct {
	sec          int64
	lines, bytes uint64
}

func newIngestMeter(clk clock.PassiveClock) *ingestMeter {
	return &ingestMeter{clock: clk, tenants: make(map[string]*tenantMeter)}
}

func (m *ingestMeter) tenant(name string) *tenantMeter {
	t := m.tenants[name]
	if t == nil {
		t = &tenantMeter{}
		m.tenants[name] = t
	}
	return t
}

func (m *ingestMeter) accepted(tenant string, lines, bytes int) {
	sec := m.clock.Now().Unix()
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tenant(tenant)
	t.lines += uint64(lines)
	t.bytes += uint64(bytes)
	w := &t.window[sec%60]
	if w.sec != sec {
		*w = secondCount{sec: sec}
	}
	w.lines += uint64(lines)
	w.bytes += uint64(bytes)
}

func (m *ingestMeter) rejected(tenant string, lines int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tenant(tenant).rejected += uint64(lines)
}

func (m *ingestMeter) failedPush(tenant string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tenant(tenant).failedPushes++
}

func (m *ingestMeter) rateLimited(tenant string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tenant(tenant).rateLimited++
}

// tenantRates is one tenant's figures for the JSON metrics endpoint.
type tenantRates struct {
	Tenant               string  `json:"tenant"`
	IngestLinesPerSecond float64 `json:"ingest_lines_per_second"`
	IngestBytesPerSecond float64 `json:"ingest_bytes_per_second"`
	LinesSinceStart      uint64  `json:"lines_since_start"`
	BytesSinceStart      uint64  `json:"bytes_since_start"`
	RejectedLines        uint64  `json:"rejected_lines"`
	FailedPushes         uint64  `json:"failed_pushes"`
	RateLimitedRequests  uint64  `json:"rate_limited_requests"`
}

// snapshot returns a tenant's figures, with rates over the last minute.
func (m *ingestMeter) snapshot(tenant string) tenantRates {
	now := m.clock.Now().Unix()
	m.mu.Lock()
	defer m.mu.Unlock()
	r := tenantRates{Tenant: tenant}
	t := m.tenants[tenant]
	if t == nil {
		return r
	}
	r.LinesSinceStart, r.BytesSinceStart = t.lines, t.bytes
	r.RejectedLines, r.FailedPushes, r.RateLimitedRequests = t.rejected, t.failedPushes, t.rateLimited
	var lines, bytes uint64
	for _, w := range t.window {
		if w.sec > now-60 && w.sec <= now {
			lines += w.lines
			bytes += w.bytes
		}
	}
	r.IngestLinesPerSecond = float64(lines) / 60
	r.IngestBytesPerSecond = float64(bytes) / 60
	return r
}
