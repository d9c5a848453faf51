package collector

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a stream reconnects, the values of the "reason" label.
const (
	reasonError    = "error"
	reasonIdle     = "idle"
	reasonLifetime = "lifetime"
	reasonRefresh  = "refresh"
)

var reconnectReasons = []string{reasonError, reasonIdle, reasonLifetime, reasonRefresh}

// metricsCollector exports the Manager's figures at scrape time, per tenant
// and cluster name.
type metricsCollector struct{ m *Manager }

var (
	labelNames  = []string{"tenant", "cluster"}
	linesDesc   = prometheus.NewDesc("kubelog_collector_lines_total", "Log lines collected from Kubernetes and stored.", labelNames, nil)
	bytesDesc   = prometheus.NewDesc("kubelog_collector_bytes_total", "Log line bytes collected from Kubernetes and stored.", labelNames, nil)
	streamsDesc = prometheus.NewDesc("kubelog_collector_streams_active", "Container log streams reading (not waiting for a slot).", labelNames, nil)
	podsDesc    = prometheus.NewDesc("kubelog_collector_pods_watched", "Pods in the cluster's pod informer.", labelNames, nil)
	upDesc      = prometheus.NewDesc("kubelog_collector_cluster_reachable", "1 when the last request to the API server succeeded.", labelNames, nil)
	reconnDesc  = prometheus.NewDesc("kubelog_collector_stream_reconnects_total", "Log stream reconnections by reason (error, idle, lifetime, refresh).",
		append(labelNames, "reason"), nil)
)

// Describe implements prometheus.Collector.
func (mc metricsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{linesDesc, bytesDesc, streamsDesc, podsDesc, upDesc, reconnDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (mc metricsCollector) Collect(ch chan<- prometheus.Metric) {
	mc.m.mu.Lock()
	cs := make([]*clusterCollector, 0, len(mc.m.clusters))
	for _, c := range mc.m.clusters {
		cs = append(cs, c)
	}
	mc.m.mu.Unlock()
	for _, c := range cs {
		st := c.status()
		lv := []string{c.spec.Tenant, c.spec.Name}
		up := 0.0
		if st.Reachable {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(linesDesc, prometheus.CounterValue, float64(st.LinesCollected), lv...)
		ch <- prometheus.MustNewConstMetric(bytesDesc, prometheus.CounterValue, float64(st.BytesCollected), lv...)
		ch <- prometheus.MustNewConstMetric(streamsDesc, prometheus.GaugeValue, float64(st.StreamsActive), lv...)
		ch <- prometheus.MustNewConstMetric(podsDesc, prometheus.GaugeValue, float64(st.PodsWatched), lv...)
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, up, lv...)
		for i, reason := range reconnectReasons {
			ch <- prometheus.MustNewConstMetric(reconnDesc, prometheus.CounterValue, float64(c.reconnects[i].Load()), append(lv, reason)...)
		}
	}
}
