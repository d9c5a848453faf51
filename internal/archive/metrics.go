package archive

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the archive's Prometheus metrics.
type metrics struct {
	objects  *prometheus.CounterVec
	lines    *prometheus.CounterVec
	bytes    *prometheus.CounterVec
	jobs     *prometheus.CounterVec
	fetched  *prometheus.CounterVec
	deleted  *prometheus.CounterVec
	duration prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		objects: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kubelog_archive_objects_written_total", Help: "Archive objects uploaded and verified."}, []string{"tenant"}),
		lines:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kubelog_archive_lines_written_total", Help: "Entries written to archive objects."}, []string{"tenant"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kubelog_archive_written_bytes_total",
			Help: "Bytes written to archive objects: raw NDJSON before compression, and compressed."}, []string{"tenant", "kind"}),
		jobs:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kubelog_archive_jobs_total", Help: "Archive jobs ended, by outcome."}, []string{"tenant", "status"}),
		fetched:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kubelog_archive_query_objects_fetched_total", Help: "Archive objects downloaded by queries with include_archive."}, []string{"tenant"}),
		deleted:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kubelog_archive_local_entries_deleted_total", Help: "Local entries deleted after their archive was verified."}, []string{"tenant"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kubelog_archive_job_duration_seconds", Help: "Run time of archive jobs.", Buckets: prometheus.ExponentialBuckets(0.1, 4, 9)}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.objects, m.lines, m.bytes, m.jobs, m.fetched, m.deleted, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
